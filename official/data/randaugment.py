"""RandAugment (Cubuk et al. 2020) on uint8 [H, W, 3] images: the op set and magnitude scale of
the official TF code used by ResNet-RS and EfficientNet (docs/REFERENCE.md §2.5), in three settings.

Per image, `num_layers` times, one of the 16 ops is chosen uniformly and always applied at level
`magnitude / 10` of its range; signed ops take a random sign; geometric ops and Cutout fill with
128. Keras 3's RandAugment layer samples a different op set on a different scale, so the ops are
written here from tf.image / tf.raw_ops. All randomness is stateless, drawn from `seed`.

`variant` (docs/data_ops.md; figures from benchmarks/data_ops_differences.py on scikit-image's
astronaut, chelsea and coffee at 224x224):
- `official_tpu` (default; every ResNet-RS and EfficientNet recipe): bit-exact to tensorflow/tpu
  models/official/efficientnet/autoaugment.py, the code behind the published accuracies, quirks
  included. Solarize's threshold int(m/10 * 256) becomes a uint8 and wraps: 256, 384, 512 at
  m = 10, 15, 20 act as 0, 128, 0, so m=10 and 20 invert the whole image and m=15 solarizes at
  128. Contrast blends with "pixel count / 256" (196 for any 224x224 image) where the mean grey
  level (103-119 on the photos) was meant: 44-77 grey levels apart from PIL's at every magnitude
  but 5. Sharpness truncates its smoothed image where PIL rounds (up to 5 levels after the
  blend). Posterize's shift 8 - int(m/10 * 4) is taken mod 256 and clamped to 7 by TF's shift
  kernel: m < 2.5 and m >= 22.5 keep 1 bit. One layer at m=10 over 1,200 draws: 12.2% of the
  images inverted, 1.7% unchanged (AutoContrast on a photo already spanning 0-255).
- `pil`: the ops as PIL defines them, which the official ones meant to reproduce (tested against
  PIL): a threshold above 255 solarizes nothing (at m=10: 6.2% inverted, 7.7% unchanged),
  Contrast blends with the rounded mean grey level, Sharpness rounds, Posterize keeps 1 to 8 bits
  (the earlier code of this module gave a black image below m=2.5).
- `model_garden`: tensorflow/models official/vision/ops/augment.py: official_tpu's arithmetic,
  plus a 17th, do-nothing choice, and geometric ops that mirror the image at its borders instead
  of filling with 128.
All three translate by out(x) = in(x + pixels), the official and PIL convention (the earlier
code of this module had the opposite sign: the same distribution, since the sign is random), and
are bit-identical in AutoContrast, Equalize, Invert, Rotate, Color, Brightness, ShearX/Y,
TranslateX/Y (but model_garden's fill), Cutout and SolarizeAdd.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from official.configs.config import RANDAUGMENT_VARIANTS
from official.data.seeds import random_seed

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
def blend(degenerate: tf.Tensor, image: tf.Tensor, factor: float) -> tf.Tensor:
    """degenerate + factor * (image - degenerate), clipped and truncated to uint8 (PIL
    ImageEnhance); factor 1 returns the image itself."""
    if factor == 1.0:
        return image
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


def _keep_top_bits(image, bits: int):
    mask = (0xFF << (8 - bits)) & 0xFF
    return tf.bitwise.bitwise_and(image, tf.constant(mask, tf.uint8))


def posterize(image, bits: int):
    """Keep the `bits` most significant bits of each pixel; PIL's range of bits is 1..8."""
    return _keep_top_bits(image, min(max(bits, 1), 8))


def posterize_tpu(image, bits: int):
    """The official (x >> s) << s with s = 8 - bits as a uint8 (mod 256), which TF's shift
    kernel clamps to 7: bits 0 (m < 2.5) and bits above 8 (m >= 22.5) keep 1 bit."""
    shift = min((8 - bits) % 256, 7)
    return _keep_top_bits(image, 8 - shift)


# Pixel masks are applied arithmetically: tf.where on a whole image costs several times more.
def solarize(image, threshold: int):
    """Invert the pixels at or above `threshold` (255 - x == x XOR 255 for uint8)."""
    if threshold > 255:
        return image
    if threshold <= 0:
        return invert(image)
    at_or_above = tf.cast(image >= tf.constant(threshold, tf.uint8), tf.uint8)
    return tf.bitwise.bitwise_xor(image, at_or_above * 255)


def solarize_tpu(image, threshold: int):
    """The official threshold is compared as a uint8: it wraps modulo 256 (256 -> 0)."""
    return solarize(image, threshold % 256)


