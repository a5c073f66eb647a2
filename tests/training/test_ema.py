import keras
import numpy as np
import pytest

from official import models
from official.training.ema import ModelEMA


def test_average_of_weights_and_bn_statistics_equals_hand_computation():
    model = models.get("resnet18", width_multiplier=0.25, num_classes=3, input_shape=(16, 16, 3))
    tracked = {
        "kernel": model.get_layer("stem_conv1").kernel,
        "moving_mean": model.get_layer("stem_bn1").moving_mean,
        "moving_variance": model.get_layer("stage2_block1_bn1").moving_variance,
    }
    decay = 0.9
    ema = ModelEMA(model, decay)
    expected = {k: np.asarray(v).copy() for k, v in tracked.items()}
    rng = np.random.default_rng(0)
    for t in range(4):
        for v in tracked.values():
            v.assign(rng.normal(size=v.shape).astype("float32"))
        d = min(decay, (1 + t) / (10 + t))  # num_updates warm-up: 0.1, 0.18, 0.25, 0.31
        for k, v in tracked.items():
            expected[k] = d * expected[k] + (1 - d) * np.asarray(v)
        ema.update()
    shadows = dict(zip([v.path for v in ema._model_variables], ema.shadows, strict=True))
    for k, v in tracked.items():
        np.testing.assert_allclose(np.asarray(shadows[v.path]), expected[k], rtol=1e-5, atol=1e-6)

    current = {k: np.asarray(v).copy() for k, v in tracked.items()}
    with ema.swapped():
        for k, v in tracked.items():
            np.testing.assert_allclose(np.asarray(v), expected[k], rtol=1e-5, atol=1e-6)
    for k, v in tracked.items():
        np.testing.assert_array_equal(np.asarray(v), current[k])


def test_seed_state_is_not_averaged():
    model = models.get(
        "resnetrs50",
        width_multiplier=0.25,
        block_repeats=(1, 1, 1, 1),
        stochastic_depth_rate=0.2,
        num_classes=3,
        input_shape=(16, 16, 3),
    )
    ema = ModelEMA(model, 0.99)
    assert all("seed_generator" not in v.path for v in ema._model_variables)
    assert len(ema._model_variables) == len(model.weights) - sum(
        "seed_generator" in v.path for v in model.weights
    )
    assert any("moving_mean" in v.path for v in ema._model_variables)


@pytest.mark.usefixtures("mixed_bfloat16")
def test_shadows_are_float32_under_mixed_precision():
    model = models.get("resnet18", width_multiplier=0.25, num_classes=3, input_shape=(16, 16, 3))
    ema = ModelEMA(model, 0.9)
    assert {s.dtype.name for s in ema.shadows} == {"float32"}
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"


@pytest.mark.usefixtures("float64")
def test_float64_weights_average_in_float64():
    model = models.get("resnet18", width_multiplier=0.25, num_classes=3, input_shape=(8, 8, 3))
    kernel = model.get_layer("stem_conv1").kernel
    ema = ModelEMA(model, 0.9)
    start = np.asarray(kernel).copy()
    kernel.assign(start + 1.0)
    ema.update()  # the first decay is min(0.9, 1/10): the shadow moves 0.9 of the way
    shadows = dict(zip([v.path for v in ema._model_variables], ema.shadows, strict=True))
    shadow = shadows[kernel.path]
    assert shadow.dtype == "float64"
    np.testing.assert_allclose(np.asarray(shadow), start + 0.9, rtol=0, atol=1e-12)
