"""RandAugment (Cubuk et al. 2020) with the op set and magnitude scale of the official TF code
used by ResNet-RS and EfficientNet (SPEC 2.5), on uint8 [H, W, 3] images.

Keras 3's RandAugment layer samples a different op set on a different scale, so the ops are
written here from tf.image / tf.raw_ops. Per image, `num_layers` times, one of the 16 ops is
chosen uniformly and applied at level `magnitude / 10` of its range; signed ops take a random sign;
geometric ops and Cutout fill with 128.
"""

from __future__ import annotations

import functools

import tensorflow as tf

MAX_LEVEL = 10.0
FILL_VALUE = 128
OP_NAMES = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "Posterize",
    "Solarize",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Cutout",
    "SolarizeAdd",
)


# ---- Pixel ops ---------------------------------------------------------------------------------
def blend(degenerate: tf.Tensor, image: tf.Tensor, factor) -> tf.Tensor:
    """degenerate + factor * (image - degenerate), clipped to uint8 (PIL ImageEnhance)."""
    degenerate = tf.cast(degenerate, tf.float32)
    out = degenerate + factor * (tf.cast(image, tf.float32) - degenerate)
    return tf.cast(tf.clip_by_value(out, 0.0, 255.0), tf.uint8)


def autocontrast(image):
    """Stretch each channel to span 0..255 (a constant channel is left as it is)."""
    image_f = tf.cast(image, tf.float32)
    lo = tf.reduce_min(image_f, axis=[0, 1])
    hi = tf.reduce_max(image_f, axis=[0, 1])
    scale = tf.where(hi > lo, 255.0 / tf.maximum(hi - lo, 1.0), 1.0)
    offset = tf.where(hi > lo, -lo * scale, 0.0)
    return tf.cast(tf.clip_by_value(image_f * scale + offset, 0.0, 255.0), tf.uint8)


def _equalize_channel(channel):
    histogram = tf.histogram_fixed_width(tf.cast(channel, tf.int32), [0, 255], nbins=256)
    nonzero = tf.boolean_mask(histogram, histogram != 0)
    step = (tf.reduce_sum(nonzero) - nonzero[-1]) // 255

    def equalized():
        lut = (tf.cumsum(histogram) + step // 2) // tf.maximum(step, 1)
        lut = tf.clip_by_value(tf.concat([[0], lut[:-1]], 0), 0, 255)
        return tf.cast(tf.gather(lut, tf.cast(channel, tf.int32)), tf.uint8)

    return tf.cond(step == 0, lambda: channel, equalized)


def equalize(image):
    """Histogram equalization per channel, as PIL.ImageOps.equalize."""
    return tf.stack([_equalize_channel(image[..., c]) for c in range(3)], axis=-1)


def invert(image):
    return 255 - image


def posterize(image, bits: int):
    """Keep the `bits` most significant bits of each pixel."""
    shift = 8 - bits
    return tf.cast(
        tf.bitwise.left_shift(tf.bitwise.right_shift(tf.cast(image, tf.int32), shift), shift),
        tf.uint8,
    )


def solarize(image, threshold: int):
    """Invert the pixels at or above `threshold`."""
    return tf.where(tf.cast(image, tf.int32) < threshold, image, 255 - image)


def solarize_add(image, addition: int, threshold: int = 128):
    """Add `addition` to the pixels below `threshold`."""
    added = tf.cast(tf.clip_by_value(tf.cast(image, tf.int32) + addition, 0, 255), tf.uint8)
    return tf.where(image < threshold, added, image)


def color(image, factor):
    return blend(tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image)), image, factor)


def contrast(image, factor):
    """Blend with the mean grey level. (The official TF code divides the pixel count by 256
    where it means the mean intensity; this follows the op's definition, PIL's.)"""
    mean = tf.reduce_mean(tf.cast(tf.image.rgb_to_grayscale(image), tf.float32))
    return blend(tf.fill(tf.shape(image), mean), image, factor)


def brightness(image, factor):
    return blend(tf.zeros_like(image), image, factor)


def sharpness(image, factor):
    """Blend with a 3x3 smoothed copy (kernel [1 1 1; 1 5 1; 1 1 1] / 13); borders stay."""
    kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], tf.float32) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(tf.cast(image, tf.float32)[None], kernel, [1, 1, 1, 1], "VALID")
    smooth = tf.cast(tf.clip_by_value(tf.round(smooth[0]), 0.0, 255.0), tf.uint8)
    interior = tf.pad(tf.ones_like(smooth, tf.bool), [[1, 1], [1, 1], [0, 0]])
    degenerate = tf.where(interior, tf.pad(smooth, [[1, 1], [1, 1], [0, 0]]), image)
    return blend(degenerate, image, factor)


