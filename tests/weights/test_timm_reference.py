"""Our converted models against timm itself: timm's logits and features_only outputs, recorded
by tests/weights/record_timm_reference.py (timm 1.0.31) for the weights and input of
tests/weights/reference_weights.py, equal ours from the same tensors (rel < 1e-4): the numeric
check that a swapped BN gamma/beta, a dropped bias or a feature taken at the wrong layer fails.
Features also match timm's channels and reductions, key P<log2 reduction>."""

import functools
import gzip
import json
import os

import numpy as np
import pytest

from official import models
from official.weights.timm_names import TIMM_NAMES
from tests.weights import reference_weights
from tests.weights.conftest import write_safetensors

REFERENCE = os.path.join(os.path.dirname(__file__), "timm_reference.json.gz")
OURS = {timm: ours for ours, pairs in TIMM_NAMES.items() for timm, _ in pairs}
FAST = {"resnet18", "tf_efficientnet_b0"}


@functools.cache
def _reference() -> dict:
    with gzip.open(REFERENCE, "rt") as f:
        return json.load(f)


def _names():
    return [
        n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in _reference()["models"]
    ]


@pytest.mark.parametrize("timm_name", _names())
def test_logits_and_features_equal_timms(timm_name, tmp_path):
    reference = _reference()
    expected = reference["models"][timm_name]
    size = reference["size"]
    path = write_safetensors(tmp_path, timm_name, reference_weights.state_dict(timm_name))
    x = reference_weights.image(size)
    ours = OURS[timm_name]

    logits = np.asarray(models.get(ours, weights=path, input_shape=(size, size, 3))(x))[0]
    want = np.asarray(expected["logits"])
    assert np.abs(logits - want).max() / np.abs(want).max() < 1e-4

    backbone = models.get(ours, weights=path, features_only=True, input_shape=(size, size, 3))
    features = backbone(x)
    info = models.feature_info(backbone)
    assert [(i["channels"], i["reduction"]) for i in info] == [
        (f["channels"], f["reduction"]) for f in expected["features"]
    ]
    for entry, want in zip(info, expected["features"], strict=True):
        assert entry["key"] == f"P{int(np.log2(want['reduction']))}"
        got = np.asarray(features[entry["key"]])
        assert list(got.shape) == want["shape"]
        sums, _ = reference_weights.projections(got)
        # a per-element relative error e moves projection k by about e x its scale
        error = np.abs(sums - np.asarray(want["projections"])) / np.asarray(want["scales"])
        assert error.max() < 1e-4, (entry["key"], error.max())
