"""timm's eval transform in TensorFlow ops, for weights converted from timm with the
preprocessing they were trained with (a hub `config.json`'s `pretrained_cfg`):

    Resize(floor(size / crop_pct), interpolation)   the shorter side, aspect kept (torchvision)
    CenterCrop(size)
    ToTensor, Normalize(mean, std)                  here in pixel units: (x - 255 mean) / 255 std

torchvision resizes PIL images with PIL's filters, which widen with the downscale factor; TF's
`antialias=True` resize does the same, and run in PIL's two rounded passes it gives PIL's pixels
(to one level in a few of them). JPEGs are decoded with libjpeg's accurate DCT, as PIL does.
The library's own eval crop (official/data/preprocess.py) is a different rule: a center window of
size / (size + padding) of the shorter side, resized to size.
"""

from __future__ import annotations

import math

import tensorflow as tf

INTERPOLATIONS = ("bicubic", "bilinear")


def decode_like_pil(image_bytes: tf.Tensor) -> tf.Tensor:
    """Encoded image -> uint8 [H, W, 3], JPEGs with libjpeg's accurate integer DCT as Pillow
    decodes them (TensorFlow's default, INTEGER_FAST, differs from it by about one level per
    pixel on photos, up to 8)."""

    def jpeg():
        return tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE")

    def other():
        return tf.io.decode_image(image_bytes, channels=3, expand_animations=False)

    image = tf.cond(tf.io.is_jpeg(image_bytes), jpeg, other)
    image.set_shape([None, None, 3])
    return image


def _to_uint8(pixels: tf.Tensor) -> tf.Tensor:
    """PIL's rounding of a resampled value to uint8 (kept in float32)."""
    return tf.clip_by_value(tf.round(pixels), 0.0, 255.0)


def scale_size(image_size: int, crop_fraction: float) -> int:
    """timm's `scale_size = math.floor(img_size / crop_pct)`."""
    return int(math.floor(image_size / crop_fraction))


def resize_shorter_then_crop(
    image: tf.Tensor, image_size: int, crop_fraction: float, interpolation: str
) -> tf.Tensor:
    """A decoded [H, W, 3] image in 0..255 -> [image_size, image_size, 3] float32 in 0..255."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation {interpolation!r}; use one of {INTERPOLATIONS}.")
    short = scale_size(image_size, crop_fraction)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    # torchvision: the shorter side becomes `short`, the longer int(short * long / shorter).
    portrait = height > width
    shorter = tf.minimum(height, width)
    longer = tf.cast(short * tf.maximum(height, width) // shorter, tf.int32)
    new_height = tf.where(portrait, longer, short)
    new_width = tf.where(portrait, short, longer)
    # PIL resizes in two passes, the width first, each rounded to uint8: so here (one pass in
    # float differs from PIL by 0.1 level on average, up to 5; two passes by 1 level at most,
    # in a few pixels).
    image = tf.cast(image, tf.float32)
    wide = _to_uint8(
        tf.image.resize(image, tf.stack([height, new_width]), interpolation, antialias=True)
    )
    resized = _to_uint8(
        tf.image.resize(wide, tf.stack([new_height, new_width]), interpolation, antialias=True)
    )
    # torchvision CenterCrop: top = int(round((h - size) / 2)).
    top = tf.cast(tf.round(tf.cast(new_height - image_size, tf.float32) / 2.0), tf.int32)
    left = tf.cast(tf.round(tf.cast(new_width - image_size, tf.float32) / 2.0), tf.int32)
    crop = resized[top : top + image_size, left : left + image_size]
    crop.set_shape([image_size, image_size, 3])
    return crop
