import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from official.data import preprocess
from tests.data.conftest import encode


def _windows(shape, draws, **kwargs):
    seeds = tf.data.Dataset.range(draws).map(lambda i: tf.stack([tf.constant(3, tf.int64), i]))
    windows = seeds.map(lambda s: tf.stack(preprocess.random_window(shape, 224, seed=s, **kwargs)))
    return next(iter(windows.batch(draws))).numpy()


def test_random_crops_stay_within_area_and_aspect_ranges():
    y, x, h, w = _windows(tf.constant([375, 500, 3]), 400).T
    area = h * w / (375 * 500)
    aspect = w / h
    assert np.all((y >= 0) & (x >= 0) & (y + h <= 375) & (x + w <= 500))
    assert area.min() >= 0.1 and area.max() <= 1.0
    # Integer rounding of the window moves the aspect ratio by at most a pixel's worth.
    assert aspect.min() >= 3 / 4 - 0.02 and aspect.max() <= 4 / 3 + 0.02
    assert area.std() > 0.1 and len({tuple(wi) for wi in zip(y, x, h, w, strict=True)}) > 300


def test_random_crop_falls_back_to_center_crop_when_no_window_fits():
    # A 10x1000 strip has no window with aspect <= 4/3 covering >= 10% of it.
    shape = tf.constant([10, 1000, 3])
    window = [int(v) for v in preprocess.random_window(shape, 224)]
    side = int(224 / 256 * 10)
    assert window == [(10 - side + 1) // 2, (1000 - side + 1) // 2, side, side]


def test_center_window_formula():
    assert [int(v) for v in preprocess.center_window(tf.constant([375, 500, 3]), 224)] == [
        24,
        86,
        328,
        328,
    ]  # side = int(224 / 256 * 375) = 328


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decode_and_crop_returns_exactly_the_window(photos, fmt):
    data = encode(photos["coffee"], fmt)
    full = tf.io.decode_image(data, channels=3).numpy()
    window = lambda shape: (tf.constant(37), tf.constant(101), tf.constant(200), tf.constant(150))  # noqa: E731
    crop = preprocess.decode_and_crop(tf.constant(data), window).numpy()
    np.testing.assert_array_equal(crop, full[37:237, 101:251])


def test_eval_crop_matches_a_pil_reference(photos):
    data = encode(photos["rocket"], quality=95)  # 427 x 640
    ours = preprocess.crop_for_eval(tf.constant(data), 224).numpy()
    side = int(224 / 256 * 427)
    top, left = (427 - side + 1) // 2, (640 - side + 1) // 2
    reference = Image.open(io.BytesIO(data)).convert("RGB")
    reference = reference.crop((left, top, left + side, top + side)).resize(
        (224, 224), Image.BICUBIC
    )
    diff = np.abs(ours - np.asarray(reference, np.float32))
    # PIL's bicubic antialiases when shrinking and tf.image.resize does not: allow a few levels
    # on average, never a shifted or mis-sized crop (which would give tens of levels).
    assert ours.shape == (224, 224, 3)
    assert diff.mean() < 2.0, diff.mean()
    assert np.percentile(diff, 99) < 25


@pytest.mark.parametrize("method", ["tf2", "official_tpu"])
def test_eval_preprocessing_in_dataset_equals_eager(photos, method):
    data = tf.constant(encode(photos["chelsea"]))
    eager = preprocess.preprocess_for_eval(data, 96, method=method).numpy()
    ds = tf.data.Dataset.from_tensors(data)
    ds = ds.map(lambda b: preprocess.preprocess_for_eval(b, 96, method=method))
    np.testing.assert_allclose(next(iter(ds)).numpy(), eager, atol=1e-5)


@pytest.mark.parametrize("method", ["tf2", "official_tpu"])
def test_train_crop_in_dataset_equals_eager(photos, method):
    data = tf.constant(encode(photos["coffee"]))
    eager = preprocess.crop_for_train(data, 64, seed=[3, 1], method=method).numpy()
    ds = tf.data.Dataset.from_tensors(data)
    ds = ds.map(lambda b: preprocess.crop_for_train(b, 64, seed=[3, 1], method=method))
    np.testing.assert_array_equal(next(iter(ds)).numpy(), eager)


def test_normalize_uses_imagenet_statistics():
    pixel = tf.constant([[[123.68, 116.779, 103.939]]])
    np.testing.assert_allclose(preprocess.normalize(pixel).numpy(), 0.0, atol=1e-6)
    white = preprocess.normalize(tf.fill([1, 1, 3], 255.0)).numpy()[0, 0]
    np.testing.assert_allclose(
        white, (255 - np.array(preprocess.MEAN_RGB)) / preprocess.STDDEV_RGB, rtol=1e-6
    )
    assert preprocess.normalize(pixel, tf.bfloat16).dtype == tf.bfloat16


def test_train_crop_has_the_requested_size_and_dtype(photos):
    data = tf.constant(encode(photos["astronaut"]))
    image = preprocess.crop_for_train(data, 160)
    assert image.shape == (160, 160, 3) and image.dtype == tf.uint8


# ---- official_tpu: tensorflow/tpu resnet_preprocessing.py (docs/data_ops.md) --------------------
def keys_cubic(x, a=-0.75):
    """Keys' cubic convolution kernel; TF1's resize_bicubic uses a = -0.75."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def tf1_bicubic_matrix(in_size, out_size):
    """[out, in] weights of TF1 resize_bicubic (align_corners and half-pixel centres off): output
    o samples input o * in / out, four taps clamped to the border, the fraction quantized to
    1/1024 as the kernel's coefficient table is."""
    matrix = np.zeros((out_size, in_size))
    scale = np.float32(in_size / out_size)
    for o in range(out_size):
        position = np.float32(o) * scale
        base = int(np.floor(position))
        t = np.rint((position - base) * 1024) / 1024
        for tap, distance in zip((-1, 0, 1, 2), (1 + t, t, 1 - t, 2 - t), strict=True):
            matrix[o, min(max(base + tap, 0), in_size - 1)] += keys_cubic(distance)
    return matrix


def official_eval_reference(data: bytes, size: int, padding: int = 32):
    """The official eval crop and resize, in NumPy: side int(size / (size + 32) * min(h, w)),
    offsets ((h - side + 1) // 2, (w - side + 1) // 2), decoded with the official code's
    decode_and_crop_jpeg (its pixels at the crop edge differ from a full decode's), TF1 bicubic,
    no clipping."""
    h, w, _ = tf.image.extract_jpeg_shape(data).numpy()
    side = int(np.float32(size / (size + padding)) * np.float32(min(h, w)))
    window = [(h - side + 1) // 2, (w - side + 1) // 2, side, side]
    crop = tf.image.decode_and_crop_jpeg(data, window, channels=3).numpy().astype(np.float64)
    matrix = tf1_bicubic_matrix(side, size)
    return np.stack([matrix @ crop[..., c] @ matrix.T for c in range(3)], axis=-1)


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee"])
def test_official_eval_equals_a_tf1_bicubic_reference_at_224(photos, name):
    data = encode(photos[name], quality=95)
    reference = official_eval_reference(data, 224)
    ours = preprocess.crop_for_eval(tf.constant(data), 224, method="official_tpu").numpy()
    diff = np.abs(np.clip(ours, 0, 255) - np.clip(reference, 0, 255))
    assert ours.shape == (224, 224, 3) and diff.max() <= 1.0, diff.max()
    # TF2's resize (half-pixel centres, a = -0.5) is not that: over a grey level apart on average.
    tf2 = preprocess.crop_for_eval(tf.constant(data), 224, method="tf2").numpy()
    assert np.abs(tf2 - np.clip(reference, 0, 255)).mean() > 1.0
    # Normalized with 255 x the torchvision mean/std, in the model's dtype.
    normalized = preprocess.preprocess_for_eval(tf.constant(data), 224, method="official_tpu")
    mean, std = 255 * np.array([0.485, 0.456, 0.406]), 255 * np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(normalized.numpy(), (ours - mean) / std, atol=1e-5)


def test_official_normalize_in_bfloat16_computes_in_bfloat16():
    pixel = tf.constant([[[200.7, 100.2, 3.0]]])
    ours = preprocess.normalize(pixel, tf.bfloat16, "official_tpu")
    as_bf16 = lambda v: tf.cast(tf.constant(v, tf.float32), tf.bfloat16)  # noqa: E731
    expected = (as_bf16(pixel) - as_bf16(preprocess.OFFICIAL_MEAN_RGB)) / as_bf16(
        preprocess.OFFICIAL_STDDEV_RGB
    )
    assert ours.dtype == tf.bfloat16
    np.testing.assert_array_equal(ours.numpy(), expected.numpy())


def test_train_crop_covers_at_least_10_percent_over_2000_draws():
    shape = tf.constant([375, 500, 3])
    y, x, h, w = _windows(shape, 2000).T
    area = h * w / (375 * 500)
    assert area.min() >= 0.1 and np.all((y >= 0) & (x >= 0) & (y + h <= 375) & (x + w <= 500))
    # min_object_covered = 0.08 (the old value) lets several percent fall below 10%.
    _, _, h, w = _windows(shape, 2000, min_object_covered=0.08).T
    assert np.mean(h * w / (375 * 500) < 0.1) > 0.02


@pytest.mark.parametrize(("mode", "whole"), [("L", True), ("RGB", False)])
def test_official_fallback_resizes_a_greyscale_jpeg_whole(mode, whole):
    """A 12x1000 strip has no window of aspect <= 4/3 covering >= 10% of it. The official code
    then center-crops an RGB JPEG but resizes a greyscale one whole (it compares the stored
    channel count, 1, with the decoded 3); tf2 center-crops both."""
    strip = np.random.default_rng(0).integers(0, 255, (12, 1000, 3), dtype=np.uint8)
    data = tf.constant(encode(strip, mode=mode))
    side = int(224 / 256 * 12)

    def crop(method):
        window = lambda shape: preprocess.random_window(shape, 224, seed=[1, 2], method=method)  # noqa: E731
        return preprocess.decode_and_crop(data, window).shape[:2]

    assert crop("official_tpu") == ((12, 1000) if whole else (side, side))
    assert crop("tf2") == (side, side)


def test_crop_padding_87_5_is_round_size_over_7():
    assert [preprocess.crop_padding_87_5(s) for s in (160, 192, 224, 256, 320)] == [
        23,
        27,
        32,
        37,
        46,
    ]  # 160 / 7 = 22.9, 192 / 7 = 27.4, 224 / 7 = 32, 256 / 7 = 36.6, 320 / 7 = 45.7


def test_train_crop_is_reproducible_and_official_truncates(photos):
    data = tf.constant(encode(photos["chelsea"]))
    first = preprocess.crop_for_train(data, 96, seed=[4, 2], method="official_tpu").numpy()
    again = preprocess.crop_for_train(data, 96, seed=[4, 2], method="official_tpu").numpy()
    other = preprocess.crop_for_train(data, 96, seed=[4, 3], method="official_tpu").numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # Same window and flip: official truncates the TF1 bicubic output, tf2 rounds its own.
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split([4, 2], 2))
    window = lambda shape: preprocess.random_window(shape, 96, seed=crop_seed)  # noqa: E731
    raw = preprocess.decode_and_crop(data, window)
    resized = tf.image.stateless_random_flip_left_right(
        tf.compat.v1.image.resize_bicubic(raw[None], [96, 96])[0], flip_seed
    ).numpy()
    np.testing.assert_array_equal(first, np.clip(resized, 0, 255).astype(np.uint8))
