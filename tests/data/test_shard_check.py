"""official/data/shard_check.py on real TFRecord files: whole, cut inside a record, cut inside a
header."""

import os

import tensorflow as tf

from official.data.shard_check import first_damaged, framing_damage


def _shard(path, records=5, size=100):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(records):
            writer.write(bytes([i]) * size)
    return str(path)


def test_a_whole_shard_has_no_damage(tmp_path):
    assert framing_damage(_shard(tmp_path / "a")) is None


def test_a_shard_cut_inside_a_record_or_a_header_is_named(tmp_path):
    whole = _shard(tmp_path / "whole")
    data = open(whole, "rb").read()
    record = 12 + 100 + 4
    cuts = {
        "inside": 2 * record + 50,  # record 2 starts at byte 232 and would end at 348
        "header": 3 * record + 5,  # record 3's header starts at byte 348
    }
    expected = {
        "inside": "truncated: 282 bytes, record 2 at byte 232 announces 100 bytes and ends at "
        "byte 348",
        "header": "truncated: 353 bytes, record 3's header at byte 348 needs 12",
    }
    for name, length in cuts.items():
        path = tmp_path / name
        path.write_bytes(data[:length])
        assert framing_damage(str(path)) == expected[name]
    files = [whole, str(tmp_path / "inside")]
    assert first_damaged(files) == (files[1], framing_damage(files[1]))
    assert first_damaged([whole]) is None
    assert os.path.getsize(whole) == 5 * record


def test_the_first_undecodable_record_is_named_with_its_file_or_without_when_it_is_no_example(
    tmp_path,
):
    """Shard 0 is whole; shard 1 holds a good image, then bytes that are no Example at all
    (protobuf cannot parse them: named without a filename), then a broken JPEG."""
    from official.data import tfrecord
    from official.data.shard_check import first_undecodable

    jpeg = tf.io.encode_jpeg(tf.zeros([4, 4, 3], tf.uint8)).numpy()
    good = tfrecord.encode_example(jpeg, 1, height=4, width=4, filename="good.jpg")
    broken = tfrecord.encode_example(jpeg[:20], 1, height=4, width=4, filename="broken.jpg")
    first, second = str(tmp_path / "s0"), str(tmp_path / "s1")
    tfrecord.write_shard(first, [good, good])
    tfrecord.write_shard(second, [good, b"\xff\xfe not a protobuf", broken])
    assert first_undecodable([first, second], 1) == (second, 1, "")
    tfrecord.write_shard(second, [good, broken])
    assert first_undecodable([first, second], 1) == (second, 1, "broken.jpg")
    assert first_undecodable([first], 1) is None
