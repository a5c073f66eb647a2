import keras
import numpy as np
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official.layers import SqueezeExcite, se_filters


def test_se_filters():
    assert se_filters(256, 1 / 16) == 16
    assert se_filters(256, 0.25) == 64
    assert se_filters(3, 0.25) == 1


def test_matches_numpy_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 5, 8)).astype("float32")
    se = SqueezeExcite(2)
    y = to_numpy(se(x))
    w1, b1 = (to_numpy(v) for v in se.reduce.weights)
    w2, b2 = (to_numpy(v) for v in se.expand.weights)
    s = np.maximum(x.mean(axis=(1, 2)) @ w1 + b1, 0) @ w2 + b2
    gate = 1 / (1 + np.exp(-s))
    np.testing.assert_allclose(y, x * gate[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_parameter_count_is_two_1x1_convs_with_bias():
    se = SqueezeExcite(4)
    se.build((None, 7, 7, 32))
    assert sum(int(np.prod(w.shape)) for w in se.trainable_weights) == 32 * 4 + 4 + 4 * 32 + 32


def test_works_on_video_tensors():
    x = np.ones((1, 2, 3, 3, 6), "float32")
    assert SqueezeExcite(2)(x).shape == x.shape


def test_config_round_trip():
    se = SqueezeExcite(3, activation="swish", name="se")
    clone = keras.layers.deserialize(keras.layers.serialize(se))
    assert (clone.reduced_filters, clone.activation, clone.name) == (3, "swish", "se")
