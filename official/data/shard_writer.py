"""The one shard writer behind the two converters and the two bundled sample sets.

A split's items go round-robin into <split>-NNNNN-of-MMMMM shards (official/data/tfrecord.py),
each written under a temporary name and then renamed; labels.json and a converter's dataset
record (official/data/dataset_record.py: class names, examples per split) follow. A converter
passes in only what differs: how one input file becomes a serialized example, which errors mean
"skip this file", and its flags. TensorFlow is imported inside the functions that write: a
program must import it through official/console/quiet_start.py first, in every worker too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence

from absl import app
from tqdm import tqdm

from official.console import errors, quiet_start
from official.data import dataset_record

# (path, class index, class name) -> serialized example; raises one of `skip` for a bad file.
Encode = Callable[[str, int, str], bytes]
# tensorflow/tpu's ImageNet layout: 1,281,167 train images (~138 GB) in 1024 shards.
IMAGES_PER_SHARD = 1250
# convert() writes into <output_dir>/.converting-<pid>/ and moves the files out when complete.
STAGING_PREFIX = ".converting-"


def default_shards(num_items: int, items_per_shard: int, most: int) -> int:
    """Shards for a split of `num_items` when none are asked for: one per `items_per_shard`
    items (rounded up), at most `most` (tensorflow/tpu's 1024 train / 128 validation shards
    for ImageNet's 1.28M images, about 1,250 images or 140 MB a shard), at least 1."""
    return max(1, min(most, -(-num_items // items_per_shard)))


def plan(directory: str, splits: dict[str, Sequence], shards: dict[str, int]) -> list[tuple]:
    """[(split, shard path, its items)]: item i goes to shard i mod n, n being the split's shard
    count capped at its size (at least 1, so an empty split still has a shard)."""
    from official.data import tfrecord

    tasks = []
    for split, items in splits.items():
        n = max(1, min(shards[split], len(items)))
        for shard in range(n):
            path = os.path.join(directory, tfrecord.shard_name(split, shard, n))
            tasks.append((split, path, items[shard::n]))
    return tasks


def write_sample_set(
    output_dir: str,
    make_splits: Callable[[], dict[str, list[bytes]]],
    shards: dict[str, int],
    class_names: list[str],
) -> str:
    """Writes a bundled set once and returns its directory. The shards go into a temporary
    sibling folder renamed into place when complete: a killed build leaves no set under the final
    name, and of concurrent builders the first rename wins while the others drop their copy."""
    from official.data import tfrecord

    if os.path.exists(os.path.join(output_dir, tfrecord.LABELS_FILE)):
        return output_dir
    splits = make_splits()
    output_dir_abs = os.path.abspath(output_dir)
    parent = os.path.dirname(output_dir_abs)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(output_dir_abs)}-")
    for _, path, records in plan(staging, splits, shards):
        tfrecord.write_shard(path, records)
    tfrecord.write_labels(staging, class_names)
    try:
        os.rename(staging, output_dir)
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return output_dir


def scan_tree(
    input_dir: str,
    split_names: list[str],
    scan: Callable[[str, str, list[str]], list[tuple[str, int]]],
    seed: int,
) -> tuple[list[str], dict[str, list[tuple[str, int]]]]:
    """(classes, {split: [(path, class index)]}): the classes are the sub-folders of the first
    split; `scan(split, split_dir, classes)` lists each split present; train is shuffled with
    `seed` so that every shard mixes the classes."""
    first = os.path.join(input_dir, split_names[0])
    if not os.path.isdir(first):
        raise app.UsageError(f"--input_dir has no {split_names[0]!r} folder: {first}")
    classes = sorted(d for d in os.listdir(first) if os.path.isdir(os.path.join(first, d)))
    if not classes:
        raise app.UsageError(f"{first} has no class sub-folders.")
    splits = {}
    for split in split_names:
        split_dir = os.path.join(input_dir, split)
        if not os.path.isdir(split_dir):
            continue
        items = scan(split, split_dir, classes)
        if split == "train":
            random.Random(seed).shuffle(items)
        splits[split] = items
    return classes, splits


class ConversionFailed(RuntimeError):
    """Encoding an input file raised an error that is not one of the converter's `skip`."""


def _write_shard(task) -> tuple[str, int, int, list[tuple[str, str]]]:
    """Worker: encode one shard's items and write it -> (split, written, seen, [(path, why)])."""
    quiet_start.import_tensorflow()  # a spawned process imports TensorFlow afresh
    from official.data import tfrecord

    split, path, items, classes, encode, skip = task
    failures = []

    def records():
        for file, label in items:
            try:
                record = encode(file, label, classes[label])
            except skip as e:
                failures.append((file, str(e)))
                continue
            except Exception as e:  # not a bad file: the conversion stops, naming the file
                raise ConversionFailed(f"{file}: {type(e).__name__}: {errors.one_line(e)}") from e
            yield record

    written = tfrecord.write_shard(path, records())
    return split, written, len(items), failures


def convert(
    splits: dict[str, list[tuple[str, int]]],
    classes: list[str],
    output_dir: str,
    encode: Encode,
    skip: tuple[type[Exception], ...],
    *,
    train_shards: int | None,
    validation_shards: int | None,
    label_offset: int,
    items_per_shard: int = IMAGES_PER_SHARD,
    num_workers: int = 1,
    unit: str = "item",
    progress: bool = True,
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Writes every split (train into train_shards, the others into validation_shards; None:
    default_shards, at most 1024 / 128), labels.json and the dataset record (`label_offset`:
    what the stored labels add to a class index); returns ({split: examples written},
    [(path, why it was skipped)]). `encode` must pickle (a module-level function or a partial
    of one) when num_workers > 1.

    The output is whole or absent: everything is written into a staging folder inside
    output_dir and moved out when complete. A failure (an encoder error that is not one of
    `skip`, raised as ConversionFailed naming the file; Ctrl-C) removes the staging folder, and
    output_dir too when this call made it; other files of an existing output_dir stay, those
    of the same names are replaced only by a complete conversion, and an earlier conversion's
    shards of the same splits are removed once the new set is in place."""
    import tensorflow as tf

    from official.data import tfrecord

    created = not tf.io.gfile.exists(output_dir)
    staging = os.path.join(output_dir, f"{STAGING_PREFIX}{os.getpid()}")
    tf.io.gfile.makedirs(staging)  # a local folder or gs://bucket/path
    try:
        written, failures = _convert_into(
            staging,
            splits,
            classes,
            encode,
            skip,
            (train_shards, validation_shards, items_per_shard),
            label_offset,
            num_workers,
            unit,
            progress,
        )
        # the shards, then labels.json, then dataset.json: the record comes with a whole set
        last = {tfrecord.LABELS_FILE: 1, dataset_record.RECORD_FILE: 2}
        new = sorted(tf.io.gfile.listdir(staging), key=lambda n: (last.get(n, 0), n))
        for name in new:
            tf.io.gfile.rename(
                os.path.join(staging, name), os.path.join(output_dir, name), overwrite=True
            )
        tf.io.gfile.rmtree(staging)
        # An earlier conversion's shards of these splits with another shard count would match
        # the pipeline's pattern too and be read beside the new set: the new set replaces them.
        for split in splits:
            for path in tf.io.gfile.glob(os.path.join(output_dir, tfrecord.file_pattern(split))):
                if os.path.basename(path) not in new:
                    tf.io.gfile.remove(path)
    except BaseException:  # an error, in a worker too, or Ctrl-C: nothing of this run stays
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
        if created and tf.io.gfile.exists(output_dir) and not tf.io.gfile.listdir(output_dir):
            tf.io.gfile.rmtree(output_dir)
        raise
    return written, failures


def _convert_into(
    directory, splits, classes, encode, skip, counts, label_offset, num_workers, unit, progress
):
    """convert()'s work, every file written into `directory` (its staging folder)."""
    import tensorflow as tf

    from official.data import tfrecord

    train_shards, validation_shards, items_per_shard = counts
    shards = {}
    for split, items in splits.items():
        given, most, per_shard = (
            (train_shards, tfrecord.TRAIN_SHARDS, items_per_shard)
            if split == "train"
            # tensorflow/tpu: 1,250 train but 390 validation images a shard (50,000 in 128), so
            # that as many hosts can each read their own validation files
            else (validation_shards, tfrecord.VALIDATION_SHARDS, max(1, items_per_shard * 5 // 16))
        )
        shards[split] = given if given else default_shards(len(items), per_shard, most)
    tasks = [task + (classes, encode, skip) for task in plan(directory, splits, shards)]
    written, failures = dict.fromkeys(splits, 0), []
    total = sum(len(items) for items in splits.values())
    bar = tqdm(total=total, unit=unit, file=sys.stderr, disable=not progress)
    with contextlib.ExitStack() as stack:
        stack.callback(bar.close)
        mapper = map  # one worker: in this process
        if num_workers > 1:
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(num_workers))
            mapper = pool.imap_unordered
        for split, done, seen, failed in mapper(_write_shard, tasks):
            written[split] += done
            failures.extend(failed)
            bar.update(seen)
    tfrecord.write_labels(directory, classes)
    # each shard's size, for a run to tell a truncated copy (dataset_record.check_shards)
    sizes = {os.path.basename(task[1]): tf.io.gfile.stat(task[1]).length for task in tasks}
    dataset_record.write(directory, classes, label_offset, written, sizes)
    return written, sorted(failures)
