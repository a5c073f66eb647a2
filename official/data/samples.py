"""The bundled sample set: scikit-learn's handwritten digits as ImageNet-format TFRecords.

1,797 real 8x8 grey images of the digits 0-9 ship inside the scikit-learn wheel (UCI ML
hand-written digits), so the default job and the tests have real data without a download. Each
image is upscaled to 32x32, made RGB and JPEG-encoded; every fifth image goes to validation.
Labels are stored 1-based like ImageNet's (digit + 1), so `label_offset=1` applies as usual.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from official.data import shard_writer, tfrecord

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


def _splits() -> dict[str, list[bytes]]:
    """Serialized examples per split: every fifth digit goes to validation."""
    from sklearn.datasets import load_digits  # the images ship in the wheel; nothing downloads

    digits = load_digits()
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
    return splits


def build(output_dir: str | None = None) -> str:
    """Writes the sample set once (atomically) and returns its directory."""
    return shard_writer.write_sample_set(output_dir or default_dir(), _splits, SHARDS, CLASS_NAMES)
