import numpy as np
import tensorflow as tf

from official.data import tfrecord
from tests.data.conftest import encode


def test_shard_names_follow_imagenet():
    assert tfrecord.shard_name("train", 0, 1024) == "train-00000-of-01024"
    assert tfrecord.shard_name("validation", 127, 128) == "validation-00127-of-00128"


def test_encode_parse_round_trip_maps_labels_to_zero_based(tmp_path, photos):
    data = encode(photos["chelsea"])
    record = tfrecord.encode_example(
        data, 1000, height=300, width=451, synset="n15075141", filename="a.JPEG"
    )
    example = tf.train.Example.FromString(record)
    feature = example.features.feature
    assert feature["image/class/synset"].bytes_list.value[0] == b"n15075141"
    assert feature["image/height"].int64_list.value[0] == 300
    assert feature["image/format"].bytes_list.value[0] == b"JPEG"
    parsed = tfrecord.parse_example(tf.constant(record))
    assert int(parsed["label"]) == 999  # 1..1000 on disk -> 0..999
    assert parsed["image_bytes"].numpy() == data
    assert int(tfrecord.parse_example(tf.constant(record), label_offset=0)["label"]) == 1000
    decoded = tf.io.decode_jpeg(parsed["image_bytes"]).numpy()
    assert decoded.shape == (300, 451, 3)
    assert np.abs(decoded.astype(int) - photos["chelsea"]).mean() < 3


def test_write_shard_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "train-00000-of-00001"
    assert tfrecord.write_shard(str(path), [b"a", b"b"]) == 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert list(tf.data.TFRecordDataset(str(path)).as_numpy_iterator()) == [b"a", b"b"]


def test_class_names_that_cannot_be_used_are_said_once(tmp_path, caplog):
    """official/training/exporting.py names the classes of a run's exports from here: where
    labels.json is missing or names another count, one warning says indices stand in."""
    import logging

    missing, short = tmp_path / "missing", tmp_path / "short"
    missing.mkdir()
    short.mkdir()
    tfrecord.write_labels(str(short), ["cat", "dog"])
    with caplog.at_level(logging.WARNING, logger="official.data"):
        assert tfrecord.read_class_names(str(short), 2) == ["cat", "dog"]
        assert caplog.messages == []
        for _ in range(2):  # a run's .keras file and its export: said once
            assert tfrecord.read_class_names(str(missing), 3) is None
            assert tfrecord.read_class_names(str(short), 3) is None
    assert caplog.messages == [
        f"no labels.json in {missing}: class indices are shown in place of class names",
        f"{short}/labels.json names 2 classes, the model has 3: class indices are shown in place "
        "of class names",
    ]
