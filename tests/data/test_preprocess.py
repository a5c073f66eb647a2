import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from official.data import preprocess
from tests.data.conftest import encode


def test_random_crops_stay_within_area_and_aspect_ranges():
    shape = tf.constant([375, 500, 3])
    windows = np.array([[int(v) for v in preprocess.random_window(shape, 224)] for _ in range(400)])
    y, x, h, w = windows.T
    area = h * w / (375 * 500)
    aspect = w / h
    assert np.all((y >= 0) & (x >= 0) & (y + h <= 375) & (x + w <= 500))
    assert area.min() >= 0.08 and area.max() <= 1.0
    # Integer rounding of the window moves the aspect ratio by at most a pixel's worth.
    assert aspect.min() >= 3 / 4 - 0.02 and aspect.max() <= 4 / 3 + 0.02
    assert area.std() > 0.1 and len({tuple(wi) for wi in windows}) > 300  # really random


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


def test_eval_preprocessing_in_dataset_equals_eager(photos):
    data = tf.constant(encode(photos["chelsea"]))
    eager = preprocess.preprocess_for_eval(data, 96).numpy()
    ds = tf.data.Dataset.from_tensors(data).map(lambda b: preprocess.preprocess_for_eval(b, 96))
    np.testing.assert_allclose(next(iter(ds)).numpy(), eager, atol=1e-5)


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
