"""The converter core and the staged sample-set writer, on text "examples" checked by hand."""

import json
import os
import random

import pytest
import tensorflow as tf
from absl import app

from official.data import dataset_record, shard_writer, tfrecord


class Unreadable(ValueError):
    pass


def _encode(path: str, label: int, name: str) -> bytes:
    """Module level, so that spawned workers can unpickle it."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise Unreadable("empty file")
    return f"{name}:{label}:{data.decode()}".encode()


def _records(path) -> list[bytes]:
    return list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())


def test_plan_deals_items_round_robin_and_caps_shards_at_the_item_count(tmp_path):
    splits = {"train": list("abcde"), "validation": ["v"], "test": []}
    plan = shard_writer.plan(str(tmp_path), splits, {"train": 2, "validation": 4, "test": 3})
    assert [(split, os.path.basename(path), part) for split, path, part in plan] == [
        ("train", "train-00000-of-00002", ["a", "c", "e"]),
        ("train", "train-00001-of-00002", ["b", "d"]),
        ("validation", "validation-00000-of-00001", ["v"]),
        ("test", "test-00000-of-00001", []),  # an empty split still gets its one shard
    ]


@pytest.mark.parametrize("num_workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_convert_writes_shards_labels_and_reports_skipped_files(tmp_path, num_workers):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, text in {"a": "1", "b": "2", "c": "3", "empty": "", "v": "4"}.items():
        (raw / name).write_text(text)
    train = [(str(raw / "a"), 0), (str(raw / "empty"), 1), (str(raw / "b"), 1), (str(raw / "c"), 0)]
    splits = {"train": train, "validation": [(str(raw / "v"), 1)]}
    out = tmp_path / "out" / "nested"
    written, failures = shard_writer.convert(
        splits,
        ["cat", "dog"],
        str(out),
        _encode,
        (Unreadable,),
        train_shards=2,
        validation_shards=8,
        label_offset=1,
        num_workers=num_workers,
        progress=False,
    )
    assert list(written.items()) == [("train", 3), ("validation", 1)]  # in the splits' order
    assert failures == [(str(raw / "empty"), "empty file")]
    assert sorted(os.listdir(out)) == [
        "dataset.json",
        "labels.json",
        "train-00000-of-00002",
        "train-00001-of-00002",
        "validation-00000-of-00001",
    ]
    assert _records(out / "train-00000-of-00002") == [b"cat:0:1", b"dog:1:2"]  # items 0 and 2
    assert _records(out / "train-00001-of-00002") == [b"cat:0:3"]  # item 1 skipped, item 3
    assert _records(out / "validation-00000-of-00001") == [b"dog:1:4"]
    assert json.loads((out / "labels.json").read_text()) == {"0": "cat", "1": "dog"}
    record = dataset_record.read(str(out))  # the examples written, not the items given
    assert (record.classes, record.label_offset) == (["cat", "dog"], 1)
    assert record.examples == {"train": 3, "validation": 1}


def test_default_shard_counts_scale_with_the_split():
    # tensorflow/tpu's ImageNet shards: 1,281,167 train images in 1024 shards (the cap).
    assert shard_writer.default_shards(1_281_167, 1250, 1024) == 1024
    assert shard_writer.default_shards(50_000, 1250, 128) == 40  # ceil(50000 / 1250)
    assert shard_writer.default_shards(2_501, 1250, 1024) == 3
    assert shard_writer.default_shards(1_250, 1250, 1024) == 1
    assert shard_writer.default_shards(0, 1250, 128) == 1  # an empty split keeps one shard


def test_convert_without_shard_counts_writes_shards_for_the_splits_sizes(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(7):
        (raw / str(i)).write_text(str(i))
    items = [(str(raw / str(i)), i % 2) for i in range(7)]
    splits = {"train": items[:5], "validation": items[5:]}
    out = tmp_path / "out"

    def convert(items_per_shard):
        shards = dict(train_shards=None, validation_shards=None, items_per_shard=items_per_shard)
        shard_writer.convert(
            splits,
            ["a", "b"],
            str(out),
            _encode,
            (Unreadable,),
            label_offset=0,
            progress=False,
            **shards,
        )
        return sorted(n for n in os.listdir(out) if "-of-" in n)

    # 5 train items at 4 a shard: 2 shards; validation at 5/16 of that (tensorflow/tpu's
    # 390 / 1,250), at least 1 a shard: 2 items, 2 shards
    assert convert(4) == [
        "train-00000-of-00002",
        "train-00001-of-00002",
        "validation-00000-of-00002",
        "validation-00001-of-00002",
    ]
    assert dataset_record.read(str(out)).label_offset == 0
    # Converted again with other counts: the new set replaces the old shards (which the
    # pipeline's pattern would otherwise read beside it).
    (out / "notes.txt").write_text("mine")
    assert convert(10) == ["train-00000-of-00001", "validation-00000-of-00001"]
    assert (out / "notes.txt").read_text() == "mine"


def test_scan_tree_takes_classes_from_the_first_split_and_shuffles_train(tmp_path):
    for folder in ("train/b", "train/a", "validation/a"):
        (tmp_path / folder).mkdir(parents=True)
    seen = []

    def scan(split, split_dir, classes):
        seen.append((split, split_dir, classes))
        return [(f"{split}{i}", i % 2) for i in range(6)]

    names = ["train", "test", "validation"]  # "test" has no folder: skipped
    classes, splits = shard_writer.scan_tree(str(tmp_path), names, scan, seed=3)
    assert classes == ["a", "b"]
    assert [s for s, _, _ in seen] == ["train", "validation"]
    assert seen[1][1:] == (str(tmp_path / "validation"), ["a", "b"])
    shuffled = [(f"train{i}", i % 2) for i in range(6)]
    random.Random(3).shuffle(shuffled)
    assert splits == {
        "train": shuffled,
        "validation": [(f"validation{i}", i % 2) for i in range(6)],
    }

    with pytest.raises(app.UsageError, match="--input_dir has no 'val' folder"):
        shard_writer.scan_tree(str(tmp_path), ["val"], scan, seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(app.UsageError, match="has no class sub-folders"):
        shard_writer.scan_tree(str(tmp_path), ["empty"], scan, seed=0)


def _splits():
    return {"train": [b"t0", b"t1", b"t2"], "validation": [b"v0"]}


SHARDS = {"train": 2, "validation": 2}


def test_sample_set_is_written_once_and_leaves_no_staging_folder(tmp_path):
    calls = []

    def make_splits():
        calls.append(1)
        return _splits()

    out = str(tmp_path / "cache" / "set")
    assert shard_writer.write_sample_set(out, make_splits, SHARDS, ["x", "y"]) == out
    assert os.listdir(tmp_path / "cache") == ["set"]
    assert sorted(os.listdir(out)) == [
        "labels.json",
        "train-00000-of-00002",
        "train-00001-of-00002",
        "validation-00000-of-00001",
    ]
    assert _records(os.path.join(out, "train-00000-of-00002")) == [b"t0", b"t2"]
    assert tfrecord.read_labels(os.path.join(out, tfrecord.LABELS_FILE)) == ["x", "y"]
    assert shard_writer.write_sample_set(out, make_splits, SHARDS, ["x", "y"]) == out
    assert len(calls) == 1  # a complete set is not built again


def test_a_killed_build_leaves_no_set_under_the_final_name(tmp_path):
    out = str(tmp_path / "set")

    def killed():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        shard_writer.write_sample_set(out, killed, SHARDS, ["x"])
    assert not os.path.exists(out)
    (tmp_path / ".set-leftover").mkdir()  # what a build killed while writing leaves behind
    (tmp_path / ".set-leftover" / "train-00000-of-00002").write_bytes(b"half")
    shard_writer.write_sample_set(out, _splits, SHARDS, ["x"])
    assert len(os.listdir(out)) == 4 and _records(os.path.join(out, "train-00001-of-00002"))


def test_of_concurrent_builders_the_first_rename_wins(tmp_path):
    out = str(tmp_path / "set")

    def slower():
        # Another builder completes the set while this one is still making its records.
        shard_writer.write_sample_set(out, lambda: {"train": [b"first"]}, {"train": 1}, ["x"])
        return _splits()

    assert shard_writer.write_sample_set(out, slower, SHARDS, ["x"]) == out
    assert os.listdir(tmp_path) == ["set"]  # the loser's staging folder is gone
    assert sorted(os.listdir(out)) == ["labels.json", "train-00000-of-00001"]
    assert _records(os.path.join(out, "train-00000-of-00001")) == [b"first"]


def _interrupted(path: str, label: int, name: str) -> bytes:
    if path.endswith("b"):
        raise KeyboardInterrupt  # Ctrl-C while the second item is encoded
    return _encode(path, label, name)


def test_ctrl_c_leaves_no_staging_folder_and_an_earlier_set_whole(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in "abc":
        (raw / name).write_text(name)
    out = tmp_path / "out"

    def convert(encode):
        return shard_writer.convert(
            {"train": [(str(raw / n), 0) for n in "abc"]},
            ["cat"],
            str(out),
            encode,
            (Unreadable,),
            train_shards=1,
            validation_shards=1,
            label_offset=0,
            progress=False,
        )

    assert convert(_encode) == ({"train": 3}, [])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["dataset.json", "labels.json", "train-00000-of-00001"]
    with pytest.raises(KeyboardInterrupt):
        convert(_interrupted)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
