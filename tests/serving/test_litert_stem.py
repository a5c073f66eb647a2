"""The normalization folded into the stem convolution (official/serving/litert_stem.py) computes the
model's logits on normalized pixels, for every stem shape the families have; other stems are
left alone."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from official import models
from official.data import preprocess
from official.serving import litert_stem

TINY = dict(num_classes=7, width_multiplier=0.25)


def _pixels(size: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")


@pytest.mark.parametrize(
    "name,kwargs,size,stem",
    [
        ("mnasnet_a1", {}, 64, ["stem_conv1"]),  # TF 'same', stride 2
        ("mnasnet_a1", {}, 65, ["stem_conv1"]),  # 'same' on an odd size pads both sides
        ("efficientnet_b0", {"padding": "symmetric"}, 64, ["stem_conv1_pad", "stem_conv1"]),
        ("resnet50", {"block_repeats": (1, 1, 1, 1)}, 64, ["stem_conv1_pad", "stem_conv1"]),
        ("shufflenet_g3", {"scale": 0.25, "width_multiplier": None}, 64, ["stem_conv1"]),
    ],
)
def test_folded_stem_equals_the_model_on_normalized_pixels(name, kwargs, size, stem):
    kwargs = {k: v for k, v in {**TINY, **kwargs}.items() if v is not None}
    model = models.get(name, input_shape=(size, size, 3), **kwargs)
    found = litert_stem.stem_layers(model)
    assert [layer.name for layer in found if layer is not None] == stem
    pixels = _pixels(size)
    expected = np.asarray(model(preprocess.normalize(pixels), training=False))
    got = np.asarray(litert_stem.folded_logits(model, size)(pixels))
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_a_converted_models_own_mean_and_std_fold_as_well():
    """Converted timm weights normalize with their pretrained_cfg's mean and std (here
    Inception's 0.5 / 0.5): the fold takes them, borders included."""
    model = models.get("efficientnet_b0", input_shape=(33, 33, 3), padding="symmetric", **TINY)
    mean, std = (127.5, 127.5, 127.5), (127.5, 127.5, 127.5)
    pixels = _pixels(33)
    expected = np.asarray(model((pixels - 127.5) / 127.5, training=False))
    got = np.asarray(litert_stem.folded_logits(model, 33, mean, std)(pixels))
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()
    default = np.asarray(litert_stem.folded_logits(model, 33)(pixels))
    assert np.abs(default - expected).max() > 1e-3 * np.abs(expected).max()


def test_a_stem_with_bias_and_activation_folds_both():
    inputs = keras.Input((17, 17, 3))
    x = keras.layers.Conv2D(8, 5, strides=3, padding="same", activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x)))
    model.layers[1].bias.assign(np.linspace(-1, 1, 8))
    pixels = _pixels(17)
    expected = np.asarray(model(preprocess.normalize(pixels)))
    got = np.asarray(litert_stem.folded_logits(model, 17)(pixels))
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_folding_uses_the_mean_pixel_at_the_border():
    """Padding the pixels with zeros instead (what a plain fold would do) changes the output:
    the border is what the strips are for."""
    model = models.get("mnasnet_a1", input_shape=(32, 32, 3), **TINY)
    conv = litert_stem.stem_layers(model)[1]
    pixels = _pixels(32)
    kernel = np.asarray(conv.kernel) / np.float32(preprocess.STDDEV_RGB)[None, None, :, None]
    wrong = tf.nn.conv2d(pixels, kernel, 2, "SAME") - np.einsum(
        "hwio,i->o", kernel, np.float32(preprocess.MEAN_RGB)
    )
    right = keras.Model(model.input, conv.output)(preprocess.normalize(pixels))
    assert not np.allclose(wrong[:, -1], right[:, -1], atol=1e-3)  # last row: the padded one
    np.testing.assert_allclose(wrong[:, :-1, :-1], right[:, :-1, :-1], atol=1e-3)


def test_a_weight_standardized_stem_or_a_shared_input_is_not_folded():
    nfnet = models.get("nfnet_f0", input_shape=(32, 32, 3), num_classes=7, width_multiplier=0.125)
    assert litert_stem.stem_layers(nfnet) is None
    assert litert_stem.folded_logits(nfnet, 32) is None
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    both = keras.Model(inputs, keras.layers.Concatenate()([conv, inputs]))
    assert litert_stem.stem_layers(both) is None
