"""The clip TFRecord schema: one tf.train.SequenceExample per video (docs/video.md).

The layout TF Model Garden's video reader (official/vision/dataloaders/video_input.py) and
DeepMind's DMVR read, so existing Kinetics shards work unchanged:
  context        clip/label/index  int64, 0-based class index (so data.label_offset = 0)
                 clip/label/text   bytes, the class name (optional)
                 clip/media_id     bytes, the source file (optional, this library's converter)
  feature_lists  image/encoded     one encoded frame (JPEG) per time step
Shard names and labels.json are the image schema's (official/data/tfrecord.py).
"""

from __future__ import annotations

import tensorflow as tf

LABEL_OFFSET = 0
FRAMES_KEY = "image/encoded"
LABEL_KEY = "clip/label/index"
TEXT_KEY = "clip/label/text"
MEDIA_ID_KEY = "clip/media_id"


def encode_sequence_example(
    frames: list[bytes], label: int, *, text: str = "", media_id: str = ""
) -> bytes:
    """A serialized SequenceExample of encoded `frames` with the stored (0-based) `label`."""
    example = tf.train.SequenceExample()
    context = example.context.feature
    context[LABEL_KEY].int64_list.value.append(label)
    if text:
        context[TEXT_KEY].bytes_list.value.append(text.encode())
    if media_id:
        context[MEDIA_ID_KEY].bytes_list.value.append(media_id.encode())
    frame_list = example.feature_lists.feature_list[FRAMES_KEY]
    for frame in frames:
        frame_list.feature.add().bytes_list.value.append(frame)
    return example.SerializeToString()


CONTEXT = {
    # A list, as the readers above declare it; the first entry is the class.
    LABEL_KEY: tf.io.VarLenFeature(tf.int64),
    TEXT_KEY: tf.io.FixedLenFeature([], tf.string, default_value=""),
}
SEQUENCE = {FRAMES_KEY: tf.io.FixedLenSequenceFeature([], tf.string)}


def parse_sequence_example(serialized: tf.Tensor, label_offset: int = LABEL_OFFSET) -> dict:
    """{'frames': string [T], 'label': int32 (stored - label_offset), 'text': string}.

    A record without a label or without frames fails here (training skips and counts it,
    evaluation stops with the error)."""
    context, sequence = tf.io.parse_single_sequence_example(serialized, CONTEXT, SEQUENCE)
    labels = tf.sparse.to_dense(context[LABEL_KEY])
    frames = sequence[FRAMES_KEY]
    checks = [
        tf.debugging.assert_positive(tf.size(labels), message=f"record has no {LABEL_KEY}"),
        tf.debugging.assert_positive(tf.size(frames), message=f"record has no {FRAMES_KEY}"),
    ]
    with tf.control_dependencies(checks):
        label = tf.cast(labels[0], tf.int32) - label_offset
        return {"frames": tf.identity(frames), "label": label, "text": context[TEXT_KEY]}
