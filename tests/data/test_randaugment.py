"""Each RandAugment op against its definition (SPEC 2.5), with NumPy/PIL references."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from official.data import randaugment as ra


@pytest.fixture(scope="module")
def image(photos):
    # A real photo, small enough for quick tests; odd and square so rotations are exact.
    return np.asarray(Image.fromarray(photos["chelsea"]).resize((65, 65)), np.uint8)


def run(fn, image):
    return np.asarray(fn(tf.constant(image)))


def blend_ref(degenerate, image, factor):
    out = degenerate.astype(np.float32) + factor * (image.astype(np.float32) - degenerate)
    return np.clip(out, 0, 255).astype(np.uint8)


def test_op_table_has_the_16_official_ops():
    assert len(ra.OP_NAMES) == 16 and len(set(ra.OP_NAMES)) == 16


def test_autocontrast_stretches_each_channel_to_full_range(image):
    low = (image // 4 + 50).astype(np.uint8)  # channels span about 50..113
    out = run(ra.autocontrast, low)
    lo, hi = low.min(axis=(0, 1)).astype(np.float32), low.max(axis=(0, 1)).astype(np.float32)
    expected = np.clip((low - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    assert out.min() == 0 and out.max() == 255


def test_equalize_matches_pil(image):
    out = run(ra.equalize, image)
    np.testing.assert_array_equal(out, np.asarray(ImageOps.equalize(Image.fromarray(image))))


def test_invert(image):
    np.testing.assert_array_equal(run(ra.invert, image), 255 - image)


def test_rotate_by_90_degrees_is_rot90_and_magnitude_maps_to_30_degrees(image):
    np.testing.assert_array_equal(run(lambda im: ra.rotate(im, 90.0), image), np.rot90(image))
    at_10 = run(ra.op_with_magnitude("Rotate", 10), image)
    plus = run(lambda im: ra.rotate(im, 30.0), image)
    minus = run(lambda im: ra.rotate(im, -30.0), image)
    assert np.array_equal(at_10, plus) or np.array_equal(at_10, minus)
    # Corners come from outside the image and are filled with 128.
    assert np.all(plus[0, 0] == 128)


def test_posterize_keeps_the_top_bits(image):
    out = run(ra.op_with_magnitude("Posterize", 10), image)  # int(10/10 * 4) = 4 bits
    np.testing.assert_array_equal(out, image & 0xF0)
    np.testing.assert_array_equal(run(ra.op_with_magnitude("Posterize", 5), image), image & 0xC0)


def test_solarize_inverts_at_and_above_the_threshold(image):
    out = run(ra.op_with_magnitude("Solarize", 5), image)  # threshold int(0.5 * 256) = 128
    np.testing.assert_array_equal(out, np.where(image < 128, image, 255 - image))
    np.testing.assert_array_equal(run(ra.op_with_magnitude("Solarize", 10), image), image)


def test_solarize_add(image):
    out = run(ra.op_with_magnitude("SolarizeAdd", 10), image)  # + int(110) below 128
    expected = np.where(image < 128, np.clip(image.astype(int) + 110, 0, 255), image)
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


def test_enhance_ops_blend_with_their_degenerate_images(image):
    factor = 10 / 10 * 1.8 + 0.1  # magnitude 10 -> 1.9
    gray = np.asarray(tf.image.rgb_to_grayscale(image))
    np.testing.assert_array_equal(
        run(ra.op_with_magnitude("Color", 10), image),
        blend_ref(np.repeat(gray, 3, axis=2), image, factor),
    )
    np.testing.assert_array_equal(
        run(ra.op_with_magnitude("Brightness", 10), image),
        blend_ref(np.zeros_like(image), image, factor),
    )
    mean = gray.astype(np.float32).mean()
    np.testing.assert_allclose(
        run(ra.op_with_magnitude("Contrast", 10), image).astype(int),
        blend_ref(np.full(image.shape, mean, np.float32), image, factor).astype(int),
        atol=1,
    )


def test_sharpness_blends_with_a_smoothed_interior(image):
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13
    f = image.astype(np.float32)
    smooth = image.copy()
    inner = sum(kernel[i, j] * f[i : i + 63, j : j + 63] for i in range(3) for j in range(3))
    smooth[1:-1, 1:-1] = np.clip(np.round(inner), 0, 255).astype(np.uint8)
    out = run(lambda im: ra.sharpness(im, 0.0), image)
    np.testing.assert_allclose(out.astype(int), smooth.astype(int), atol=1)
    np.testing.assert_array_equal(out[0], image[0])  # borders unchanged
    np.testing.assert_array_equal(run(lambda im: ra.sharpness(im, 1.0), image), image)


def test_shear_and_translate_follow_their_affine_maps(image):
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    src_x = np.round(xs + 0.2 * ys).astype(int)  # ShearX: out(x, y) = in(x + l * y, y)
    inside = src_x < w
    expected = np.full_like(image, 128)
    expected[inside] = image[ys[inside], src_x[inside]]
    np.testing.assert_array_equal(run(lambda im: ra.shear_x(im, 0.2), image), expected)
    np.testing.assert_array_equal(
        run(lambda im: ra.shear_y(im, 0.2), image.transpose(1, 0, 2)),
        expected.transpose(1, 0, 2),
    )
    right = run(lambda im: ra.translate_x(im, 10.0), image)
    np.testing.assert_array_equal(right[:, 10:], image[:, :-10])
    assert np.all(right[:, :10] == 128)
    down = run(lambda im: ra.translate_y(im, 10.0), image)
    np.testing.assert_array_equal(down[10:], image[:-10])


def test_translate_magnitude_is_100_pixels_at_level_10():
    big = np.random.default_rng(0).integers(0, 120, (150, 150, 3), dtype=np.uint8)
    out = run(ra.op_with_magnitude("TranslateX", 10), big)
    # The content moved 100 pixels, to the right or to the left (random sign).
    moved_right = np.array_equal(out[:, 100:], big[:, :50])
    moved_left = np.array_equal(out[:, :50], big[:, 100:])
    assert moved_right or moved_left


def test_cutout_fills_one_square_with_128():
    base = np.full((64, 64, 3), 7, np.uint8)
    out = run(ra.op_with_magnitude("Cutout", 10), base)  # half-side int(40) -> up to 80x80
    filled = np.all(out == 128, axis=2)
    rows, cols = np.where(filled)
    assert filled.sum() > 0
    assert filled[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # a rectangle
    assert np.all(out[~filled] == 7)
    out = run(lambda im: ra.cutout(im, 5), base)
    assert 1 <= np.all(out == 128, axis=2).sum() <= 100


@pytest.mark.parametrize(
    "name", ["Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout", "SolarizeAdd"]
)
def test_magnitude_zero_is_identity(image, name):
    np.testing.assert_array_equal(run(ra.op_with_magnitude(name, 0), image), image)


@pytest.mark.parametrize("name", ra.OP_NAMES)
def test_each_op_runs_the_same_inside_tf_data(image, name):
    op = ra.op_with_magnitude(name, 7)
    tf.random.set_seed(3)
    eager = run(op, image)
    tf.random.set_seed(3)
    graph = next(iter(tf.data.Dataset.from_tensors(tf.constant(image)).map(op))).numpy()
    assert graph.shape == image.shape and graph.dtype == np.uint8
    if name not in ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout"):
        np.testing.assert_array_equal(graph, eager)  # deterministic ops agree exactly


def test_randaugment_applies_ops_and_keeps_shape(image):
    tf.random.set_seed(0)
    outs = [run(lambda im: ra.randaugment(im, 2, 10), image) for _ in range(10)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
    assert sum(not np.array_equal(o, image) for o in outs) >= 8
    with pytest.raises(ValueError, match="expects a uint8 image"):
        ra.randaugment(tf.zeros([4, 4, 3]), 2, 10)
    with pytest.raises(ValueError, match="Unknown RandAugment op 'Blur'"):
        ra.op_with_magnitude("Blur", 5)
