"""RandAugment `official_tpu` against a NumPy re-implementation of tensorflow/tpu
models/official/efficientnet/autoaugment.py (docs/data_ops.md), op by op, on real photos at
224x224 and magnitudes 0-30, with the random sign and Cutout centre forced.

The reference below is written from the official source's formulas (level -> argument, the
blend, each op's arithmetic in uint8/float32) and the semantics of the TF kernels that code ran
on; it never calls official/data/randaugment.py. Every op must match bit for bit, except where a
float32 value is truncated while its exact value lies within 1e-3 of an integer: there the
summation order of the kernel decides, and the reference accepts both neighbouring integers
(and what the blend makes of them).
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from official.data import randaugment as ra

MAGNITUDES = (0, 5, 10, 15, 20, 30)
CENTER = (40, 190)  # the forced Cutout centre (row, column)
F32 = np.float32


@pytest.fixture(scope="module")
def photos224(photos):
    names = ("astronaut", "chelsea", "coffee")
    return [np.asarray(Image.fromarray(photos[n]).resize((224, 224), Image.BICUBIC)) for n in names]


# ---- The reference -----------------------------------------------------------------------------
def as_uint8(value: int) -> int:
    """A Python int converted to a uint8 tensor, as the official code's comparisons do."""
    return value % 256


def ref_blend(image1, image2, factor):
    """autoaugment.py blend: float32, interpolation truncates, extrapolation clips then truncates.
    Returns the candidate outputs: the float32 result, and where the exact value is within 1e-3
    of an integer, that integer and the one below."""
    if factor == 0.0:
        return [image1]
    if factor == 1.0:
        return [image2]
    a, b = image1.astype(F32), image2.astype(F32)
    out = np.clip(a + F32(factor) * (b - a), 0, 255).astype(np.uint8)
    exact = image1.astype(np.float64) + factor * (image2.astype(np.float64) - image1)
    near = near_integer(exact)
    rounded = np.clip(np.round(exact), 0, 255).astype(np.uint8)
    below = np.clip(np.round(exact) - 1, 0, 255).astype(np.uint8)
    return [out, np.where(near, rounded, out), np.where(near, below, out)]


def near_integer(values, tol=1e-3):
    return np.abs(values - np.round(values)) < tol


def ref_grayscale(image):
    """tf.image.rgb_to_grayscale on uint8: x / 255, weights (0.2989, 0.587, 0.114), * 255.5,
    truncated."""
    gray = (image.astype(F32) * F32(1 / 255)) @ np.array([0.2989, 0.5870, 0.1140], F32)
    return (gray * F32(255.5)).astype(np.uint8)[..., None]


def ref_autocontrast(image):
    out = image.copy()
    for c in range(3):
        channel = image[..., c]
        lo, hi = F32(channel.min()), F32(channel.max())
        if hi > lo:
            scale = F32(255.0) / (hi - lo)
            offset = -lo * scale
            out[..., c] = np.clip(channel.astype(F32) * scale + offset, 0, 255).astype(np.uint8)
    return out


def ref_equalize(image):
    out = image.copy()
    for c in range(3):
        histogram = np.bincount(image[..., c].ravel(), minlength=256)
        nonzero = histogram[histogram != 0]
        step = (nonzero.sum() - nonzero[-1]) // 255
        if step == 0:
            continue
        lut = (np.cumsum(histogram) + step // 2) // step
        lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255)
        out[..., c] = lut[image[..., c]]
    return out


def ref_posterize(image, bits):
    # shift = 8 - bits as a uint8 tensor; TF's shift kernels clamp the count to 7 for uint8.
    shift = min(as_uint8(8 - bits), 7)
    return (image >> shift) << shift


def ref_solarize(image, threshold):
    threshold = as_uint8(threshold)
    return np.where(image < threshold, image, 255 - image)


def ref_solarize_add(image, addition, threshold=128):
    added = np.clip(image.astype(np.int64) + addition, 0, 255).astype(np.uint8)
    return np.where(image < threshold, added, image)


