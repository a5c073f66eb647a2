"""The ImageNet TFRecord schema (docs/REFERENCE.md §3): writing and parsing one tf.train.Example per
image.

Shards are named `<split>-00000-of-01024` (train) and `<split>-00000-of-00128` (validation).
Labels on disk are 1-based (1..1000 for ImageNet; 0 is reserved for "background" by the original
Inception converter). Parsing subtracts `label_offset` (default 1) so that models see 0..999.
"""

from __future__ import annotations

import logging

import tensorflow as tf

LABEL_OFFSET = 1
TRAIN_SHARDS = 1024
VALIDATION_SHARDS = 128


def shard_name(split: str, index: int, num_shards: int) -> str:
    """`train-00007-of-01024`."""
    return f"{split}-{index:05d}-of-{num_shards:05d}"


def file_pattern(split: str) -> str:
    """The glob matching every shard of `split`."""
    return f"{split}-?????-of-?????"


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def encode_example(
    image_bytes: bytes,
    label: int,
    *,
    height: int,
    width: int,
    synset: str = "",
    filename: str = "",
    image_format: str = "JPEG",
) -> bytes:
    """A serialized tf.train.Example; `label` is the on-disk label (1-based for ImageNet)."""
    features = {
        "image/encoded": _bytes(image_bytes),
        "image/format": _bytes(image_format.encode()),
        "image/class/label": _int64(label),
        "image/class/synset": _bytes(synset.encode()),
        "image/filename": _bytes(filename.encode()),
        "image/height": _int64(height),
        "image/width": _int64(width),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/filename": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def parse_example(serialized: tf.Tensor, label_offset: int = LABEL_OFFSET) -> dict:
    """{'image_bytes': encoded image, 'label': int32 in [0, classes), 'filename': str}."""
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    label = tf.cast(parsed["image/class/label"], tf.int32) - label_offset
    return {
        "image_bytes": parsed["image/encoded"],
        "label": label,
        "filename": parsed["image/filename"],
    }


def write_shard(path: str, records) -> int:
    """Writes serialized examples to `path` atomically (a temporary name, then a rename), so an
    interrupted run never leaves a truncated shard under a final name. Returns the count."""
    tmp = f"{path}.tmp"
    count = 0
    with tf.io.TFRecordWriter(tmp) as writer:
        for record in records:
            writer.write(record)
            count += 1
    tf.io.gfile.rename(tmp, path, overwrite=True)
    return count


LABELS_FILE = "labels.json"


def write_labels(directory: str, class_names: list[str]) -> None:
    """directory/labels.json: {model output index (as a string): class name}."""
    import json

    with tf.io.gfile.GFile(f"{directory}/{LABELS_FILE}", "w") as f:
        json.dump({str(i): name for i, name in enumerate(class_names)}, f, indent=1)


def read_labels(path: str) -> list[str]:
    """The class names of a labels.json file, in model output order."""
    import json

    with tf.io.gfile.GFile(path) as f:
        table = json.load(f)
    return [table[str(i)] for i in range(len(table))]


_SAID: set[str] = set()  # read_class_names' lines, each once: a run's exports read one file


def read_class_names(data_dir: str, num_classes: int) -> list[str] | None:
    """The data set's labels.json names, when it has one for exactly num_classes classes; else
    None (the exports name the classes by index), said in one warning."""
    path = f"{data_dir}/{LABELS_FILE}"
    if not data_dir:
        return None
    if not tf.io.gfile.exists(path):
        problem = f"no {LABELS_FILE} in {data_dir}"
        names = None
    else:
        names = read_labels(path)
        problem = f"{path} names {len(names)} classes, the model has {num_classes}"
    if names is not None and len(names) == num_classes:
        return names
    if problem not in _SAID:
        _SAID.add(problem)
        logging.getLogger(__name__).warning(
            "%s: class indices are shown in place of class names", problem
        )
    return None
