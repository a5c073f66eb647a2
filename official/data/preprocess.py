"""Per-image preprocessing of the ResNet-RS / Bag-of-Tricks recipes (docs/REFERENCE.md §2.1, 2.2),
in two settings (`method`; docs/data_ops.md has the measured differences):

- `official_tpu`: tensorflow/tpu models/official/resnet/resnet_preprocessing.py as of the
  ResNet-RS release (9e57561, 2021-03-10), which the ResNet-RS and EfficientNet recipes cite:
  TF1 `resize_bicubic` (no half-pixel centres, Keys a = -0.75), eval images not clipped, training
  crops clipped and truncated to uint8 after a round trip through the model's input dtype,
  mean/std 255 x (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) applied in that dtype, and a
  greyscale (non-RGB) JPEG whose crop sampling failed resized whole instead of center-cropped.
- `tf2`: TF2 `tf.image.resize(bicubic)` (half-pixel centres, a = -0.5) clipped to 0..255 and
  rounded for training, mean (123.68, 116.779, 103.939) / std (58.393, 57.12, 57.375). On real
  photos at 224 its eval images are 1.1-5.0 grey levels from official_tpu's on average (up to
  120 at sharp edges); the mean/std alone differ by <= 0.009 after normalization.

Crops are taken straight from the encoded bytes: for JPEG, `tf.image.decode_and_crop_jpeg`
decodes only the rows the crop needs (the fused path of the official code of that version);
other formats (PNG, GIF, BMP) are decoded whole and sliced. The eval crop keeps
size / (size + padding) of the shorter side; tensorflow/tpu used padding 32 at every size until
22d5cab (2021-11-15) and round(size / 7) (87.5%) since. `normalize` is the one place where the
mean/std are applied; the export's serving signature calls the same functions. Training
randomness is stateless, drawn from a `seed` of shape [2].
"""

from __future__ import annotations

import tensorflow as tf

from official.configs.config import PREPROCESSINGS
from official.data.seeds import random_seed
from official.layers.input_statistics import (  # noqa: F401 (part of this module's face)
    MEAN_RGB,
    OFFICIAL_MEAN_RGB,
    OFFICIAL_STDDEV_RGB,
    STDDEV_RGB,
)

# Eval crops size/(size+32) of the shorter side: 224 of 256 (docs/REFERENCE.md §2.2).
CROP_PADDING = 32
# The training crop covers at least this fraction of the image (tensorflow/tpu's value).
MIN_OBJECT_COVERED = 0.1


def _check_method(method: str) -> None:
    if method not in PREPROCESSINGS:
        raise ValueError(f"Preprocessing {method!r}; use one of {PREPROCESSINGS}.")


def crop_padding_87_5(image_size: int) -> int:
    """The eval crop padding of tensorflow/tpu since 22d5cab (2021-11-15): 87.5% at any size."""
    return round(image_size * (1 / 0.875 - 1))


def decode_and_crop(image_bytes: tf.Tensor, window_fn, fused: bool = True) -> tf.Tensor:
    """Decodes the window `window_fn(shape) -> (y, x, h, w)` of an encoded image to uint8 RGB.

    `shape` is [height, width, channels stored in the file] for JPEG and [height, width, 3] for
    other formats. fused=False decodes JPEGs whole and then slices (for benchmarks).
    """

    def jpeg():
        shape = tf.image.extract_jpeg_shape(image_bytes)
        window = tf.stack(window_fn(shape))
        return tf.image.decode_and_crop_jpeg(image_bytes, window, channels=3)

    def other():
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        y, x, h, w = window_fn(tf.shape(image))
        return image[y : y + h, x : x + w]

    image = tf.cond(tf.io.is_jpeg(image_bytes), jpeg, other) if fused else other()
    image.set_shape([None, None, 3])
    return image


def center_window(shape, image_size: int, padding: int = CROP_PADDING):
    """Square center crop of side image_size / (image_size + padding) * min(h, w)
    (docs/REFERENCE.md §2.2)."""
    height, width = shape[0], shape[1]
    side = tf.cast(
        image_size / (image_size + padding) * tf.cast(tf.minimum(height, width), tf.float32),
        tf.int32,
    )
    return (height - side + 1) // 2, (width - side + 1) // 2, side, side