def cutout(image, pad_size: int):
    """Fill the square [cy - pad, cy + pad) x [cx - pad, cx + pad) at a random centre with 128."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    cy = tf.random.uniform([], 0, height, tf.int32)
    cx = tf.random.uniform([], 0, width, tf.int32)
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    inside = (rows >= cy - pad_size) & (rows < cy + pad_size)
    inside = inside & (cols >= cx - pad_size) & (cols < cx + pad_size)
    return tf.where(inside[..., None], tf.constant(FILL_VALUE, tf.uint8), image)


# ---- Geometric ops: output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2) -------
def transform(image, matrix):
    """Nearest-neighbour projective transform; pixels from outside the image are 128."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=tf.cast(tf.reshape(matrix, [1, 8]), tf.float32),
        output_shape=tf.stack([height, width]),
        fill_value=float(FILL_VALUE),
        interpolation="NEAREST",
        fill_mode="CONSTANT",
    )
    return out[0]


def rotate(image, degrees):
    """Rotate counter-clockwise (as displayed) by `degrees` about the image centre."""
    radians = tf.cast(degrees, tf.float32) * (3.141592653589793 / 180.0)
    height = tf.cast(tf.shape(image)[0], tf.float32) - 1.0
    width = tf.cast(tf.shape(image)[1], tf.float32) - 1.0
    cos, sin = tf.cos(radians), tf.sin(radians)
    x_offset = (width - (cos * width - sin * height)) / 2.0
    y_offset = (height - (sin * width + cos * height)) / 2.0
    return transform(image, tf.stack([cos, -sin, x_offset, sin, cos, y_offset, 0.0, 0.0]))


def shear_x(image, level):
    return transform(image, tf.stack([1.0, level, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]))


def shear_y(image, level):
    return transform(image, tf.stack([1.0, 0.0, 0.0, level, 1.0, 0.0, 0.0, 0.0]))


def translate_x(image, pixels):
    """Shift the content right by `pixels`."""
    return transform(image, tf.stack([1.0, 0.0, -pixels, 0.0, 1.0, 0.0, 0.0, 0.0]))


def translate_y(image, pixels):
    """Shift the content down by `pixels`."""
    return transform(image, tf.stack([1.0, 0.0, 0.0, 0.0, 1.0, -pixels, 0.0, 0.0]))


# ---- Magnitude -> op argument (SPEC 2.5) -------------------------------------------------------
def _random_sign(value: float) -> tf.Tensor:
    return tf.where(tf.random.uniform([]) < 0.5, -value, value)


def _enhance_factor(magnitude: float) -> float:
    return magnitude / MAX_LEVEL * 1.8 + 0.1


def op_with_magnitude(name: str, magnitude: float):
    """The op `name` as a function of the image alone, at `magnitude` (0..10, may exceed 10)."""
    level = magnitude / MAX_LEVEL
    ops = {
        "AutoContrast": autocontrast,
        "Equalize": equalize,
        "Invert": invert,
        "Rotate": lambda im: rotate(im, _random_sign(level * 30.0)),
        "Posterize": lambda im: posterize(im, int(level * 4)),
        "Solarize": lambda im: solarize(im, int(level * 256)),
        "Color": lambda im: color(im, _enhance_factor(magnitude)),
        "Contrast": lambda im: contrast(im, _enhance_factor(magnitude)),
        "Brightness": lambda im: brightness(im, _enhance_factor(magnitude)),
        "Sharpness": lambda im: sharpness(im, _enhance_factor(magnitude)),
        "ShearX": lambda im: shear_x(im, _random_sign(level * 0.3)),
        "ShearY": lambda im: shear_y(im, _random_sign(level * 0.3)),
        "TranslateX": lambda im: translate_x(im, _random_sign(level * 100.0)),
        "TranslateY": lambda im: translate_y(im, _random_sign(level * 100.0)),
        "Cutout": lambda im: cutout(im, int(level * 40)),
        "SolarizeAdd": lambda im: solarize_add(im, int(level * 110)),
    }
    if name not in ops:
        raise ValueError(f"Unknown RandAugment op {name!r}; the ops are {OP_NAMES}.")
    return ops[name]


def randaugment(image: tf.Tensor, num_layers: int = 2, magnitude: float = 10.0) -> tf.Tensor:
    """Apply `num_layers` ops, each chosen uniformly from the 16, to a uint8 [H, W, 3] image."""
    if image.dtype != tf.uint8:
        raise ValueError(f"randaugment expects a uint8 image, got {image.dtype.name}.")
    branches = [op_with_magnitude(n, magnitude) for n in OP_NAMES]
    for _ in range(num_layers):
        index = tf.random.uniform([], 0, len(OP_NAMES), tf.int32)
        current = image
        image = tf.switch_case(index, [functools.partial(b, current) for b in branches])
        image = tf.ensure_shape(image, current.shape)
    return image
