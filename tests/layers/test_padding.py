"""The padding conventions (official/layers/padding.py) and the NFNet WS / GELU switches."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official.layers import StandardizedConv2D
from official.layers.activations import GAMMAS, ScaledActivation
from official.layers.padding import max_pool, pad_for_window


def _max_pool_numpy(x, pads):
    """3x3/2 max pool with explicit (before, after) zero padding, by loops."""
    x = np.pad(x, ((0, 0), pads, pads, (0, 0)))
    out = (x.shape[1] - 3) // 2 + 1
    result = np.zeros((x.shape[0], out, out, x.shape[3]), x.dtype)
    for i in range(out):
        for j in range(out):
            result[:, i, j] = x[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max(axis=(1, 2))
    return result


@pytest.mark.parametrize("padding,pads", [("tf", (0, 1)), ("symmetric", (1, 1))])
def test_max_pool_pads_as_its_convention_says_on_an_even_input(padding, pads):
    x = np.random.default_rng(0).uniform(size=(2, 8, 8, 3)).astype("float32")  # after a ReLU
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, max_pool(inputs, 3, 2, padding, name="pool"))
    np.testing.assert_allclose(model(x), _max_pool_numpy(x, pads), rtol=1e-6)


def test_symmetric_strided_conv_equals_pytorch_padding():
    x = np.random.default_rng(1).normal(size=(1, 8, 8, 4)).astype("float32")
    kernel = np.random.default_rng(2).normal(size=(5, 5, 4, 1)).astype("float32")
    inputs = keras.Input((8, 8, 4))
    padded, keras_padding = pad_for_window(inputs, 5, 2, "symmetric", name="dw")
    conv = keras.layers.DepthwiseConv2D(5, 2, padding=keras_padding, use_bias=False)
    model = keras.Model(inputs, conv(padded))
    conv.set_weights([kernel])
    expected = tf.nn.depthwise_conv2d(
        np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0))), kernel, (1, 2, 2, 1), "VALID"
    )
    np.testing.assert_allclose(to_numpy(model(x)), expected, rtol=1e-5, atol=1e-5)
    assert pad_for_window(inputs, 3, 1, "symmetric", name="x")[1] == "same"  # stride 1: no layer
    with pytest.raises(ValueError, match="padding='torch' is not a known convention"):
        pad_for_window(inputs, 3, 2, "torch", name="x")


def test_scaled_ws_with_eps_added_to_the_variance():
    kernel = np.random.default_rng(3).normal(size=(3, 3, 6, 4)).astype("float32") * 1e-3
    conv = StandardizedConv2D(4, 3, scaled=True, eps=1e-5, eps_mode="add")
    conv.build((None, 8, 8, 6))
    conv.kernel.assign(kernel)
    fan_in = 3 * 3 * 6
    mean, var = kernel.mean((0, 1, 2)), kernel.var((0, 1, 2))
    expected = (kernel - mean) / np.sqrt((var + 1e-5) * fan_in)  # timm ScaledStdConv2d
    np.testing.assert_allclose(to_numpy(conv.standardized_kernel()), expected, rtol=1e-4)
    default = StandardizedConv2D(4, 3, scaled=True, eps=1e-5)
    default.build((None, 8, 8, 6))
    default.kernel.assign(kernel)
    deepmind = (kernel - mean) / np.sqrt(np.maximum(var * fan_in, 1e-5))
    np.testing.assert_allclose(to_numpy(default.standardized_kernel()), deepmind, rtol=1e-4)
    assert not np.allclose(deepmind, expected, rtol=1e-2)  # small kernels tell them apart
    clone = StandardizedConv2D.from_config(conv.get_config())
    assert clone.eps_mode == "add"
    with pytest.raises(ValueError, match="eps_mode='min' is not known"):
        StandardizedConv2D(4, 3, scaled=True, eps_mode="min")


def test_gelu_exact_is_the_erf_form_with_the_released_gamma():
    x = np.linspace(-4, 4, 41).astype("float32")
    exact = 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))
    got = ScaledActivation("gelu_exact")(x)
    np.testing.assert_allclose(got, GAMMAS["gelu"] * exact, rtol=1e-5, atol=1e-6)
    tanh_form = to_numpy(ScaledActivation("gelu")(x))
    assert np.abs(tanh_form - to_numpy(got)).max() > 1e-5
