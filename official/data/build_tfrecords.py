"""Convert images on disk into sharded ImageNet-format TFRecords (docs/REFERENCE.md §3).

Layouts:
  folder    <input_dir>/<split>/<class>/<image>  (classes are the sub-folders of the first split)
  imagenet  <input_dir>/train/<synset>/*.JPEG and a flat <input_dir>/validation/ folder, labelled
            by --validation_labels (one synset per line, for the files in sorted order)

    python -m official.data.build_tfrecords --input_dir=/data/raw --output_dir=/data/tfrecords \
        --layout=imagenet --validation_labels=/data/imagenet_2012_validation_synset_labels.txt

Writes <split>-NNNNN-of-MMMMM shards, labels.json ({model output index: class name}) and
dataset.json (the class names and images per split, which training reads:
official/data/dataset_record.py). Stored labels are 1-based (index + 1), as in the ImageNet
TFRecords. A split gets one shard per 1,250 images (about 140 MB of ImageNet-sized JPEGs), at
most 1024 (train) / 128 (the others), unless --train_shards / --validation_shards say. Files
that are not decodable images are skipped and listed at the end; the run fails only when no
image could be read. Any other failure (or Ctrl-C) leaves nothing of the conversion behind:
it writes into a staging folder inside --output_dir and moves the files out when complete.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping

from absl import app, flags

from official.console import program, quiet_start
from official.data import image_files, shard_writer


def define_flags() -> None:
    """Defined only when run as a program: importing this module (tests, other programs) must not
    add required flags to the process's flag set, which would fail every later flag parse."""
    flags.DEFINE_string("input_dir", None, "Root of the image tree.", required=True)
    flags.DEFINE_string("output_dir", None, "Where the shards and labels.json go.", required=True)
    flags.DEFINE_enum("layout", "folder", ["folder", "imagenet"], "How input_dir is organised.")
    flags.DEFINE_list("splits", ["train", "validation"], "Split folders to convert (if present).")
    flags.DEFINE_string("validation_labels", None, "imagenet layout: synset per validation file.")
    flags.DEFINE_integer(
        "train_shards", None, f"Shards for the train split (default: {SHARD_RULE}, at most 1024)."
    )
    flags.DEFINE_integer(
        "validation_shards",
        None,
        f"Shards for every other split (default: {SHARD_RULE}, at most 128).",
    )
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Processes encoding images.")
    flags.DEFINE_integer("seed", 0, "Seed of the train file order (shards mix classes).")


SHARD_RULE = f"one per {shard_writer.IMAGES_PER_SHARD} images"


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


def encode_image(file: str, label: int, synset: str) -> bytes:
    """One image file as a serialized tf.train.Example (RGB JPEG, 1-based label)."""
    from official.data import tfrecord  # in a worker, after quiet_start imported TensorFlow

    with open(file, "rb") as f:
        data, height, width = image_files.to_rgb_jpeg(f.read())
    return tfrecord.encode_example(
        data,
        label + tfrecord.LABEL_OFFSET,
        height=height,
        width=width,
        synset=synset,
        filename=os.path.basename(file),
    )


def _scan(args: Mapping, split: str, split_dir: str, classes: list[str]):
    if args["layout"] == "imagenet" and split != "train":
        if not args["validation_labels"]:
            raise app.UsageError("--layout=imagenet needs --validation_labels.")
        return scan_imagenet_validation(split_dir, args["validation_labels"], classes)
    return scan_folder_split(split_dir, classes)


def run(args: Mapping) -> int:
    """Converts the tree `args` (the flag values) names; prints what it wrote and skipped;
    returns the exit status (1: no image could be read)."""
    quiet_start.import_tensorflow()
    from official.data import tfrecord

    classes, splits = shard_writer.scan_tree(
        args["input_dir"], args["splits"], functools.partial(_scan, args), args["seed"]
    )
    try:
        written, failures = shard_writer.convert(
            splits,
            classes,
            args["output_dir"],
            encode_image,
            (image_files.NotAnImageError, OSError),
            train_shards=args["train_shards"],
            validation_shards=args["validation_shards"],
            label_offset=tfrecord.LABEL_OFFSET,
            items_per_shard=shard_writer.IMAGES_PER_SHARD,
            num_workers=args["num_workers"],
            unit="img",
        )
    except shard_writer.ConversionFailed as e:
        print(
            f"error: the conversion stopped at {e}; nothing of it was left in "
            f"{args['output_dir']}.",
            file=sys.stderr,
        )
        return 1
    counts = ", ".join(f"{split} {n}" for split, n in written.items())
    written = sum(written.values())
    print(f"wrote {written} images ({counts}) of {len(classes)} classes to {args['output_dir']}")
    if failures:
        print(f"skipped {len(failures)} files that are not decodable images:")
        for path, reason in failures:
            print(f"  {path}: {reason}")
    if written == 0:
        print("error: no image could be read", file=sys.stderr)
        return 1
    return 0


def main(argv):
    del argv
    sys.exit(run(flags.FLAGS.flag_values_dict()))


if __name__ == "__main__":
    define_flags()
    program.run(main)
