import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official.layers import StochasticDepth


def test_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(8, 4, 4, 3)).astype("float32")
    layer = StochasticDepth(0.5)
    np.testing.assert_array_equal(to_numpy(layer(x)), x)
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)), x)


def test_training_drops_whole_samples_and_preserves_the_mean():
    rate = 0.3
    layer = StochasticDepth(rate, seed=7)
    x = np.ones((20000, 2, 2, 1), "float32")
    y = to_numpy(layer(x, training=True))
    per_sample = y.reshape(len(y), -1)
    # Each sample is either dropped (0) or kept and scaled by 1/(1-rate), never mixed.
    assert np.all(
        (per_sample == 0).all(axis=1) | np.isclose(per_sample, 1 / (1 - rate)).all(axis=1)
    )
    dropped = (per_sample == 0).all(axis=1).mean()
    assert abs(dropped - rate) < 0.02  # 20000 Bernoulli(0.3): std 0.0032
    assert abs(y.mean() - 1.0) < 0.03  # the expected value is preserved
    y2 = to_numpy(layer(x, training=True))
    assert not np.array_equal(y, y2)  # a fresh mask per call


@pytest.mark.parametrize("rate", [-0.1, 1.0])
def test_rejects_rates_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        StochasticDepth(rate)


def test_config_round_trip():
    layer = StochasticDepth(0.2, seed=3, name="sd")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert (clone.rate, clone.seed, clone.name) == (0.2, 3, "sd")
