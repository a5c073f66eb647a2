"""Which TFRecord shard is damaged, when reading one failed inside the training graph.

An error raised by the input pipeline inside a `tf.function` reaches the program as TensorFlow's
text ("truncated record at 268589", or only "End of sequence" where the pipeline's skipping of
undecodable images swallowed it) with no file name: the shards are read interleaved. On such a
failure the program walks the shards' record framing (TFRecord: an 8-byte little-endian length,
a 4-byte CRC of it, the data, a 4-byte CRC of the data), which reads each record's 8-byte
length and no data, and names the first shard whose framing runs past its end.
"""

from __future__ import annotations

import struct

import tensorflow as tf

HEADER = 12  # uint64 length + uint32 masked CRC of the length
FOOTER = 4  # uint32 masked CRC of the data


def framing_damage(path: str) -> str | None:
    """Why `path`'s record framing is broken, or None when every record it announces is whole
    (the CRCs are not checked: truncation, the common fault of a copy, is what this finds)."""
    size = tf.io.gfile.stat(path).length
    offset = record = 0
    with tf.io.gfile.GFile(path, "rb") as f:
        while offset < size:
            if size - offset < HEADER:
                return (
                    f"truncated: {size} bytes, record {record}'s header at byte {offset} "
                    f"needs {HEADER}"
                )
            f.seek(offset)
            (length,) = struct.unpack("<Q", f.read(8))
            end = offset + HEADER + length + FOOTER
            if end > size:
                return (
                    f"truncated: {size} bytes, record {record} at byte {offset} announces "
                    f"{length} bytes and ends at byte {end}"
                )
            offset, record = end, record + 1
    return None


def first_damaged(files: list[str]) -> tuple[str, str] | None:
    """(shard, why) for the first of `files` whose framing is broken, or None."""
    for path in files:
        why = framing_damage(path)
        if why:
            return path, why
    return None


def first_undecodable(files: list[str], label_offset: int) -> tuple[str, int, str] | None:
    """(shard, record number, stored filename) of the first record of `files` that does not
    parse or whose image does not decode (tf.io.decode_image), or None. Decodes every record
    up to it: a failure path only."""
    from official.data import tfrecord  # (a sibling module; only on this failure path)

    def decodes(index, record):
        example = tfrecord.parse_example(record, label_offset)
        image = tf.io.decode_image(example["image_bytes"], channels=3, expand_animations=False)
        return index, tf.shape(image)  # (the shape: an output, so the decode is not pruned)

    for path in files:
        expected = 0
        for index, _ in tf.data.TFRecordDataset(path).enumerate().map(decodes).ignore_errors():
            if int(index) != expected:
                break
            expected += 1
        else:
            if expected == sum(1 for _ in tf.data.TFRecordDataset(path)):
                continue
        raw = next(iter(tf.data.TFRecordDataset(path).skip(expected)))
        try:
            feature = tf.train.Example.FromString(raw.numpy()).features.feature
        except Exception:  # protobuf's DecodeError: the record is no Example at all
            return path, expected, ""
        filename = b"".join(feature["image/filename"].bytes_list.value)
        return path, expected, filename.decode(errors="replace")
    return None


def name_undecodable(error_line: str, data) -> str:
    """`error_line` (an evaluation record that does not decode) with its shard, record number
    and filename when the eval split's TFRecord shards show one; unchanged otherwise."""
    if data.source != "tfrecord" or not data.data_dir or data.kind != "image":
        return error_line
    from official.data import pipeline  # (a sibling module; only on this failure path)

    try:
        found = first_undecodable(
            pipeline.list_shards(data.data_dir, data.eval_split), data.label_offset
        )
    except (tf.errors.OpError, OSError, FileNotFoundError):
        return error_line
    if found is None:
        return error_line
    path, index, filename = found
    named = f" ({filename})" if filename else ""
    return f"shard {path}, record {index}{named}: {error_line}"


def explain(error_line: str, data, training: bool) -> str:
    """`error_line` (a failed read inside the graph, as one line) with the damaged shard named
    when the TFRecord shards of `data` (a DataConfig: data_dir, its train and eval splits) have
    one; unchanged for other sources, when every shard's framing is whole, or when the scan
    itself cannot read them."""
    if data.source != "tfrecord" or not data.data_dir:
        return error_line
    from official.data import pipeline  # (a sibling module; only on this failure path)

    try:
        files = []
        for split in dict.fromkeys((data.train_split, data.eval_split)):
            try:
                files += pipeline.list_shards(data.data_dir, split)
            except FileNotFoundError:
                continue
        damaged = first_damaged(files)
    except (tf.errors.OpError, OSError):
        return error_line
    if damaged is None:
        return error_line
    path, why = damaged
    resume = " (the run resumes from its last checkpoint)" if training else ""
    return (
        f"shard {path} is {why}: copy it again or rebuild the set{resume}. "
        f"TensorFlow said: {error_line}"
    )