def ref_contrast(image, factor):
    # The grey histogram's sum / 256, i.e. the pixel count / 256, clipped and truncated.
    mean = F32(image.shape[0] * image.shape[1]) / F32(256.0)
    degenerate = np.full(image.shape, np.clip(mean, 0, 255).astype(np.uint8))
    return ref_blend(degenerate, image, factor)


def ref_sharpness(image, factor):
    """Smoothed interior truncated to uint8, borders kept, blended. Where the exact smoothed
    value is within 1e-3 of an integer, either neighbour is accepted as the smoothed pixel."""
    f = image.astype(np.float64)
    h, w = image.shape[:2]
    weights = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0
    smooth = sum(
        weights[i, j] * f[i : i + h - 2, j : j + w - 2] for i in range(3) for j in range(3)
    )
    near = near_integer(smooth)
    candidates = []
    for value in (
        np.floor(smooth),
        np.where(near, np.round(smooth), np.floor(smooth)),
        np.where(near, np.round(smooth) - 1, np.floor(smooth)),
    ):
        degenerate = image.copy()
        degenerate[1:-1, 1:-1] = np.clip(value, 0, 255).astype(np.uint8)  # truncated
        candidates += ref_blend(degenerate, image, factor)
    return candidates


def ref_transform(image, a0, a1, a2, b0, b1, b2):
    """contrib.image.transform (nearest, float32 coordinates, std::round) with the wrap/unwrap
    of the official code: pixels from outside the image become 128."""
    h, w = image.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(F32)
    in_x = F32(a0) * x + F32(a1) * y + F32(a2)
    in_y = F32(b0) * x + F32(b1) * y + F32(b2)
    rx = (np.sign(in_x) * np.floor(np.abs(in_x) + 0.5)).astype(np.int64)  # half away from 0
    ry = (np.sign(in_y) * np.floor(np.abs(in_y) + 0.5)).astype(np.int64)
    inside = (rx >= 0) & (rx < w) & (ry >= 0) & (ry < h)
    out = np.full_like(image, 128)
    out[inside] = image[ry[inside], rx[inside]]
    return out


def ref_rotate(image, degrees):
    radians = F32(degrees) * F32(np.pi / 180.0)
    h, w = F32(image.shape[0] - 1), F32(image.shape[1] - 1)
    cos, sin = np.cos(radians), np.sin(radians)
    x_offset = (w - (cos * w - sin * h)) / F32(2.0)
    y_offset = (h - (sin * w + cos * h)) / F32(2.0)
    return ref_transform(image, cos, -sin, x_offset, sin, cos, y_offset)


def ref_cutout(image, pad_size, center):
    h, w = image.shape[:2]
    cy, cx = center
    lower, upper = max(0, cy - pad_size), max(0, h - cy - pad_size)
    left, right = max(0, cx - pad_size), max(0, w - cx - pad_size)
    out = image.copy()
    out[lower : h - upper, left : w - right] = 128
    return out


def reference(name, image, magnitude, sign):
    """The candidate outputs of the official op at `magnitude` with random sign `sign`: one,
    unless a float32 truncation is ambiguous (see the module docstring)."""
    level = magnitude / 10.0
    factor = level * 1.8 + 0.1
    if name == "Color":
        return ref_blend(np.repeat(ref_grayscale(image), 3, axis=2), image, factor)
    if name == "Contrast":
        return ref_contrast(image, factor)
    if name == "Brightness":
        return ref_blend(np.zeros_like(image), image, factor)
    if name == "Sharpness":
        return ref_sharpness(image, factor)
    ops = {
        "AutoContrast": lambda: ref_autocontrast(image),
        "Equalize": lambda: ref_equalize(image),
        "Invert": lambda: 255 - image,
        "Rotate": lambda: ref_rotate(image, sign * level * 30.0),
        "Posterize": lambda: ref_posterize(image, int(level * 4)),
        "Solarize": lambda: ref_solarize(image, int(level * 256)),
        "ShearX": lambda: ref_transform(image, 1, sign * level * 0.3, 0, 0, 1, 0),
        "ShearY": lambda: ref_transform(image, 1, 0, 0, sign * level * 0.3, 1, 0),
        # translate(image, [-pixels, 0]) is the transform [1, 0, pixels, 0, 1, 0].
        "TranslateX": lambda: ref_transform(image, 1, 0, sign * level * 100.0, 0, 1, 0),
        "TranslateY": lambda: ref_transform(image, 1, 0, 0, 0, 1, sign * level * 100.0),
        "Cutout": lambda: ref_cutout(image, int(level * 40), CENTER),
        "SolarizeAdd": lambda: ref_solarize_add(image, int(level * 110)),
    }
    return [ops[name]()]


