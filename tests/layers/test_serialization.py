"""get_config / from_config for every custom layer the library registers."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official.layers import SqueezeExcite, StandardizedConv2D, StochasticDepth
from official.layers.activations import ScaledActivation, SkipInitGain
from official.layers.channel_shuffle import ChannelShuffle
from official.layers.resize_like import ResizeLike
from official.layers.self_gating import SelfGating
from official.layers.split_attention import RadixPool, SplitAttention

LAYERS = [
    (StandardizedConv2D, dict(filters=4, kernel_size=3, scaled=True, eps=1e-3), (1, 6, 6, 3)),
    (SqueezeExcite, dict(reduced_filters=2, activation="swish", gain=2.0), (1, 4, 4, 8)),
    (StochasticDepth, dict(rate=0.3, seed=5), (2, 4, 4, 3)),
    (ScaledActivation, dict(activation="gelu", scale=0.5), (2, 3)),
    (SkipInitGain, dict(initial_value=0.5), (2, 3)),
    (RadixPool, dict(radix=2), (1, 4, 4, 8)),
    (ChannelShuffle, dict(groups=4), (1, 2, 2, 8)),
    (SelfGating, dict(), (2, 3, 4, 4, 8)),
]


@pytest.mark.parametrize("cls,kwargs,shape", LAYERS, ids=lambda v: getattr(v, "__name__", ""))
def test_config_round_trip_and_same_output(cls, kwargs, shape):
    layer = cls(**kwargs, name="layer")
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    y = to_numpy(layer(x))
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is cls and clone.get_config() == layer.get_config()
    if not clone.built:  # deserialization builds layers whose config records a build shape
        clone.build(shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(clone(x)), y, rtol=1e-6)


def test_resize_like_round_trip():
    layer = ResizeLike(name="up")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    x = np.random.default_rng(0).normal(size=(1, 3, 3, 2)).astype("float32")
    ref = np.zeros((1, 6, 5, 7), "float32")
    assert to_numpy(clone([x, ref])).shape == (1, 6, 5, 2)
    np.testing.assert_allclose(to_numpy(clone([x, ref])), to_numpy(layer([x, ref])))


def test_split_attention_round_trip():
    layer = SplitAttention(radix=2, cardinality=2, name="sa")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert (clone.radix, clone.cardinality) == (2, 2)
    splits = np.random.default_rng(0).normal(size=(1, 3, 3, 8)).astype("float32")
    logits = np.random.default_rng(1).normal(size=(1, 1, 1, 8)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(clone([splits, logits])), to_numpy(layer([splits, logits])), rtol=1e-6
    )


def test_unknown_nf_activation_is_rejected():
    with pytest.raises(ValueError, match="activation='tanh'; NF networks support"):
        ScaledActivation("tanh")
