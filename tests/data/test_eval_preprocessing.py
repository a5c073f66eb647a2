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


def test_a_runs_own_normalization_is_stored_applied_and_read_back():
    """data.mean_rgb / data.stddev_rgb (fine-tuned from weights trained with other statistics):
    the training and eval pipelines, the record and its JSON all normalize with them."""
    from official.data import pipeline

    config = recipes.get("sample").data
    config.mean_rgb, config.stddev_rgb = [127.5] * 3, [127.5, 100.0, 64.0]
    stored = EvalPreprocessing.from_config(config)
    assert stored.mean_std() == ((127.5,) * 3, (127.5, 100.0, 64.0))
    text = stored.to_json()
    assert json.loads(text)["normalization"] == "given"
    assert EvalPreprocessing.from_json(text, "x") == stored

    data = tf.constant(_jpeg())
    crop = preprocess.crop_for_eval(data, 32, 0, "tf2").numpy()
    expected = (crop - 127.5) / np.array([127.5, 100.0, 64.0])
    np.testing.assert_allclose(stored(data).numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(pipeline.eval_preprocess_fn(config)(data), stored(data))
    # training: the same statistics after the random crop
    train = pipeline.train_preprocess_fn(config, 0)(data, tf.constant(0, tf.int64)).numpy()
    pixels = train * np.array([127.5, 100.0, 64.0]) + 127.5
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-3)  # uint8 crops, un-normalized
    assert 0 <= pixels.min() and pixels.max() <= 255


def test_a_given_normalization_must_be_three_values_with_a_positive_std():
    record = json.loads(EvalPreprocessing(32, 0, "tf2", (1.0, 2.0, 3.0), (1.0, 1.0, 1.0)).to_json())
    record["stddev_rgb"] = [0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"^m.json: not a preprocessing record .*must be > 0"):
        EvalPreprocessing.from_json(json.dumps(record), "m.json")
    with pytest.raises(ValueError, match="is not three finite values"):
        EvalPreprocessing(32, 0, "tf2", (1.0, 2.0), (1.0, 1.0))
