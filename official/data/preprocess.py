"""Per-image preprocessing of the ResNet-RS / Bag-of-Tricks recipes (SPEC 2.1, 2.2).

Crops are taken straight from the encoded bytes: for JPEG, `tf.image.decode_and_crop_jpeg`
decodes only the rows the crop needs (the fused path of the official TF code); other formats
(PNG, GIF, BMP) are decoded whole and sliced. Resizing is bicubic. `normalize` is the one place
where ImageNet mean/std are applied; the export's serving signature calls the same functions.
"""

from __future__ import annotations

import tensorflow as tf

# ImageNet mean and std of the RGB channels, in pixel units (SPEC 2.1).
MEAN_RGB = (123.68, 116.779, 103.939)
STDDEV_RGB = (58.393, 57.12, 57.375)
# Eval crops size/(size+32) of the shorter side: 224 of 256 (SPEC 2.2).
CROP_PADDING = 32


def decode_and_crop(image_bytes: tf.Tensor, window_fn, fused: bool = True) -> tf.Tensor:
    """Decodes the window `window_fn(shape) -> (y, x, h, w)` of an encoded image to uint8 RGB.

    fused=False decodes JPEGs whole and then slices (for benchmarks/input_pipeline.py).
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
    """Square center crop of side image_size / (image_size + padding) * min(h, w) (SPEC 2.2)."""
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
    min_object_covered: float = 0.1,
    padding: int = CROP_PADDING,
):
    """Random-resized-crop window (Szegedy et al. 2015; SPEC 2.1): area 8-100%, aspect 3/4-4/3.

    As in the official TF code, when no window is found in `max_attempts` tries the sampler returns
    the whole image; that case falls back to the eval center crop. `min_object_covered` 0.1 is the
    official code's value (with the whole image as the box it only requires area >= 10%).
    """
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        shape,
        bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
        min_object_covered=min_object_covered,
        aspect_ratio_range=aspect_ratio_range,
        area_range=area_range,
        max_attempts=max_attempts,
        use_image_if_no_bounding_boxes=True,
    )
    found = tf.logical_not(tf.reduce_all(tf.equal(size[:2], shape[:2])))
    y, x, h, w = center_window(shape, image_size, padding)
    return (
        tf.where(found, begin[0], y),
        tf.where(found, begin[1], x),
        tf.where(found, size[0], h),
        tf.where(found, size[1], w),
    )


def resize(image: tf.Tensor, image_size: int) -> tf.Tensor:
    """Bicubic resize to image_size x image_size; float32 in [0, 255] (bicubic overshoots)."""
    image = tf.image.resize(image, [image_size, image_size], method="bicubic")
    return tf.clip_by_value(image, 0.0, 255.0)


def normalize(image: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
    """(pixels - ImageNet mean) / ImageNet std, cast to `dtype` (the model's input dtype)."""
    image = (tf.cast(image, tf.float32) - MEAN_RGB) / STDDEV_RGB
    return tf.cast(image, dtype)


def crop_for_train(
    image_bytes: tf.Tensor,
    image_size: int,
    fused: bool = True,
    area_min: float = 0.08,
    padding: int = CROP_PADDING,
) -> tf.Tensor:
    """Random-resized crop from the bytes, bicubic resize, random flip: uint8 [size, size, 3]."""

    def window(shape):
        return random_window(
            shape,
            image_size,
            area_range=(area_min, 1.0),
            padding=padding,
            min_object_covered=min(0.1, area_min),
        )

    image = decode_and_crop(image_bytes, window, fused)
    image = tf.image.random_flip_left_right(resize(image, image_size))
    return tf.cast(tf.round(image), tf.uint8)


def crop_for_eval(image_bytes: tf.Tensor, image_size: int, padding: int = CROP_PADDING):
    """Center crop from the bytes and bicubic resize: float32 [size, size, 3] in [0, 255]."""
    image = decode_and_crop(image_bytes, lambda shape: center_window(shape, image_size, padding))
    return resize(image, image_size)


def preprocess_for_eval(
    image_bytes: tf.Tensor, image_size: int, dtype=tf.float32, padding: int = CROP_PADDING
) -> tf.Tensor:
    """Encoded image -> normalized eval input. The export's `serving_default` runs this."""
    return normalize(crop_for_eval(image_bytes, image_size, padding), dtype)


def preprocess_decoded_for_eval(
    image: tf.Tensor, image_size: int, dtype=tf.float32, padding: int = CROP_PADDING
) -> tf.Tensor:
    """The same eval crop and resize for an already-decoded [H, W, 3] image in 0..255."""
    y, x, h, w = center_window(tf.shape(image), image_size, padding)
    return normalize(resize(image[y : y + h, x : x + w], image_size), dtype)
