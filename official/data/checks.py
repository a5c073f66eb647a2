"""Checks of a split's first records before a run starts (docs/run_directory.md): the TFRecord
schema, the label range and whether the images decode.

The training pipeline skips an undecodable record (and counts it); a record without the schema's
features, or with a label outside [0, num_classes), would instead end the pipeline with a raw
`End of sequence` or train on a wrong target without a word. So the first batch of each split
(at most MAX_RECORDS records, read in file order) is checked on the host, and a problem is one
line (DataError) naming the shard, what is wrong and what would be right.
"""

from __future__ import annotations

import tensorflow as tf

from official.configs.config import DataConfig
from official.data import pipeline, preprocess, video_record

REQUIRED_FEATURES = ("image/encoded", "image/class/label")
SCHEMA_HELP = {
    "image": "the ImageNet schema, image/encoded (JPEG bytes) and image/class/label "
    "(official/data/tfrecord.py; official.data.build_tfrecords writes it)",
    "video": f"clip SequenceExamples, {video_record.FRAMES_KEY} frames and "
    f"{video_record.LABEL_KEY} in the context (official/data/video_record.py; "
    "official.data.build_video_tfrecords writes them)",
}
MAX_RECORDS = 256


class DataError(ValueError):
    """Records that do not fit the schema or the config."""


def first_records(files: list[str], count: int):
    """Yields (file, serialized record) for the first `count` records of `files`, in order."""
    for path in files:
        try:
            for raw in tf.data.TFRecordDataset(path).take(count):
                yield path, raw.numpy()
                count -= 1
        except tf.errors.OpError as e:
            raise DataError(
                f"{path} is not a readable TFRecord file ({e.message[:200]})."
            ) from None
        if count <= 0:
            return


def _decodes(image_bytes: bytes) -> str | None:
    """None when the pipeline's decoder reads the image, else its error."""
    try:
        preprocess.decode_and_crop(
            tf.constant(image_bytes), lambda shape: (0, 0, shape[0], shape[1])
        )
    except tf.errors.OpError as e:
        return e.message.splitlines()[0][:160]
    return None


def read_record(raw: bytes, kind: str, path: str):
    """(feature names found, names missing, stored labels, first encoded image or None) of one
    serialized record: a tf.train.Example (images) or tf.train.SequenceExample (clips)."""
    proto = tf.train.SequenceExample if kind == "video" else tf.train.Example
    try:
        record = proto.FromString(raw)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise DataError(f"{path}: its records are not {proto.__name__} protos.") from None
    if kind == "video":
        context, lists = record.context.feature, record.feature_lists.feature_list
        found = {f"context {k}" for k in context} | {f"feature list {k}" for k in lists}
        missing = [f"feature list {video_record.FRAMES_KEY}"] * (
            video_record.FRAMES_KEY not in lists
        )
        missing += [f"context {video_record.LABEL_KEY}"] * (video_record.LABEL_KEY not in context)
        labels = context[video_record.LABEL_KEY].int64_list.value if not missing else []
        frames = lists[video_record.FRAMES_KEY].feature if not missing else []
        image = frames[0].bytes_list.value[0] if frames and frames[0].bytes_list.value else None
        return found, missing, labels, image
    features = record.features.feature
    missing = [name for name in REQUIRED_FEATURES if name not in features]
    labels = features["image/class/label"].int64_list.value if not missing else []
    encoded = features["image/encoded"].bytes_list.value if not missing else []
    return set(features), missing, labels, encoded[0] if encoded else None


def check_split(config: DataConfig, split: str, count: int, extra_dirs: tuple = ()) -> int:
    """Checks the first `count` records of `split` (data_dir, then `extra_dirs`); returns how
    many were checked. Raises DataError on a missing feature, an out-of-range label, or when
    none of them decodes (every record would be skipped)."""
    files = pipeline.list_shards(config.data_dir, split)
    for directory in extra_dirs:
        files += pipeline.list_shards(directory, split)
    checked, failures = 0, []
    for path, raw in first_records(files, count):
        found, missing, stored, image = read_record(raw, config.kind, path)
        if missing:
            raise DataError(
                f"{path}: its records have no {' and no '.join(missing)} (they have "
                f"{', '.join(sorted(found)) or 'no features'}); the pipeline reads "
                f"{SCHEMA_HELP[config.kind]}."
            )
        label = (stored[0] if stored else 0) - config.label_offset
        if not stored or not 0 <= label < config.num_classes:
            raise DataError(
                f"{path}: a record has label {label} (stored {list(stored) or 'nothing'} minus "
                f"data.label_offset={config.label_offset}), outside [0, data.num_classes="
                f"{config.num_classes}): set data.num_classes / data.label_offset to the data's "
                "labels."
            )
        error = _decodes(image) if image is not None else "no bytes"
        if error:
            failures.append((path, error))
        checked += 1
    if not checked:
        raise DataError(f"{files[0]}: the {split!r} shards hold no records.")
    if len(failures) == checked:
        path, error = failures[0]
        raise DataError(
            f"none of the first {checked} records of {split!r} ({path}, ...) decodes as an "
            f"image ({error}): training would skip every record."
        )
    return checked


def check_data(config: DataConfig, training: bool, evaluating: bool) -> None:
    """The first batch of the splits a run reads (TFRecord sources; TFDS has its own schema)."""
    if config.source != "tfrecord":
        return
    if training:
        extra = (config.pseudo_label_dir,) if config.pseudo_label_dir else ()
        check_split(config, config.train_split, min(config.train_batch_size, MAX_RECORDS), extra)
    if evaluating:
        check_split(config, config.eval_split, min(config.eval_batch_size, MAX_RECORDS))
