"""Images/second per CPU core of the ResNet-RS training input pipeline (SPEC 2.2) at 224.

Real photos shipped with scikit-image are re-encoded as JPEGs of ImageNet-like sizes (about
500x375, and larger) and held in memory; tf.data runs the per-image work on ONE thread (a
private threadpool of size 1), so the figures are per core. Variants, timed in alternating rounds:
  fused        decode_and_crop_jpeg + bicubic resize + flip    (what the pipeline does)
  full+slice   decode_jpeg of the whole image, then slice      (the same crop, unfused)
  fused+RA     fused, then RandAugment N=2, M=10
Prints the median images/second, the fused/full ratio and the share of time RandAugment adds.

    python benchmarks/input_pipeline.py [--rounds 3] [--batches 6]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skdata  # noqa: E402

from official.data import preprocess, randaugment  # noqa: E402

SIZES = [(500, 375), (500, 333), (375, 500), (640, 480), (800, 600)]  # ImageNet-like (w, h)


def make_jpegs() -> list[bytes]:
    photos = [
        skdata.astronaut(),
        skdata.chelsea(),
        skdata.coffee(),
        skdata.rocket(),
        skdata.immunohistochemistry(),
        skdata.hubble_deep_field(),
    ]
    out = []
    for photo in photos:
        for size in SIZES:
            buffer = io.BytesIO()
            Image.fromarray(photo).resize(size, Image.BICUBIC).save(buffer, "JPEG", quality=90)
            out.append(buffer.getvalue())
    return out


def pipeline(jpegs: list[bytes], fn, batch_size: int) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(jpegs)).repeat()
    dataset = dataset.map(fn, num_parallel_calls=1).batch(batch_size)
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    return dataset.with_options(options)


def images_per_second(iterator, batches: int, batch_size: int) -> float:
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=6, help="timed batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    jpegs = make_jpegs()
    size = args.image_size
    variants = {
        "fused": lambda b: preprocess.crop_for_train(b, size),
        "full+slice": lambda b: preprocess.crop_for_train(b, size, fused=False),
        "fused+RA": lambda b: randaugment.randaugment(preprocess.crop_for_train(b, size), 2, 10),
    }
    iterators = {k: iter(pipeline(jpegs, fn, args.batch_size)) for k, fn in variants.items()}
    for it in iterators.values():  # warm-up: tracing and the first batches
        images_per_second(it, 2, args.batch_size)
    rates = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, it in iterators.items():
            rates[name].append(images_per_second(it, args.batches, args.batch_size))

    mean_pixels = np.mean([w * h for w, h in SIZES])
    print(
        f"tensorflow {tf.__version__}; one tf.data thread; {len(jpegs)} JPEGs of "
        f"{len(SIZES)} sizes (mean {mean_pixels / 1e3:.0f} kpixels); output {size}x{size}, "
        f"batch {args.batch_size}; {args.rounds} rounds x {args.batches} batches"
    )
    for name, values in rates.items():
        print(
            f"{name:12s} {statistics.median(values):8.1f} img/s/core "
            f"(min {min(values):.1f}, max {max(values):.1f})"
        )
    fused = statistics.median(rates["fused"])
    full = statistics.median(rates["full+slice"])
    with_ra = statistics.median(rates["fused+RA"])
    print(f"ratio fused / full+slice: {fused / full:.3f}")
    print(
        f"RandAugment share of the time per image: {1 - with_ra / fused:.3f} "
        f"(target <= 0.50: it may at most halve the throughput)"
    )


if __name__ == "__main__":
    main()
