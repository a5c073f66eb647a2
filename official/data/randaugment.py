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


def _apply_lut(image, lut):
    """Per-channel lookup: lut is [3, 256] uint8; one gather for the whole image."""
    index = tf.cast(image, tf.int32) + tf.constant([0, 256, 512], tf.int32)
    return tf.gather(tf.reshape(lut, [-1]), index)


def autocontrast(image):
    """Stretch each channel to span 0..255 (a constant channel is left as it is)."""
    channels = []
    for channel in tf.unstack(image, axis=-1):  # scalar arithmetic per channel: no broadcasting
        lo = tf.cast(tf.reduce_min(channel), tf.float32)
        hi = tf.cast(tf.reduce_max(channel), tf.float32)
        scale = tf.where(hi > lo, 255.0 / tf.maximum(hi - lo, 1.0), 1.0)
        offset = tf.where(hi > lo, -lo * scale, 0.0)
        stretched = tf.clip_by_value(tf.cast(channel, tf.float32) * scale + offset, 0.0, 255.0)
        channels.append(tf.cast(stretched, tf.uint8))
    return tf.stack(channels, axis=-1)


def equalize(image):
    """Histogram equalization per channel, as PIL.ImageOps.equalize (one histogram pass)."""
    index = tf.cast(image, tf.int32) + tf.constant([0, 256, 512], tf.int32)
    histograms = tf.reshape(
        tf.math.bincount(tf.reshape(index, [-1]), minlength=768, maxlength=768), [3, 256]
    )
    luts = []
    for c in range(3):
        histogram = histograms[c]
        nonzero = tf.boolean_mask(histogram, histogram != 0)
        step = (tf.reduce_sum(nonzero) - nonzero[-1]) // 255
        lut = (tf.cumsum(histogram) + step // 2) // tf.maximum(step, 1)
        lut = tf.clip_by_value(tf.concat([[0], lut[:-1]], 0), 0, 255)
        luts.append(tf.where(step == 0, tf.range(256), lut))  # step 0: channel unchanged
    return _apply_lut(image, tf.cast(tf.stack(luts), tf.uint8))


def invert(image):
    return 255 - image


def posterize(image, bits: int):
    """Keep the `bits` most significant bits of each pixel."""
    if bits <= 0:
        return tf.zeros_like(image)
    shift = tf.constant(8 - bits, tf.uint8)
    return tf.bitwise.left_shift(tf.bitwise.right_shift(image, shift), shift)


# Pixel masks are applied arithmetically: tf.where on a whole image costs several times more.
def solarize(image, threshold: int):
    """Invert the pixels at or above `threshold` (255 - x == x XOR 255 for uint8)."""
    if threshold > 255:
        return image
    at_or_above = tf.cast(image >= tf.constant(max(threshold, 0), tf.uint8), tf.uint8)
    return tf.bitwise.bitwise_xor(image, at_or_above * 255)


def solarize_add(image, addition: int, threshold: int = 128):
    """Add `addition` to the pixels below `threshold` (saturating at 255)."""
    addition = min(max(addition, 0), 255)
    headroom = tf.minimum(255 - image, tf.constant(addition, tf.uint8))
    return image + tf.cast(image < threshold, tf.uint8) * headroom


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
    middle = tf.concat([image[1:-1, :1], smooth, image[1:-1, -1:]], axis=1)
    degenerate = tf.concat([image[:1], middle, image[-1:]], axis=0)  # borders stay
    return blend(degenerate, image, factor)


def cutout(image, pad_size: int):
    """Fill the square [cy - pad, cy + pad) x [cx - pad, cx + pad) at a random centre with 128."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    cy = tf.random.uniform([], 0, height, tf.int32)
    cx = tf.random.uniform([], 0, width, tf.int32)
    top, bottom = tf.maximum(cy - pad_size, 0), tf.minimum(cy + pad_size, height)
    left, right = tf.maximum(cx - pad_size, 0), tf.minimum(cx + pad_size, width)
    box = tf.fill([bottom - top, right - left, 3], tf.constant(FILL_VALUE, tf.uint8))
    band = tf.concat([image[top:bottom, :left], box, image[top:bottom, right:]], axis=1)
    return tf.concat([image[:top], band, image[bottom:]], axis=0)


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
