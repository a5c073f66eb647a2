"""First-batch data checks (official/data/checks.py): schema, label range, decodability."""

import numpy as np
import pytest

from official.configs.config import DataConfig
from official.data import checks, tfrecord
from tests.data.conftest import encode
from tests.example_protos import example_bytes


def _jpeg(seed=0):
    pixels = np.random.default_rng(seed).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    return encode(pixels)


def _config(data_dir, **kwargs):
    return DataConfig(data_dir=str(data_dir), **{"num_classes": 10, **kwargs})


def test_wrong_schema_names_the_missing_features_and_the_found_ones(tmp_path):
    records = [example_bytes({"img": _jpeg(i), "lbl": 3}) for i in range(4)]
    tfrecord.write_shard(str(tmp_path / "train-00000-of-00001"), records)
    with pytest.raises(checks.DataError) as error:
        checks.check_split(_config(tmp_path), "train", 64)
    message = str(error.value)
    assert message.startswith(
        f"{tmp_path}/train-00000-of-00001: its records have no image/encoded and no "
        "image/class/label (they have img, lbl); "
    )
    assert "\n" not in message


def test_out_of_range_label_names_the_label_and_num_classes(tmp_path):
    # stored labels 1..10 (1-based like ImageNet): classes 0..9, but the config says 5
    records = [
        tfrecord.encode_example(_jpeg(i), i % 10 + 1, height=16, width=16) for i in range(20)
    ]
    tfrecord.write_shard(str(tmp_path / "train-00000-of-00001"), records)
    checks.check_split(_config(tmp_path), "train", 64)  # 10 classes: fine
    with pytest.raises(checks.DataError) as error:
        checks.check_split(_config(tmp_path, num_classes=5), "train", 64)
    assert "a record has label 5 (stored [6] minus data.label_offset=1), outside [0, " in str(
        error.value
    )
    assert "data.num_classes=5)" in str(error.value)
    with pytest.raises(checks.DataError, match=r"label -1 .* outside \[0, data.num_classes=10\)"):
        checks.check_split(_config(tmp_path, label_offset=2), "train", 64)


def test_every_record_undecodable_stops_but_some_are_only_skipped(tmp_path):
    broken = [tfrecord.encode_example(b"not an image", 1, height=0, width=0) for _ in range(5)]
    tfrecord.write_shard(str(tmp_path / "train-00000-of-00001"), broken)
    with pytest.raises(checks.DataError, match=r"none of the first 5 records of 'train' .*decodes"):
        checks.check_split(_config(tmp_path), "train", 64)
    good = [tfrecord.encode_example(_jpeg(), 1, height=16, width=16)]
    tfrecord.write_shard(str(tmp_path / "train-00000-of-00001"), broken + good)
    assert checks.check_split(_config(tmp_path), "train", 64) == 6


def test_only_the_first_batch_is_read_in_file_order(tmp_path):
    for shard in range(2):
        records = [
            tfrecord.encode_example(_jpeg(i), 1 + shard * 20, height=16, width=16) for i in range(3)
        ]
        tfrecord.write_shard(str(tmp_path / f"train-0000{shard}-of-00002"), records)
    # the second shard's labels (20) are out of range, but only 3 records are checked
    assert checks.check_split(_config(tmp_path), "train", 3) == 3
    with pytest.raises(checks.DataError, match="train-00001-of-00002: a record has label 20"):
        checks.check_split(_config(tmp_path), "train", 4)


def test_clip_records_are_checked_as_sequence_examples(tmp_path):
    """data.kind video: the frames and the label live in a SequenceExample (docs/video.md)."""
    from official.data import video_record

    def config(**kwargs):
        return _config(tmp_path, kind="video", augmentation="none", label_offset=0, **kwargs)

    clips = [video_record.encode_sequence_example([_jpeg(i)] * 3, i % 8) for i in range(4)]
    tfrecord.write_shard(str(tmp_path / "train-00000-of-00001"), clips)
    assert checks.check_split(config(num_classes=8), "train", 64) == 4
    with pytest.raises(checks.DataError, match=r"a record has label 3 .*data.num_classes=3\)"):
        checks.check_split(config(num_classes=3), "train", 64)
    # image Examples where clips are expected: their features read as a context, no frames
    images = [example_bytes({"image/encoded": _jpeg(), "image/class/label": 1})]
    tfrecord.write_shard(str(tmp_path / "train-00000-of-00001"), images)
    with pytest.raises(checks.DataError) as error:
        checks.check_split(config(num_classes=8), "train", 64)
    assert str(error.value).startswith(
        f"{tmp_path}/train-00000-of-00001: its records have no feature list image/encoded and "
        "no context clip/label/index (they have context image/class/label, context "
        "image/encoded); the pipeline reads clip SequenceExamples"
    )