# ---- The tests ---------------------------------------------------------------------------------
SIGNED = ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY")


@pytest.mark.parametrize("name", ra.OP_NAMES)
def test_official_tpu_op_equals_the_numpy_reference(photos224, name):
    for magnitude in MAGNITUDES:
        op = ra.op_with_magnitude(name, magnitude, "official_tpu")
        for sign in (1.0, -1.0) if name in SIGNED else (1.0,):
            for image in photos224:
                ours = op(tf.constant(image), tf.constant(sign), CENTER).numpy()
                candidates = reference(name, image, magnitude, sign)
                where = f"{name} m={magnitude} sign={sign}"
                assert ours.dtype == np.uint8 and ours.shape == image.shape, where
                matches = np.any([ours == c for c in candidates], axis=0)
                assert matches.all(), f"{where}: {np.sum(~matches)} pixels differ"
                # The ambiguous pixels are few: the first candidate is met almost everywhere.
                assert np.mean(ours != candidates[0]) < 0.02, where


def test_official_solarize_wraps_its_threshold(photos224):
    image = photos224[0]
    run = lambda m: ra.op_with_magnitude("Solarize", m, "official_tpu")(image, 1.0, CENTER)  # noqa: E731
    np.testing.assert_array_equal(run(10), 255 - image)  # threshold 256 -> 0: all inverted
    np.testing.assert_array_equal(run(20), 255 - image)  # 512 -> 0
    np.testing.assert_array_equal(run(15), np.where(image < 128, image, 255 - image))  # 384 -> 128


def test_official_contrast_blends_with_pixel_count_over_256_not_the_mean(photos224):
    image = photos224[1]
    degenerate = np.full(image.shape, 224 * 224 // 256, np.float32)  # 196
    expected = np.clip(degenerate + np.float32(1.9) * (image - degenerate), 0, 255)
    ours = ra.op_with_magnitude("Contrast", 10, "official_tpu")(image, 1.0, CENTER).numpy()
    np.testing.assert_array_equal(ours, expected.astype(np.uint8))
    pil = ra.op_with_magnitude("Contrast", 10, "pil")(image, 1.0, CENTER).numpy()
    assert np.abs(pil.astype(int) - ours).mean() > 10  # the true mean is far from 196


def test_one_layer_at_m10_inverts_and_keeps_images_as_each_variant_says(photos224):
    """One layer at m=10 over 400 seeds, the op chosen uniformly: official_tpu inverts with
    Invert and Solarize (2/16) and changes every image; pil inverts with Invert only (1/16) and
    leaves the image alone with Solarize (1/16); model_garden draws from 17 choices, the 17th
    doing nothing (2/17 inverted, 1/17 unchanged). Each share within 3 binomial sd."""
    expected = {
        "official_tpu": (2 / 16, 0.0),
        "pil": (1 / 16, 1 / 16),
        "model_garden": (2 / 17, 1 / 17),
    }
    image = tf.constant(photos224[2][::7, ::7])  # 32x32 is enough to tell the ops apart
    seeds = tf.data.Dataset.range(400).map(lambda i: tf.stack([tf.constant(5, tf.int64), i]))
    augment = lambda s: tf.stack([ra.randaugment(image, 1, 10, v, s) for v in expected])  # noqa: E731
    outs = next(iter(seeds.map(augment).batch(400))).numpy()
    for k, (variant, (inverted, unchanged)) in enumerate(expected.items()):
        shares = [np.mean(np.all(outs[:, k] == v, axis=(1, 2, 3))) for v in (255 - image, image)]
        for share, p in zip(shares, (inverted, unchanged), strict=True):
            assert abs(share - p) <= 3 * np.sqrt(max(p, 1 / 400) * (1 - p) / 400), (variant, shares)
