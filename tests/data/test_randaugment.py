"""Each RandAugment op against its definition (docs/REFERENCE.md §2.5, docs/data_ops.md), with
NumPy/PIL references: the `pil` variant against PIL itself, `model_garden`'s fill, the seeded draws.
tests/data/test_randaugment_official.py checks `official_tpu` against the official formulas."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from official.data import randaugment as ra


@pytest.fixture(scope="module")
def image(photos):
    # A real photo, small enough for quick tests; odd and square so rotations are exact.
    return np.asarray(Image.fromarray(photos["chelsea"]).resize((65, 65)), np.uint8)


def run(fn, image):
    return np.asarray(fn(tf.constant(image)))


def at(name, magnitude, variant="pil", sign=1.0, center=(0, 0)):
    """The op at `magnitude` as a function of the image, with its random sign/centre forced."""
    op = ra.op_with_magnitude(name, magnitude, variant)
    return lambda im: op(im, tf.constant(sign), center)


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
    for sign in (1.0, -1.0):
        expected = ra.rotate(tf.constant(image), sign * 30).numpy()
        np.testing.assert_array_equal(run(at("Rotate", 10, sign=sign), image), expected)
    # Corners come from outside the image and are filled with 128.
    assert np.all(run(lambda im: ra.rotate(im, 30.0), image)[0, 0] == 128)


@pytest.mark.parametrize(("magnitude", "bits"), [(0, 1), (2, 1), (5, 2), (10, 4), (15, 6), (30, 8)])
def test_pil_posterize_is_pils_with_bits_in_1_to_8(image, magnitude, bits):
    # int(m / 10 * 4) bits, clamped to PIL's range 1..8 (0 bits would be a black image).
    expected = np.asarray(ImageOps.posterize(Image.fromarray(image), bits))
    np.testing.assert_array_equal(run(at("Posterize", magnitude), image), expected)


@pytest.mark.parametrize("magnitude", [0, 5, 10, 15])
def test_pil_solarize_is_pils(image, magnitude):
    threshold = int(magnitude / 10 * 256)  # above 255 (m=10, 15): nothing is inverted
    expected = np.asarray(ImageOps.solarize(Image.fromarray(image), threshold))
    np.testing.assert_array_equal(run(at("Solarize", magnitude), image), expected)
    if magnitude >= 10:
        np.testing.assert_array_equal(expected, image)


def test_solarize_add(image):
    out = run(at("SolarizeAdd", 10), image)  # + int(110) below 128
    expected = np.where(image < 128, np.clip(image.astype(int) + 110, 0, 255), image)
    np.testing.assert_array_equal(out, expected.astype(np.uint8))


@pytest.mark.parametrize("magnitude", [0, 5, 10, 15, 30])
@pytest.mark.parametrize("name", ["Contrast", "Brightness", "Sharpness"])
def test_pil_enhance_ops_are_pils(image, name, magnitude):
    factor = magnitude / 10 * 1.8 + 0.1
    expected = getattr(ImageEnhance, name)(Image.fromarray(image)).enhance(factor)
    np.testing.assert_array_equal(run(at(name, magnitude), image), np.asarray(expected))


def test_color_blends_with_the_grey_image(image):
    factor = 10 / 10 * 1.8 + 0.1  # magnitude 10 -> 1.9
    gray = np.asarray(tf.image.rgb_to_grayscale(image))
    np.testing.assert_array_equal(
        run(at("Color", 10), image), blend_ref(np.repeat(gray, 3, axis=2), image, factor)
    )


def test_sharpness_degenerate_is_pils_smooth_filter_and_official_truncates(image):
    smooth = np.asarray(Image.fromarray(image).filter(ImageFilter.SMOOTH))  # rounds, keeps borders
    np.testing.assert_array_equal(run(lambda im: ra.sharpness(im, 0.0), image), smooth)
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13
    f = image.astype(np.float64)
    inner = sum(kernel[i, j] * f[i : i + 63, j : j + 63] for i in range(3) for j in range(3))
    truncated = run(lambda im: ra.sharpness(im, 0.0, truncate=True), image)
    clear = np.abs(inner - np.round(inner)) > 1e-3  # away from integers float order cannot matter
    np.testing.assert_array_equal(truncated[1:-1, 1:-1][clear], np.floor(inner[clear]))
    np.testing.assert_array_equal(truncated[0], image[0])
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
    # PIL's and the official convention: output column x shows input column x + pixels.
    left = run(lambda im: ra.translate_x(im, 10.0), image)
    np.testing.assert_array_equal(left[:, :-10], image[:, 10:])
    assert np.all(left[:, -10:] == 128)
    up = run(lambda im: ra.translate_y(im, 10.0), image)
    np.testing.assert_array_equal(up[:-10], image[10:])
    pil = Image.fromarray(image).transform(image.shape[1::-1], Image.AFFINE, (1, 0, 10, 0, 1, 0))
    np.testing.assert_array_equal(left[:, :-10], np.asarray(pil)[:, :-10])


def test_translate_magnitude_is_100_pixels_at_level_10_with_its_sign():
    big = np.random.default_rng(0).integers(0, 120, (150, 150, 3), dtype=np.uint8)
    moved_left = run(at("TranslateX", 10, sign=1.0), big)
    np.testing.assert_array_equal(moved_left[:, :50], big[:, 100:])
    moved_right = run(at("TranslateX", 10, sign=-1.0), big)
    np.testing.assert_array_equal(moved_right[:, 100:], big[:, :50])


def test_cutout_fills_the_square_around_its_centre_with_128():
    base = np.full((64, 64, 3), 7, np.uint8)
    out = run(at("Cutout", 10, center=(20, 50)), base)  # half-side int(40): rows 0..59, cols 10..63
    expected = base.copy()
    expected[0:60, 10:64] = 128
    np.testing.assert_array_equal(out, expected)
    out = run(lambda im: ra.cutout(im, 5, (30, 30)), base)
    assert np.all(out == 128, axis=2).sum() == 100


@pytest.mark.parametrize("variant", ra.RANDAUGMENT_VARIANTS)
@pytest.mark.parametrize(
    "name", ["Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout", "SolarizeAdd"]
)
def test_magnitude_zero_is_identity(image, name, variant):
    np.testing.assert_array_equal(run(at(name, 0, variant), image), image)


def test_model_garden_reflects_at_the_border_instead_of_filling(image):
    out = run(at("TranslateX", 1, "model_garden"), image)  # 10 pixels
    np.testing.assert_array_equal(out[:, :-10], image[:, 10:])
    np.testing.assert_array_equal(out[:, -10:], image[:, -1:-11:-1])  # mirrored, edge repeated
    rotated = run(at("Rotate", 10, "model_garden"), image)
    assert not np.any(np.all(rotated == 128, axis=2))
    # Its pixel arithmetic is official_tpu's.
    for name in ("Solarize", "Contrast", "Posterize", "Sharpness"):
        np.testing.assert_array_equal(
            run(at(name, 10, "model_garden"), image), run(at(name, 10, "official_tpu"), image)
        )


@pytest.mark.parametrize("name", ra.OP_NAMES)
def test_each_op_runs_the_same_inside_tf_data(image, name):
    ops = [ra.op_with_magnitude(name, 7, variant) for variant in ra.RANDAUGMENT_VARIANTS]
    args = (tf.constant(-1.0), (tf.constant(9), tf.constant(33)))
    eager = np.stack([op(tf.constant(image), *args).numpy() for op in ops])
    dataset = tf.data.Dataset.from_tensors(tf.constant(image))
    graph = dataset.map(lambda im: tf.stack([op(im, *args) for op in ops]))
    np.testing.assert_array_equal(next(iter(graph)).numpy(), eager)


def test_randaugment_is_reproducible_from_its_seed_and_keeps_shape(image):
    def augment(i):
        return ra.randaugment(tf.constant(image), 2, 10, seed=[1, i]).numpy()

    outs = [augment(i) for i in range(10)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
    assert sum(not np.array_equal(o, image) for o in outs) >= 8
    assert len({o.tobytes() for o in outs}) >= 8  # different seeds, different draws
    assert all(np.array_equal(augment(i), outs[i]) for i in range(10))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="expects a uint8 image"):
        ra.randaugment(tf.zeros([4, 4, 3]), 2, 10)
    with pytest.raises(ValueError, match="Unknown RandAugment op 'Blur'"):
        ra.op_with_magnitude("Blur", 5)
    with pytest.raises(ValueError, match="RandAugment variant 'timm'; use one of"):
        ra.op_with_magnitude("Invert", 5, "timm")
    with pytest.raises(ValueError, match="magnitude -1 is negative"):
        ra.randaugment(tf.zeros([4, 4, 3], tf.uint8), 2, -1)
