"""The bundled sample set: scikit-learn's handwritten digits as ImageNet-format TFRecords.

1,797 real 8x8 grey images of the digits 0-9 ship inside the scikit-learn wheel (UCI ML
hand-written digits), so the default job and the tests have real data without a download. Each
image is upscaled to 32x32, made RGB and JPEG-encoded; every fifth image goes to validation.
Labels are stored 1-based like ImageNet's (digit + 1), so `label_offset=1` applies as usual.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from official.data import tfrecord

NUM_CLASSES = 10
IMAGE_SIZE = 32
SHARDS = {"train": 4, "validation": 2}
CLASS_NAMES = [str(d) for d in range(NUM_CLASSES)]


def default_dir() -> str:
    root = os.environ.get("OFFICIAL_DATA_CACHE", os.path.join(os.path.expanduser("~"), ".cache"))
    return os.path.join(root, "resnet_family", "digits_tfrecords")


def _encode(image_8x8: np.ndarray) -> bytes:
    image = tf.constant(image_8x8 * (255.0 / 16.0), tf.float32)[..., None]
    image = tf.image.resize(image, [IMAGE_SIZE, IMAGE_SIZE], method="bilinear")
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return tf.io.encode_jpeg(tf.image.grayscale_to_rgb(image), quality=95).numpy()


def build(output_dir: str | None = None) -> str:
    """Writes the sample set once (atomically) and returns its directory."""
    from sklearn.datasets import load_digits  # the images ship in the wheel; nothing downloads

    output_dir = output_dir or default_dir()
    if os.path.exists(os.path.join(output_dir, tfrecord.LABELS_FILE)):
        return output_dir
    digits = load_digits()
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=".digits-")
    splits = {"train": [], "validation": []}
    for index, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        record = tfrecord.encode_example(
            _encode(image),
            int(label) + tfrecord.LABEL_OFFSET,
            height=IMAGE_SIZE,
            width=IMAGE_SIZE,
            synset=CLASS_NAMES[label],
            filename=f"digit_{index:04d}.jpg",
        )
        splits["validation" if index % 5 == 0 else "train"].append(record)
    for split, records in splits.items():
        shards = SHARDS[split]
        for shard in range(shards):
            path = os.path.join(staging, tfrecord.shard_name(split, shard, shards))
            tfrecord.write_shard(path, records[shard::shards])
    tfrecord.write_labels(staging, CLASS_NAMES)
    try:
        os.rename(staging, output_dir)
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return output_dir
