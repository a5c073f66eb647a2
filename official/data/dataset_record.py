"""`dataset.json`, the record a converter leaves beside its shards: the class names in model
output order, the offset of the stored labels (1: ImageNet's 1-based labels; 0: the clip
schema) and the examples written per split. Training takes data.num_classes and
train.num_train_images from it when the config does not set them, and refuses a config that
contradicts it (official/training/jobs.py; docs/data.md, "Train on your own images").

    {"classes": ["cats", "dogs", "owls"], "label_offset": 1,
     "examples": {"train": 120, "validation": 30},
     "shards": {"train-00000-of-00001": 1843200, "validation-00000-of-00001": 460800}}

`shards` (each shard's size in bytes) lets a run refuse a shard cut short by a copy before it
trains on it (`check_shards`): inside the input pipeline a truncated shard only ends its reads.

The bundled sample sets carry no record: their recipes state their counts.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Collection

from official.configs.validation import ConfigError

RECORD_FILE = "dataset.json"
log = logging.getLogger("official.train")


@dataclasses.dataclass(frozen=True)
class DatasetRecord:
    path: str  # where it was read from, for messages
    classes: list[str]
    label_offset: int
    examples: dict[str, int]
    shards: dict[str, int] = dataclasses.field(default_factory=dict)  # file name -> bytes

    def num_classes(self, label_offset: int) -> int:
        """The model outputs a config reading the stored labels with `label_offset` needs: one
        per class, plus the unused ones below (tensorflow/tpu's 1001 classes for ImageNet's
        1-based labels read with label_offset 0)."""
        return len(self.classes) + max(0, self.label_offset - label_offset)

    def shown_classes(self, most: int = 5) -> str:
        """'cats, dogs, owls' (the first `most` names, then '...')."""
        more = ", ..." if len(self.classes) > most else ""
        return ", ".join(self.classes[:most]) + more


def write(
    directory: str,
    classes: list[str],
    label_offset: int,
    examples: dict[str, int],
    shards: dict[str, int] | None = None,
):
    """<directory>/dataset.json, under a temporary name then renamed (any gfile path)."""
    import tensorflow as tf

    path = f"{directory}/{RECORD_FILE}"
    table = {"classes": list(classes), "label_offset": label_offset, "examples": dict(examples)}
    if shards:
        table["shards"] = dict(sorted(shards.items()))
    with tf.io.gfile.GFile(f"{path}.tmp", "w") as f:
        json.dump(table, f, indent=1)
    tf.io.gfile.rename(f"{path}.tmp", path, overwrite=True)


def read(data_dir: str) -> DatasetRecord | None:
    """The record of `data_dir`, or None when it has none (sets written by other tools, the
    bundled samples). A record that does not parse is an error naming the file."""
    import tensorflow as tf

    path = f"{data_dir.rstrip('/')}/{RECORD_FILE}"
    if not data_dir or not tf.io.gfile.exists(path):
        return None
    try:
        with tf.io.gfile.GFile(path) as f:
            table = json.load(f)
        classes = [str(name) for name in table["classes"]]
        label_offset = int(table["label_offset"])
        examples = {str(split): int(n) for split, n in table["examples"].items()}
        shards = {str(name): int(n) for name, n in table.get("shards", {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(
            f"{path} is not a dataset record ({e!r}); convert the data again or delete it."
        ) from None
    return DatasetRecord(path, classes, label_offset, examples, shards)


def check_shards(record: DatasetRecord, files: list[str]) -> None:
    """A ValueError naming the first of `files` whose size differs from the one the record
    holds for it (a copy cut short, or a shard replaced); shards it does not list pass."""
    import tensorflow as tf

    for path in files:
        recorded = record.shards.get(path.rstrip("/").rsplit("/", 1)[-1])
        if recorded is None:
            continue
        size = tf.io.gfile.stat(path).length
        if size != recorded:
            state = "truncated" if size < recorded else "not the shard the converter wrote"
            raise ValueError(
                f"shard {path} is {state}: {size} bytes, {record.path} records {recorded}; "
                "copy it again or convert the data again."
            )


def settle(config, record: DatasetRecord, given: Collection[str]) -> None:
    """Fills data.num_classes and train.num_train_images (in place) from `record` where the
    keys are not in `given` (the config keys the user set); raises ConfigError naming both
    values where a given value contradicts the record, or data.num_eval_images asks for more
    images than the eval split has. Logs one line for what it filled."""
    data, train = config.data, config.train
    fillable = {"data.num_classes": record.num_classes(data.label_offset)}
    train_count = record.examples.get(data.train_split)
    # Pseudo-labeled shards add to the train split: then num_train_images counts both.
    if train_count is not None and not data.pseudo_label_dir:
        fillable["train.num_train_images"] = train_count
    current = {
        "data.num_classes": data.num_classes,
        "train.num_train_images": train.num_train_images,
    }
    for key, recorded in fillable.items():
        if key in given and current[key] != recorded:
            raise ConfigError(
                f"{key}={current[key]} but {record.path} records "
                f"{_recorded(record, key, recorded, data)}: drop the override (the record's "
                "value is used when none is given) or convert the data again."
            )
    eval_count = record.examples.get(data.eval_split)
    if eval_count is not None and data.num_eval_images > eval_count:
        raise ConfigError(
            f"data.num_eval_images={data.num_eval_images} but {record.path} records "
            f"{eval_count} {data.eval_split!r} examples: set at most {eval_count} (0: all)."
        )
    filled = {k: v for k, v in fillable.items() if k not in given}
    if not filled:
        return
    data.num_classes = filled.get("data.num_classes", data.num_classes)
    train.num_train_images = filled.get("train.num_train_images", train.num_train_images)
    log.info(
        "%s from %s (%s)",
        ", ".join(f"{k}={v}" for k, v in filled.items()),
        record.path,
        record.shown_classes(),
    )


def _recorded(record: DatasetRecord, key: str, value: int, data) -> str:
    """What the record says about `key`, in words: '3 classes (cats, dogs, owls)'."""
    if key != "data.num_classes":
        return f"{value} {data.train_split!r} examples"
    words = f"{len(record.classes)} classes ({record.shown_classes()})"
    if value != len(record.classes):
        words += f", {value} outputs with data.label_offset={data.label_offset}"
    return words
