"""How far the data-op settings are apart, on scikit-image's astronaut, chelsea and coffee
(the figures of docs/data_ops.md):

1. each RandAugment op, `official_tpu` vs `pil`, at magnitudes 0, 5, 10, 15, 20, 30 on the
   photos at 224x224 (random sign +1, one Cutout centre): bit-identical or the mean/max
   difference in grey levels;
2. one RandAugment layer at m=10 over 400 seeds: the share of images left unchanged / inverted;
3. the training crop: the share of 2,000 windows covering less than 10% of a 375x500 image
   with min_object_covered 0.08 and 0.1;
4. the eval preprocessing at 224: `tf2` vs `official_tpu` in grey levels and after
   normalization, and the eval crop side of padding 32 vs 87.5% at the recipe sizes.

    python benchmarks/data_ops_differences.py
"""

from __future__ import annotations

import io
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks import sample_photos  # noqa: E402
from official.data import preprocess, randaugment  # noqa: E402
from official.training.speed import machine_description  # noqa: E402

MAGNITUDES = (0, 5, 10, 15, 20, 30)


def load_photos() -> dict:
    """scikit-image's sample photos (benchmarks/sample_photos.py)."""
    data = sample_photos.skimage_data("data_ops_differences.py")
    return {"astronaut": data.astronaut(), "chelsea": data.chelsea(), "coffee": data.coffee()}


PHOTOS: dict = {}  # filled by main()


def ops_table(images) -> None:
    print("1. RandAugment op, official_tpu vs pil (grey levels: mean / max over 3 photos)")
    identical = []
    for name in randaugment.OP_NAMES:
        cells = []
        for m in MAGNITUDES:
            ours = [
                randaugment.op_with_magnitude(name, m, v)(tf.constant(im), 1.0, (100, 60))
                for v in ("official_tpu", "pil")
                for im in images
            ]
            diff = np.abs(np.stack(ours[:3]).astype(int) - np.stack(ours[3:]))
            cells.append("same" if diff.max() == 0 else f"{diff.mean():.1f}/{diff.max()}")
        if all(c == "same" for c in cells):
            identical.append(name)
        print(
            f"  {name:13s} "
            + "  ".join(f"m={m}: {c:9s}" for m, c in zip(MAGNITUDES, cells, strict=True))
        )
    print(f"  bit-identical at every magnitude: {len(identical)} of 16 ({', '.join(identical)})")
    for image, name in zip(images, PHOTOS, strict=True):
        grey = tf.image.rgb_to_grayscale(image).numpy().mean()
        print(f"  Contrast's degenerate on {name}: official 196, mean grey level {grey:.1f}")


def draws_table(images, draws: int = 400) -> None:
    print(f"2. One layer at m=10, {draws} seeds per photo: unchanged / inverted")
    for variant in randaugment.RANDAUGMENT_VARIANTS:
        unchanged = inverted = 0
        for image in images:
            seeds = tf.data.Dataset.range(draws).map(
                lambda i: tf.stack([tf.constant(1, tf.int64), i])
            )
            outs = seeds.map(lambda s: randaugment.randaugment(image, 1, 10, variant, s))  # noqa: B023
            outs = next(iter(outs.batch(draws))).numpy()
            unchanged += np.all(outs == image, axis=(1, 2, 3)).sum()
            inverted += np.all(outs == 255 - image, axis=(1, 2, 3)).sum()
        total = draws * len(images)
        print(
            f"  {variant:13s} {unchanged / total:6.1%} unchanged  {inverted / total:6.1%} inverted"
        )


def crop_table(draws: int = 2000) -> None:
    print(f"3. Training crop on 375x500, {draws} windows: share covering < 10% of the image")
    for covered in (0.08, 0.1):
        seeds = tf.data.Dataset.range(draws).map(lambda i: tf.stack([tf.constant(2, tf.int64), i]))
        windows = seeds.map(
            lambda s: tf.stack(
                preprocess.random_window(
                    tf.constant([375, 500, 3]),
                    224,
                    seed=s,
                    min_object_covered=covered,  # noqa: B023
                )
            )
        )
        _, _, h, w = next(iter(windows.batch(draws))).numpy().T
        print(f"  min_object_covered {covered}: {np.mean(h * w / (375 * 500) < 0.1):.1%}")


def eval_table() -> None:
    print("4. Eval at 224: tf2 vs official_tpu (grey levels after clipping; normalized)")
    for name, photo in PHOTOS.items():
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, "JPEG", quality=95)
        data = tf.constant(buffer.getvalue())
        crops = [
            preprocess.crop_for_eval(data, 224, method=m).numpy() for m in ("tf2", "official_tpu")
        ]
        grey = np.abs(crops[0] - np.clip(crops[1], 0, 255))
        inputs = [
            preprocess.preprocess_for_eval(data, 224, method=m).numpy()
            for m in ("tf2", "official_tpu")
        ]
        same_pixels = preprocess.normalize(crops[1], method="tf2").numpy() - inputs[1]
        print(
            f"  {name:10s} {photo.shape[1]}x{photo.shape[0]}: resize {grey.mean():.2f} mean, "
            f"{grey.max():.0f} max; normalized inputs {np.abs(inputs[0] - inputs[1]).mean():.3f} "
            f"mean; mean/std alone {np.abs(same_pixels).max():.4f} max"
        )
    print("  eval crop side on a 375-pixel short side, padding 32 vs 87.5% (round(size / 7)):")
    for size in (160, 192, 224, 256, 320):
        sides = [
            int(preprocess.center_window(tf.constant([375, 500, 3]), size, pad)[2])
            for pad in (32, preprocess.crop_padding_87_5(size))
        ]
        print(f"    {size}: {sides[0]} vs {sides[1]}")


def main() -> None:
    PHOTOS.update(load_photos())
    print(machine_description())
    images = [
        tf.constant(np.asarray(Image.fromarray(p).resize((224, 224), Image.BICUBIC)))
        for p in PHOTOS.values()
    ]
    ops_table(images)
    draws_table(images)
    crop_table()
    eval_table()


if __name__ == "__main__":
    main()
