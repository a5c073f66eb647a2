"""What a training run reports (docs/REFERENCE.md §2.7), read back from its TensorBoard event
files: the evaluation cadence of train_and_eval, the tags and steps of the train and eval
summaries, the logged learning rate against the schedule's formula, and the count of skipped
records."""

import glob
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from official.configs import overrides, recipes
from official.data import tfrecord
from official.training import loop
from official.training.runtime import get_strategy

GOOD, BAD, BATCH = 48, 16, 16  # per epoch: 48 decodable records and 16 that are not images


@pytest.fixture(scope="module")
def data_dir(sample_dir, tmp_path_factory):
    """48 digits and 16 corrupt records in one train shard; 40 digits for validation."""
    root = tmp_path_factory.mktemp("with_bad_records")

    def records(split, count):
        files = sorted(glob.glob(os.path.join(sample_dir, f"{split}-*")))
        return [r.numpy() for r in tf.data.TFRecordDataset(files).take(count)]

    bad = [
        tfrecord.encode_example(b"not an image %d" % i, 1 + i % 10, height=32, width=32)
        for i in range(BAD)
    ]
    tfrecord.write_shard(
        str(root / tfrecord.shard_name("train", 0, 1)), records("train", GOOD) + bad
    )
    tfrecord.write_shard(
        str(root / tfrecord.shard_name("validation", 0, 1)), records("validation", 40)
    )
    return str(root)


def read_scalars(directory):
    """{tag: [(step, value)]} from every event file under `directory`."""
    scalars = {}
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor))
                scalars.setdefault(value.tag, []).append((event.step, number))
    return scalars


@pytest.mark.slow
def test_eval_cadence_summaries_and_skipped_records(data_dir, tmp_path):
    config = recipes.get("sample")
    config.data.data_dir = data_dir
    overrides.apply_overrides(
        config,
        {
            "data.train_batch_size": BATCH,
            "data.eval_batch_size": 16,
            "data.shuffle_buffer": 64,
            "train.num_train_images": GOOD,  # 3 steps per epoch
            "train.epochs": 8,  # 24 steps
            "train.steps_per_loop": 5,
            "train.eval_every_epochs": 2,  # every 6 steps
            "optimizer.warmup_epochs": 1,  # 3 steps
        },
    )
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    results = loop.train(trainer, True)  # train_and_eval: evaluate on the way

    # Loops of 5 steps, cut at every evaluation (steps 6, 12, 18) and at the end (24):
    # 0-5, 5-6, 6-11, 11-12, 12-17, 17-18, 18-23, 23-24.
    train_steps = [5, 6, 11, 12, 17, 18, 23, 24]
    eval_steps = [6, 12, 18, 24]
    train = read_scalars(str(tmp_path / "train"))
    evals = read_scalars(str(tmp_path / "eval"))
    assert set(train) == {"loss", "top1", "learning_rate", "images_per_second", "skipped_records"}
    assert set(evals) == {"top1", "top5"}
    for tag, points in train.items():
        assert [step for step, _ in points] == train_steps, tag
    for tag, points in evals.items():
        assert [step for step, _ in points] == eval_steps, tag
        assert all(0.0 <= value <= 1.0 for _, value in points)
    assert evals["top1"][-1][1] == pytest.approx(results["top1"])
    assert all(
        top1 <= top5 for (_, top1), (_, top5) in zip(evals["top1"], evals["top5"], strict=True)
    )
    assert all(math.isfinite(v) for _, v in train["loss"])
    assert all(v > 0 for _, v in train["images_per_second"])

    # The learning rate logged at step s is the schedule at s: 0.4 * 16 / 256 = 0.025 reached
    # linearly over 3 warmup steps, then a cosine to 0 at step 24.
    peak, warmup, total = 0.4 * BATCH / 256, 3, 24
    for step, value in train["learning_rate"]:
        if step < warmup:
            want = peak * step / warmup
        else:
            want = peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
        assert value == pytest.approx(want, rel=1e-5, abs=1e-8), step

    # Every epoch passes 16 undecodable records, which are skipped and counted. The count is
    # read while the input pipeline runs ahead, so it is at least the count of the epochs the
    # model has consumed (less the last, whose tail may still be in flight), and never falls.
    counts = [value for _, value in train["skipped_records"]]
    assert counts == sorted(counts)
    for step, count in train["skipped_records"]:
        consumed_epochs = step * BATCH // GOOD
        assert count >= BAD * (consumed_epochs - 1), step
    assert results["skipped_records"] >= counts[-1] >= BAD * (24 * BATCH // GOOD - 1)
    assert np.isfinite(results["train_loss"])