def solarize_add(image, addition: int, threshold: int = 128):
    """Add `addition` to the pixels below `threshold` (saturating at 255)."""
    addition = min(max(addition, 0), 255)
    headroom = tf.minimum(255 - image, tf.constant(addition, tf.uint8))
    return image + tf.cast(image < threshold, tf.uint8) * headroom


def color(image, factor):
    return blend(tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image)), image, factor)


def contrast(image, factor):
    """Blend with the mean grey level rounded to an integer (PIL ImageEnhance.Contrast)."""
    mean = tf.reduce_mean(tf.cast(tf.image.rgb_to_grayscale(image), tf.float32))
    return blend(tf.fill(tf.shape(image), tf.floor(mean + 0.5)), image, factor)


def contrast_tpu(image, factor):
    """The official op blends with its grey histogram's sum / 256, i.e. the pixel count / 256
    (truncated, at most 255), where the mean grey level was meant."""
    pixels = tf.shape(image)[0] * tf.shape(image)[1]
    level = tf.cast(tf.minimum(pixels // 256, 255), tf.float32)
    return blend(tf.fill(tf.shape(image), level), image, factor)


def brightness(image, factor):
    return blend(tf.zeros_like(image), image, factor)


def sharpness(image, factor, truncate: bool = False):
    """Blend with a 3x3 smoothed copy (kernel [1 1 1; 1 5 1; 1 1 1] / 13) whose border pixels
    are the image's; the smoothed values are rounded (PIL) or truncated (official code)."""
    kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], tf.float32) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(tf.cast(image, tf.float32)[None], kernel, [1, 1, 1, 1], "VALID")
    smooth = tf.clip_by_value(smooth[0] if truncate else tf.floor(smooth[0] + 0.5), 0.0, 255.0)
    smooth = tf.cast(smooth, tf.uint8)
    middle = tf.concat([image[1:-1, :1], smooth, image[1:-1, -1:]], axis=1)
    degenerate = tf.concat([image[:1], middle, image[-1:]], axis=0)
    return blend(degenerate, image, factor)


def cutout(image, pad_size: int, center):
    """Fill rows [cy - pad, cy + pad) x columns [cx - pad, cx + pad), clipped to the image, with
    128; `center` = (cy, cx)."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    cy, cx = center
    top, bottom = tf.maximum(cy - pad_size, 0), tf.minimum(cy + pad_size, height)
    left, right = tf.maximum(cx - pad_size, 0), tf.minimum(cx + pad_size, width)
    box = tf.fill([bottom - top, right - left, 3], tf.constant(FILL_VALUE, tf.uint8))
    band = tf.concat([image[top:bottom, :left], box, image[top:bottom, right:]], axis=1)
    return tf.concat([image[:top], band, image[bottom:]], axis=0)


# ---- Geometric ops: output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2) -------
def transform(image, matrix, fill_mode: str = "CONSTANT"):
    """Nearest-neighbour projective transform; pixels from outside the image are 128 (CONSTANT)
    or the image mirrored at its border (REFLECT)."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=tf.cast(tf.reshape(matrix, [1, 8]), tf.float32),
        output_shape=tf.stack([height, width]),
        fill_value=float(FILL_VALUE),
        interpolation="NEAREST",
        fill_mode=fill_mode,
    )
    return out[0]


def rotate(image, degrees, fill_mode: str = "CONSTANT"):
    """Rotate counter-clockwise (as displayed) by `degrees` about the image centre."""
    radians = tf.cast(degrees, tf.float32) * (3.141592653589793 / 180.0)
    height = tf.cast(tf.shape(image)[0], tf.float32) - 1.0
    width = tf.cast(tf.shape(image)[1], tf.float32) - 1.0
    cos, sin = tf.cos(radians), tf.sin(radians)
    x_offset = (width - (cos * width - sin * height)) / 2.0
    y_offset = (height - (sin * width + cos * height)) / 2.0
    matrix = tf.stack([cos, -sin, x_offset, sin, cos, y_offset, 0.0, 0.0])
    return transform(image, matrix, fill_mode)


def shear_x(image, level, fill_mode: str = "CONSTANT"):
    return transform(image, tf.stack([1.0, level, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]), fill_mode)


def shear_y(image, level, fill_mode: str = "CONSTANT"):
    return transform(image, tf.stack([1.0, 0.0, 0.0, level, 1.0, 0.0, 0.0, 0.0]), fill_mode)


def translate_x(image, pixels, fill_mode: str = "CONSTANT"):
    """Output column x shows input column x + pixels: positive `pixels` move the content left."""
    return transform(image, tf.stack([1.0, 0.0, pixels, 0.0, 1.0, 0.0, 0.0, 0.0]), fill_mode)


