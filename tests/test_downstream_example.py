"""docs/examples/segment_on_frozen_backbone.py (docs/downstream.md), run small: a timm file
converted by the CLI, its ResNet-18 as a frozen feature backbone, a segmentation head trained
with model.fit. The backbone's weights and BN statistics come out bit-identical to the converted
file's, and the head learns (the toy masks are learnable from the pixels: loss falls)."""

import importlib.util
import os

import numpy as np
import pytest

from official import models
from official.weights.__main__ import main as convert_cli
from tests.weights.conftest import random_state_dict, write_safetensors

EXAMPLE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "docs", "examples", "segment_on_frozen_backbone.py"
)


def _example():
    spec = importlib.util.spec_from_file_location("segment_on_frozen_backbone", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # a conversion and a model.fit
def test_the_segmentation_example_trains_a_head_on_the_frozen_converted_backbone(tmp_path):
    timm_file = write_safetensors(tmp_path, "resnet18", random_state_dict("resnet18"))
    converted = str(tmp_path / "resnet18.weights.h5")
    convert_cli(
        ["convert", "--source=timm", f"--file={timm_file}", "--model=resnet18"]
        + [f"--out={converted}"]
    )
    example = _example()
    model, history = example.train("resnet18", converted, size=64, images=32, epochs=4, batch=8)

    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    x, _ = example.toy_segmentation_set(2, 64, seed=1)
    assert model.predict_on_batch(x).shape == (2, 64, 64, len(example.CLASSES))

    # The frozen backbone after model.fit holds exactly the converted weights, moving
    # statistics included: every one of its variables equals the classifier's of that file.
    backbone = model.get_layer("resnet18")
    classifier = models.get_converted(converted)
    for variable in backbone.weights:
        layer, name = variable.path.rsplit("/", 1)
        source = {w.path.rsplit("/", 1)[-1]: w for w in classifier.get_layer(layer).weights}
        np.testing.assert_array_equal(np.asarray(variable), np.asarray(source[name]))
