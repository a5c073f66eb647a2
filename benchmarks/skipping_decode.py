"""Images/second of the training input pipeline with its record skipping as it is
(official/data/pipeline.py, SkippedRecords.decode: chunks of records, each a dataset of its own
whose decoding errors alone are skipped) against the reference it replaced: one parallel map
followed by `ignore_errors()`, which also swallowed the error of a shard cut mid-record.

Photos from scikit-image at ImageNet-like sizes are written as JPEG TFRecords in a temporary
directory (4 shards), read by `pipeline.build_dataset("train")` at 224 with DataConfig's
defaults (`tf2` preprocessing, RandAugment 2 layers at magnitude 10), batch 32, every tf.data
optimization on; `--augmentation=none` times the crop and flip alone, where the decoding's own
cost weighs more. Each round builds
each pipeline afresh, takes 2 batches untimed, times the next ones and drops it (no pipeline
works in the background while the other is timed); rounds alternate.

    python benchmarks/skipping_decode.py [--rounds 5] [--batches 16] [--augmentation none]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks import sample_photos  # noqa: E402
from official.configs import DataConfig  # noqa: E402
from official.data import pipeline, tfrecord  # noqa: E402
from official.training.speed import machine_description  # noqa: E402

SIZES = [(500, 375), (500, 333), (375, 500), (640, 480)]
BATCH = 32


def write_shards(directory: str, per_shard: int = 128, shards: int = 4) -> None:
    skdata = sample_photos.skimage_data("skipping_decode.py")
    photos = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket()]
    jpegs = []
    for photo in photos:
        for width, height in SIZES:
            buffer = io.BytesIO()
            Image.fromarray(photo).resize((width, height)).save(buffer, "JPEG", quality=90)
            jpegs.append((buffer.getvalue(), width, height))
    for shard in range(shards):
        records = []
        for i in range(per_shard):
            data, width, height = jpegs[(i + shard) % len(jpegs)]
            label = i % 10 + 1
            records.append(tfrecord.encode_example(data, label, height=height, width=width))
        tfrecord.write_shard(f"{directory}/{tfrecord.shard_name('train', shard, shards)}", records)


def map_then_ignore_errors(self, dataset, fn):
    """The reference: SkippedRecords' earlier decoding (one map, then ignore_errors)."""
    dataset = dataset.map(lambda i, r: (i, fn(i, r)), tf.data.AUTOTUNE, deterministic=True)
    return self.counted(dataset.ignore_errors())


def seconds_per_batch(config: DataConfig, decode, batches: int) -> float:
    """Builds the pipeline with `decode`, takes 2 batches (its start), then times `batches`
    more; the iterator is dropped after, so no pipeline works in the background while another
    one is timed."""
    original = pipeline.SkippedRecords.decode
    pipeline.SkippedRecords.decode = decode
    try:
        iterator = iter(pipeline.build_dataset("train", config))
    finally:
        pipeline.SkippedRecords.decode = original
    next(iterator)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    elapsed = time.perf_counter() - start
    del iterator
    return elapsed / batches


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--augmentation", default="randaugment", choices=["randaugment", "none"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        write_shards(directory)
        config = DataConfig(
            data_dir=directory,
            train_batch_size=BATCH,
            image_size=224,
            num_classes=10,
            augmentation=args.augmentation,
        )
        variants = {
            "chunks (ours)": pipeline.SkippedRecords.decode,
            "map+ignore_errors": map_then_ignore_errors,
        }
        times = {name: [] for name in variants}
        for round_index in range(args.rounds):  # alternating, reversed every other round
            order = list(variants.items())
            for name, decode in order[::-1] if round_index % 2 else order:
                times[name].append(seconds_per_batch(config, decode, args.batches))
        seconds = {name: statistics.median(t) for name, t in times.items()}
    print(machine_description())
    jpegs = len(SIZES) * 4
    print(
        f"{args.rounds} rounds x {args.batches} batches of {BATCH} at 224, {jpegs} JPEGs, "
        f"augmentation {args.augmentation}"
    )
    rates = {name: BATCH / s for name, s in seconds.items()}
    for name, rate in rates.items():
        print(f"{name:20s} {rate:8.1f} img/s")
    ratio = rates["chunks (ours)"] / rates["map+ignore_errors"]
    print(f"ratio ours / map+ignore_errors: {ratio:.3f}")


if __name__ == "__main__":
    main()