def translate_y(image, pixels, fill_mode: str = "CONSTANT"):
    """Output row y shows input row y + pixels: positive `pixels` move the content up."""
    return transform(image, tf.stack([1.0, 0.0, 0.0, 0.0, 1.0, pixels, 0.0, 0.0]), fill_mode)


# ---- Magnitude -> op argument (docs/REFERENCE.md §2.5) -------------------------------------------
def _enhance_factor(magnitude: float) -> float:
    return magnitude / MAX_LEVEL * 1.8 + 0.1


def _check_variant(variant: str) -> None:
    if variant not in RANDAUGMENT_VARIANTS:
        raise ValueError(f"RandAugment variant {variant!r}; use one of {RANDAUGMENT_VARIANTS}.")


def op_with_magnitude(name: str, magnitude: float, variant: str = "official_tpu"):
    """The op `name` at `magnitude` (>= 0; may exceed 10) as fn(image, sign, center).

    `sign` (+1.0 or -1.0) is the random sign of Rotate, ShearX/Y and TranslateX/Y; `center`
    (row, column) is Cutout's random centre; the other ops ignore both.
    """
    _check_variant(variant)
    level = magnitude / MAX_LEVEL
    tpu = variant != "pil"
    fill = "REFLECT" if variant == "model_garden" else "CONSTANT"
    factor = _enhance_factor(magnitude)
    ops = {
        "AutoContrast": lambda im, s, c: autocontrast(im),
        "Equalize": lambda im, s, c: equalize(im),
        "Invert": lambda im, s, c: invert(im),
        "Rotate": lambda im, s, c: rotate(im, s * (level * 30.0), fill),
        "Posterize": lambda im, s, c: (posterize_tpu if tpu else posterize)(im, int(level * 4)),
        "Solarize": lambda im, s, c: (solarize_tpu if tpu else solarize)(im, int(level * 256)),
        "Color": lambda im, s, c: color(im, factor),
        "Contrast": lambda im, s, c: (contrast_tpu if tpu else contrast)(im, factor),
        "Brightness": lambda im, s, c: brightness(im, factor),
        "Sharpness": lambda im, s, c: sharpness(im, factor, truncate=tpu),
        "ShearX": lambda im, s, c: shear_x(im, s * (level * 0.3), fill),
        "ShearY": lambda im, s, c: shear_y(im, s * (level * 0.3), fill),
        "TranslateX": lambda im, s, c: translate_x(im, s * (level * 100.0), fill),
        "TranslateY": lambda im, s, c: translate_y(im, s * (level * 100.0), fill),
        "Cutout": lambda im, s, c: cutout(im, int(level * 40), c),
        "SolarizeAdd": lambda im, s, c: solarize_add(im, int(level * 110)),
    }
    if name not in ops:
        raise ValueError(f"Unknown RandAugment op {name!r}; the ops are {OP_NAMES}.")
    return ops[name]


def randaugment(
    image: tf.Tensor,
    num_layers: int = 2,
    magnitude: float = 10.0,
    variant: str = "official_tpu",
    seed: tf.Tensor | None = None,
) -> tf.Tensor:
    """Apply `num_layers` uniformly chosen ops to a uint8 [H, W, 3] image. The same `seed`
    (shape [2] integers) gives the same choices, signs and Cutout centres."""
    if image.dtype != tf.uint8:
        raise ValueError(f"randaugment expects a uint8 image, got {image.dtype.name}.")
    if magnitude < 0:
        raise ValueError(f"RandAugment magnitude {magnitude} is negative; use 0 or more.")
    branches = [op_with_magnitude(n, magnitude, variant) for n in OP_NAMES]
    if variant == "model_garden":
        branches.append(lambda im, s, c: im)  # the 17th choice: leave the image as it is
    seed = random_seed() if seed is None else seed
    layer_seeds = tf.random.experimental.stateless_split(seed, max(num_layers, 1))
    for layer in range(num_layers):
        op_seed, sign_seed, row_seed, col_seed = tf.unstack(
            tf.random.experimental.stateless_split(layer_seeds[layer], 4)
        )
        index = tf.random.stateless_uniform([], op_seed, 0, len(branches), tf.int32)
        sign = tf.where(tf.random.stateless_uniform([], sign_seed) < 0.5, -1.0, 1.0)
        shape = tf.shape(image)
        center = (
            tf.random.stateless_uniform([], row_seed, 0, shape[0], tf.int32),
            tf.random.stateless_uniform([], col_seed, 0, shape[1], tf.int32),
        )
        current = image
        image = tf.switch_case(
            index, [functools.partial(b, current, sign, center) for b in branches]
        )
        image = tf.ensure_shape(image, current.shape)
    return image
