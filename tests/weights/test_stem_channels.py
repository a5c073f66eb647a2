"""official/weights/stem_channels.py: timm's adapt_input_conv rule on a hand-made kernel, and
models built with 1 and 4 input channels from 3-channel sources (a converted .weights.h5 file,
a .keras file, a fine-tuning source) against the 3-channel model on the equivalent input.

Why the inputs are equivalent (the first convolution is linear in its input, and every model
normalizes outside the graph, so nothing before it mixes channels):
  C = 1: the kernel summed over RGB, applied to grey g, is the RGB kernel applied to (g, g, g).
  C = 4: the kernel is (K_r, K_g, K_b, K_r) x 3/4; on (r, g, b, 0) it gives K applied to
         3/4 (r, g, b); on (r, g, b, a) it gives K applied to 3/4 (r + a, g, b).
"""

import numpy as np
import pytest

from official.training import finetune
from official.weights import converted, stem_channels
from tests.models.test_registry import _tiny


def test_the_rule_on_a_hand_made_kernel():
    kernel = np.arange(2 * 3 * 2, dtype="float32").reshape(1, 2, 3, 2)  # (h, w, in=3, out=2)
    r, g, b = kernel[:, :, 0], kernel[:, :, 1], kernel[:, :, 2]
    np.testing.assert_array_equal(stem_channels.adapt_input_conv(kernel, 1)[:, :, 0], r + g + b)
    four = stem_channels.adapt_input_conv(kernel, 4)
    np.testing.assert_allclose(four, np.stack([r, g, b, r], axis=2) * 0.75, rtol=1e-6)
    five = stem_channels.adapt_input_conv(kernel, 5)
    np.testing.assert_allclose(five, np.stack([r, g, b, r, g], axis=2) * 0.6, rtol=1e-6)
    six = stem_channels.adapt_input_conv(kernel, 6)
    np.testing.assert_allclose(six, np.concatenate([kernel, kernel], axis=2) * 0.5, rtol=1e-6)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A 3-channel tiny ResNet-18 and its converted .weights.h5 file."""
    model = _tiny("resnet18")
    path = str(tmp_path_factory.mktemp("stem") / "resnet18.weights.h5")
    metadata = {"model": "resnet18", "num_classes": 5, "include_top": True, "conventions": {}}
    converted.save(model, path, {**metadata, "source": "a test"})
    return model, path


def _images(channels, seed=0):
    return np.random.default_rng(seed).normal(size=(2, 32, 32, channels)).astype("float32")


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_one_channel_from_a_converted_file_sees_grey_as_rgb(source):
    rgb_model, path = source
    grey_model = _tiny("resnet18", weights=path, input_shape=(32, 32, 1))
    assert grey_model.get_layer("stem_conv1").kernel.shape[2] == 1
    grey = _images(1)
    _close(grey_model(grey), rgb_model(np.repeat(grey, 3, axis=-1)))


def test_four_channels_from_a_converted_file_see_three_quarters_of_the_image(source):
    rgb_model, path = source
    model = _tiny("resnet18", weights=path, input_shape=(32, 32, 4))
    x, extra = _images(3), _images(1, seed=1)
    _close(model(np.concatenate([x, np.zeros_like(extra)], -1)), rgb_model(0.75 * x))
    # The 4th channel's kernel is the red one (x 3/4): it adds to red.
    red_added = x + np.concatenate([extra, 0 * extra, 0 * extra], -1)
    _close(model(np.concatenate([x, extra], -1)), rgb_model(0.75 * red_added))
    # The rest of the network is the source's, unchanged.
    for layer in ("stage3_block1_conv1", "classifier"):
        np.testing.assert_array_equal(
            model.get_layer(layer).kernel, rgb_model.get_layer(layer).kernel
        )


def test_a_keras_file_fills_strictly_with_the_stem_adapted(source, tmp_path):
    rgb_model, _ = source
    path = str(tmp_path / "rgb.keras")
    rgb_model.save(path)
    model = _tiny("resnet18", weights=path, input_shape=(32, 32, 4))
    x = _images(3)
    _close(model(np.concatenate([x, 0 * x[..., :1]], -1)), rgb_model(0.75 * x))


def test_fine_tuning_from_a_three_channel_model_adapts_the_stem(source):
    rgb_model, _ = source
    grey_model = _tiny("resnet18", input_shape=(32, 32, 1))
    assert finetune.transfer_weights(rgb_model, grey_model) == []
    grey = _images(1)
    _close(grey_model(grey), rgb_model(np.repeat(grey, 3, axis=-1)))


def test_only_the_convolutions_reading_the_input_adapt():
    three = _tiny("resnet18")
    assert stem_channels.input_convolutions(three) == {}
    one = _tiny("resnet18", input_shape=(32, 32, 1))
    assert stem_channels.input_convolutions(one) == {"stem_conv1/kernel": 1}
    kernel = np.zeros((3, 3, 3, 8), "float32")
    untouched = stem_channels.adapt("stage2_block1_conv1/kernel", kernel, (3, 3, 1, 8), {})
    assert untouched.shape == (3, 3, 3, 8)  # the strict shape check then names the misfit