def random_window(
    shape,
    image_size: int,
    area_range=(0.08, 1.0),
    aspect_ratio_range=(3 / 4, 4 / 3),
    max_attempts: int = 10,
    min_object_covered: float = MIN_OBJECT_COVERED,
    padding: int = CROP_PADDING,
    seed=None,
    method: str = "tf2",
):
    """Random-resized-crop window (Szegedy et al. 2015; docs/REFERENCE.md §2.1): area 8-100%, aspect
    3/4-4/3.

    With the whole image as the box, `min_object_covered` 0.1 (the official value) makes the
    crop cover at least 10% of the image. When no window is found in `max_attempts` tries the
    sampler returns the whole image; that falls back to the eval center crop, except for
    official_tpu on a JPEG not stored as RGB, which the official code resizes whole (its check
    compares the stored channel count with the decoded 3).
    """
    _check_method(method)
    seed = random_seed() if seed is None else seed
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape,
        bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
        seed=seed,
        min_object_covered=min_object_covered,
        aspect_ratio_range=aspect_ratio_range,
        area_range=area_range,
        max_attempts=max_attempts,
        use_image_if_no_bounding_boxes=True,
    )
    found = tf.logical_not(tf.reduce_all(tf.equal(size[:2], shape[:2])))
    if method == "official_tpu":
        found = tf.logical_or(found, tf.not_equal(shape[2], 3))
    y, x, h, w = center_window(shape, image_size, padding)
    return (
        tf.where(found, begin[0], y),
        tf.where(found, begin[1], x),
        tf.where(found, size[0], h),
        tf.where(found, size[1], w),
    )


def resize(image: tf.Tensor, image_size: int, method: str = "tf2") -> tf.Tensor:
    """Bicubic resize to image_size x image_size, float32. tf2: TF2 resize clipped to [0, 255];
    official_tpu: TF1 resize_bicubic, not clipped (bicubic overshoots)."""
    _check_method(method)
    if method == "official_tpu":
        return tf.compat.v1.image.resize_bicubic(image[None], [image_size, image_size])[0]
    image = tf.image.resize(image, [image_size, image_size], method="bicubic")
    return tf.clip_by_value(image, 0.0, 255.0)


def normalize(image: tf.Tensor, dtype=tf.float32, method: str = "tf2", mean_std=None) -> tf.Tensor:
    """(pixels - ImageNet mean) / ImageNet std as `dtype` (the model's input dtype). tf2 computes
    in float32; official_tpu casts first and computes in `dtype`, as the official model did.
    `mean_std`: (mean, std) per RGB channel in pixel units instead of the method's (data.mean_rgb
    and data.stddev_rgb: weights trained with other statistics), computed in float32."""
    _check_method(method)
    if mean_std is not None:
        mean, std = (tf.constant(v, tf.float32) for v in mean_std)
        return tf.cast((tf.cast(image, tf.float32) - mean) / std, dtype)
    if method == "official_tpu":
        image = tf.cast(image, dtype)
        mean = tf.constant(OFFICIAL_MEAN_RGB, dtype)
        return (image - mean) / tf.constant(OFFICIAL_STDDEV_RGB, dtype)
    image = (tf.cast(image, tf.float32) - MEAN_RGB) / STDDEV_RGB
    return tf.cast(image, dtype)


def crop_for_train(
    image_bytes: tf.Tensor,
    image_size: int,
    fused: bool = True,
    area_min: float = 0.08,
    padding: int = CROP_PADDING,
    seed=None,
    method: str = "tf2",
    dtype=tf.float32,
) -> tf.Tensor:
    """Random-resized crop from the bytes, bicubic resize, random flip: uint8 [size, size, 3].

    tf2 rounds the resized pixels; official_tpu passes them through `dtype` (the official
    convert_image_dtype) and truncates, as the official code does before RandAugment.
    """
    crop_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(random_seed() if seed is None else seed, 2)
    )

    def window(shape):
        return random_window(
            shape,
            image_size,
            area_range=(area_min, 1.0),
            padding=padding,
            seed=crop_seed,
            method=method,
        )

    image = resize(decode_and_crop(image_bytes, window, fused), image_size, method)
    image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    if method == "official_tpu":
        image = tf.clip_by_value(tf.cast(tf.cast(image, dtype), tf.float32), 0.0, 255.0)
        return tf.cast(image, tf.uint8)
    return tf.cast(tf.round(image), tf.uint8)


def crop_for_eval(
    image_bytes: tf.Tensor, image_size: int, padding: int = CROP_PADDING, method: str = "tf2"
) -> tf.Tensor:
    """Center crop from the bytes and bicubic resize: float32 [size, size, 3]."""
    image = decode_and_crop(image_bytes, lambda shape: center_window(shape, image_size, padding))
    return resize(image, image_size, method)


def preprocess_for_eval(
    image_bytes: tf.Tensor,
    image_size: int,
    dtype=tf.float32,
    padding: int = CROP_PADDING,
    method: str = "tf2",
    mean_std=None,
) -> tf.Tensor:
    """Encoded image -> normalized eval input. The export's `serving_default` runs this."""
    image = crop_for_eval(image_bytes, image_size, padding, method)
    return normalize(image, dtype, method, mean_std)


def preprocess_decoded_for_eval(
    image: tf.Tensor,
    image_size: int,
    dtype=tf.float32,
    padding: int = CROP_PADDING,
    method: str = "tf2",
    mean_std=None,
) -> tf.Tensor:
    """The same eval crop and resize for an already-decoded [H, W, 3] image in 0..255."""
    y, x, h, w = center_window(tf.shape(image), image_size, padding)
    image = resize(image[y : y + h, x : x + w], image_size, method)
    return normalize(image, dtype, method, mean_std)
