"""The eval preprocessing stored with every model (official/data/eval_preprocessing.py)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from official.configs import recipes
from official.data import preprocess
from official.data.eval_preprocessing import EvalPreprocessing
from tests.data.conftest import encode


def _jpeg():
    ramp = np.linspace(0, 255, 48)[None, :, None] * np.ones((40, 1, 3))
    noise = np.random.default_rng(0).normal(0, 25, (40, 48, 3))
    return encode(np.clip(ramp + noise, 0, 255).astype(np.uint8))


def test_a_recipe_with_the_official_ops_stores_and_applies_them():
    stored = EvalPreprocessing.from_config(recipes.get("resnetrs50_i160").data)
    assert stored == EvalPreprocessing(160, 32, "official_tpu")
    record = json.loads(stored.to_json())
    # 255 x torchvision's mean and std, worked out by hand
    np.testing.assert_allclose(record["mean_rgb"], [123.675, 116.28, 103.53])
    np.testing.assert_allclose(record["stddev_rgb"], [58.395, 57.12, 57.375])
    assert EvalPreprocessing.from_json(stored.to_json(), "x") == stored

    data = tf.constant(_jpeg())
    small = EvalPreprocessing(32, 0, "official_tpu")
    expected = preprocess.preprocess_for_eval(data, 32, tf.float32, 0, "official_tpu")
    np.testing.assert_array_equal(small(data).numpy(), expected.numpy())
    tf2 = EvalPreprocessing(32, 0, "tf2")(data).numpy()
    assert np.abs(tf2 - expected.numpy()).max() > 1e-3  # the setting makes a difference


def test_a_record_from_another_library_version_is_refused():
    record = json.loads(EvalPreprocessing(224, 32, "tf2").to_json())
    record["mean_rgb"] = [124.0, 116.0, 104.0]
    with pytest.raises(ValueError, match=r"^m.json: mean_rgb \[124.0, 116.0, 104.0\] differs "):
        EvalPreprocessing.from_json(json.dumps(record), "m.json")
    with pytest.raises(ValueError, match=r"^m.json: not a preprocessing record"):
        EvalPreprocessing.from_json('{"image_size": 224}', "m.json")
    with pytest.raises(ValueError, match="preprocessing 'pil'; use one of"):
        EvalPreprocessing(224, 32, "pil")
