import json
import os

import numpy as np
import tensorflow as tf

from official.data import samples, tfrecord


def test_sample_set_builds_offline_with_10_classes(sample_dir):
    names = sorted(os.listdir(sample_dir))
    assert names == [
        "labels.json",
        *[tfrecord.shard_name("train", i, 4) for i in range(4)],
        *[tfrecord.shard_name("validation", i, 2) for i in range(2)],
    ]
    labels = json.load(open(os.path.join(sample_dir, "labels.json")))
    assert labels == {str(i): str(i) for i in range(10)}
    counts = {}
    for split in ("train", "validation"):
        files = tf.io.gfile.glob(os.path.join(sample_dir, tfrecord.file_pattern(split)))
        parsed = [tfrecord.parse_example(r) for r in tf.data.TFRecordDataset(files)]
        counts[split] = len(parsed)
        assert {int(p["label"]) for p in parsed} == set(range(10))
        image = tf.io.decode_jpeg(parsed[0]["image_bytes"]).numpy()
        assert image.shape == (32, 32, 3) and image.max() > 100  # a real, visible digit
    assert counts == {"train": 1437, "validation": 360}  # scikit-learn's 1,797 digits


def test_build_is_idempotent(sample_dir):
    before = {n: os.path.getmtime(os.path.join(sample_dir, n)) for n in os.listdir(sample_dir)}
    assert samples.build(sample_dir) == sample_dir
    after = {n: os.path.getmtime(os.path.join(sample_dir, n)) for n in os.listdir(sample_dir)}
    assert before == after


def test_digits_match_scikit_learn(sample_dir):
    from sklearn.datasets import load_digits

    digits = load_digits()
    record = next(
        iter(
            tf.data.TFRecordDataset(
                os.path.join(sample_dir, tfrecord.shard_name("validation", 0, 2))
            )
        )
    )
    parsed = tfrecord.parse_example(record)
    assert int(parsed["label"]) == digits.target[0]  # validation shard 0 starts with image 0
    image = tf.io.decode_jpeg(parsed["image_bytes"]).numpy()[..., 0].astype(np.float32)
    small = image.reshape(8, 4, 8, 4).mean(axis=(1, 3)) * 16 / 255
    assert np.abs(small - digits.images[0]).mean() < 1.5
