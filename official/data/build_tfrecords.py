"""Convert images on disk into sharded ImageNet-format TFRecords (docs/REFERENCE.md §3).

Layouts:
  folder    <input_dir>/<split>/<class>/<image>  (classes are the sub-folders of the first split)
  imagenet  <input_dir>/train/<synset>/*.JPEG and a flat <input_dir>/validation/ folder, labelled
            by --validation_labels (one synset per line, for the files in sorted order)

    python -m official.data.build_tfrecords --input_dir=/data/raw --output_dir=/data/tfrecords \
        --layout=imagenet --validation_labels=/data/imagenet_2012_validation_synset_labels.txt

Writes <split>-NNNNN-of-MMMMM shards and labels.json ({model output index: class name}). Stored
labels are 1-based (index + 1), as in the ImageNet TFRecords. Files that are not decodable
images are skipped and listed at the end; the run fails only when no image could be read.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys

from absl import app, flags


def define_flags() -> None:
    """Defined only when run as a program: importing this module (tests, other programs) must not
    add required flags to the process's flag set, which would fail every later flag parse."""
    flags.DEFINE_string("input_dir", None, "Root of the image tree.", required=True)
    flags.DEFINE_string("output_dir", None, "Where the shards and labels.json go.", required=True)
    flags.DEFINE_enum("layout", "folder", ["folder", "imagenet"], "How input_dir is organised.")
    flags.DEFINE_list("splits", ["train", "validation"], "Split folders to convert (if present).")
    flags.DEFINE_string("validation_labels", None, "imagenet layout: synset per validation file.")
    flags.DEFINE_integer("train_shards", 1024, "Shards for the train split.")
    flags.DEFINE_integer("validation_shards", 128, "Shards for every other split.")
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Processes encoding images.")
    flags.DEFINE_integer("seed", 0, "Seed of the train file order (shards mix classes).")


FLAGS = flags.FLAGS


def _is_file(path: str) -> bool:
    return os.path.isfile(path) and not os.path.basename(path).startswith(".")


def scan_folder_split(split_dir: str, classes: list[str]) -> list[tuple[str, int]]:
    """[(path, class index)] for <split_dir>/<class>/<file>; every file is listed (non-images
    are found out when decoded, and reported)."""
    items = []
    for index, name in enumerate(classes):
        class_dir = os.path.join(split_dir, name)
        if not os.path.isdir(class_dir):
            continue
        for file in sorted(os.listdir(class_dir)):
            if _is_file(os.path.join(class_dir, file)):
                items.append((os.path.join(class_dir, file), index))
    unknown = sorted(set(os.listdir(split_dir)) - set(classes))
    unknown = [u for u in unknown if os.path.isdir(os.path.join(split_dir, u))]
    if unknown:
        raise ValueError(f"{split_dir} has class folders absent from the first split: {unknown}")
    return items


def scan_imagenet_validation(split_dir: str, labels_file: str, classes: list[str]):
    files = sorted(f for f in os.listdir(split_dir) if _is_file(os.path.join(split_dir, f)))
    with open(labels_file) as f:
        synsets = [line.strip() for line in f if line.strip()]
    if len(synsets) != len(files):
        raise ValueError(
            f"{labels_file} has {len(synsets)} labels for {len(files)} files in {split_dir}; "
            "it needs one synset per file, in sorted file-name order."
        )
    index = {name: i for i, name in enumerate(classes)}
    missing = sorted(set(synsets) - set(index))
    if missing:
        raise ValueError(f"{labels_file} names synsets with no train folder: {missing[:5]}")
    return [(os.path.join(split_dir, f), index[s]) for f, s in zip(files, synsets, strict=True)]


def _write_shard(task):
    """Worker: encode the images of one shard and write it. -> (written, [(path, reason)])."""
    from official.console import quiet_start

    quiet_start.import_tensorflow()  # a spawned process imports TensorFlow afresh
    from official.data import image_files, tfrecord

    path, items, classes = task
    failures = []

    def records():
        for file, label in items:
            try:
                with open(file, "rb") as f:
                    data, height, width = image_files.to_rgb_jpeg(f.read())
            except (image_files.NotAnImageError, OSError) as e:
                failures.append((file, str(e)))
                continue
            yield tfrecord.encode_example(
                data,
                label + tfrecord.LABEL_OFFSET,
                height=height,
                width=width,
                synset=classes[label],
                filename=os.path.basename(file),
            )

    written = tfrecord.write_shard(path, records())
    return written, len(items), failures


def convert(
    splits: dict[str, list[tuple[str, int]]],
    classes: list[str],
    output_dir: str,
    shards: dict[str, int],
    num_workers: int,
    progress: bool = True,
) -> tuple[int, list[tuple[str, str]]]:
    """Writes every split; returns (images written, [(path, why it was skipped)])."""
    import tensorflow as tf

    from official.data import tfrecord

    tf.io.gfile.makedirs(output_dir)  # a local folder or gs://bucket/path
    tasks = []
    for split, items in splits.items():
        n = max(1, min(shards[split], len(items)))
        for shard in range(n):
            path = os.path.join(output_dir, tfrecord.shard_name(split, shard, n))
            tasks.append((path, items[shard::n], classes))
    total = sum(len(items) for items in splits.values())
    written, failures = 0, []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="img", file=sys.stderr)
    with multiprocessing.get_context("spawn").Pool(max(1, num_workers)) as pool:
        for done, seen, failed in pool.imap_unordered(_write_shard, tasks):
            written += done
            failures.extend(failed)
            if bar:
                bar.update(seen)
    if bar:
        bar.close()
    tfrecord.write_labels(output_dir, classes)
    return written, sorted(failures)


def main(argv):
    del argv
    from official.console import quiet_start

    quiet_start.import_tensorflow()
    first = os.path.join(FLAGS.input_dir, FLAGS.splits[0])
    if not os.path.isdir(first):
        raise app.UsageError(f"--input_dir has no {FLAGS.splits[0]!r} folder: {first}")
    classes = sorted(d for d in os.listdir(first) if os.path.isdir(os.path.join(first, d)))
    if not classes:
        raise app.UsageError(f"{first} has no class sub-folders.")
    splits = {}
    for split in FLAGS.splits:
        split_dir = os.path.join(FLAGS.input_dir, split)
        if not os.path.isdir(split_dir):
            continue
        if FLAGS.layout == "imagenet" and split != "train":
            if not FLAGS.validation_labels:
                raise app.UsageError("--layout=imagenet needs --validation_labels.")
            items = scan_imagenet_validation(split_dir, FLAGS.validation_labels, classes)
        else:
            items = scan_folder_split(split_dir, classes)
        if split == "train":
            random.Random(FLAGS.seed).shuffle(items)
        splits[split] = items
    shards = {s: FLAGS.train_shards if s == "train" else FLAGS.validation_shards for s in splits}
    written, failures = convert(splits, classes, FLAGS.output_dir, shards, FLAGS.num_workers)
    print(f"wrote {written} images of {len(classes)} classes to {FLAGS.output_dir}")
    if failures:
        print(f"skipped {len(failures)} files that are not decodable images:")
        for path, reason in failures:
            print(f"  {path}: {reason}")
    if written == 0:
        print("error: no image could be read", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    define_flags()
    app.run(main)
