import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.ops import convert_to_numpy as to_numpy  # (torch tensors that require grad)

from official.layers import StandardizedConv2D


def _numpy_standardize(kernel, eps):
    mean = kernel.mean(axis=(0, 1, 2), keepdims=True)
    var = kernel.var(axis=(0, 1, 2), keepdims=True)
    return (kernel - mean) / np.sqrt(var + eps)


def test_standardized_kernel_has_zero_mean_unit_variance_per_output_channel():
    conv = StandardizedConv2D(8, 3)
    conv.build((None, 6, 6, 5))
    conv.kernel.assign(np.random.default_rng(0).normal(2.0, 3.0, size=(3, 3, 5, 8)))
    w = to_numpy(conv.standardized_kernel())
    np.testing.assert_allclose(w.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(w.var(axis=(0, 1, 2)), 1.0, atol=1e-4)


def test_convolution_uses_the_standardized_kernel():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 6, 5)).astype("float32")
    kernel = rng.normal(1.0, 2.0, size=(3, 3, 5, 8)).astype("float32")
    conv = StandardizedConv2D(8, 3, padding="same", use_bias=False)
    conv.build(x.shape)
    conv.kernel.assign(kernel)
    expected = tf.nn.conv2d(x, _numpy_standardize(kernel, 1e-5), 1, "SAME")
    np.testing.assert_allclose(to_numpy(conv(x)), expected.numpy(), atol=1e-4)
    # The stored variable stays raw; only the kernel used is standardized.
    np.testing.assert_array_equal(to_numpy(conv.kernel), kernel)


def test_scaled_variant_has_unit_variance_times_fan_in_and_a_gain():
    conv = StandardizedConv2D(4, 3, scaled=True)
    conv.build((None, 8, 8, 6))
    assert conv.eps == 1e-4 and conv.use_bias
    conv.kernel.assign(np.random.default_rng(2).normal(size=(3, 3, 6, 4)))
    conv.gain.assign([1.0, 2.0, 0.5, 1.0])
    w = to_numpy(conv.standardized_kernel())
    fan_in = 3 * 3 * 6
    np.testing.assert_allclose(w.mean(axis=(0, 1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(w.var(axis=(0, 1, 2)) * fan_in, [1.0, 4.0, 0.25, 1.0], rtol=1e-3)


def test_config_round_trip():
    conv = StandardizedConv2D(4, 3, scaled=True, eps=1e-3, name="ws")
    clone = StandardizedConv2D.from_config(conv.get_config())
    assert (clone.filters, clone.scaled, clone.eps, clone.name) == (4, True, 1e-3, "ws")


@pytest.mark.usefixtures("mixed_bfloat16")
def test_runs_under_mixed_bfloat16():
    conv = StandardizedConv2D(4, 3)
    y = conv(np.ones((1, 5, 5, 3), "float32"))
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16" and conv.kernel.dtype == "float32"
    assert np.all(np.isfinite(to_numpy(keras.ops.cast(y, "float32"))))


def test_scaled_gain_survives_a_keras_file(tmp_path):
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, StandardizedConv2D(4, 3, scaled=True, name="ws")(inputs))
    model.get_layer("ws").gain.assign([0.5, 1.5, 2.0, 3.0])
    model.save(tmp_path / "ws.keras")
    restored = keras.saving.load_model(tmp_path / "ws.keras")
    np.testing.assert_array_equal(to_numpy(restored.get_layer("ws").gain), [0.5, 1.5, 2.0, 3.0])
