"""Exact evaluation: every validation image scored once, with full batches on every replica
(docs/distributed.md, "Exact evaluation")."""

import os

import numpy as np
import tensorflow as tf

from official.configs import overrides, recipes
from official.data import pipeline, tfrecord
from official.training import loop
from official.training.runtime import get_strategy

N = 101


def validation_subset(sample_dir, out_dir, count):
    """The first `count` validation records of the sample set, as one shard; their labels."""
    files = pipeline.list_shards(sample_dir, "validation")
    records = list(tf.data.TFRecordDataset(files).take(count).as_numpy_iterator())
    assert len(records) == count
    os.makedirs(out_dir)
    tfrecord.write_shard(os.path.join(out_dir, tfrecord.shard_name("validation", 0, 1)), records)
    return np.array([int(tfrecord.parse_example(r)["label"]) for r in records])


def numpy_topk(logits, labels, k):
    top = np.argsort(-logits, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def test_every_image_is_scored_once_with_static_shapes(sample_dir, tmp_path):
    labels = validation_subset(sample_dir, str(tmp_path / "data"), N)
    config = recipes.get("sample")
    config.data.data_dir = str(tmp_path / "data")
    overrides.apply_overrides(config, {"data.eval_batch_size": 16, "optimizer.ema_decay": 0.0})
    strategy = get_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    trainer = loop.Trainer(config, strategy, str(tmp_path / "run"))
    dataset = loop.distributed_datasets(trainer, False)
    # What distributed_datasets builds for each replica: full batches of 8, static shapes.
    context = tf.distribute.InputContext(num_replicas_in_sync=2)
    per_replica = pipeline.build_dataset("validation", config.data, context, pad=True)
    for spec in per_replica.element_spec:
        assert spec.shape.is_fully_defined() and spec.shape[0] == 8, spec

    results = trainer.evaluator(dataset, collect=True)
    assert results["examples"] == N == len(results["logits"])
    np.testing.assert_array_equal(np.sort(results["labels"]), np.sort(labels))
    assert results["top1"] == numpy_topk(results["logits"], results["labels"], 1)
    assert results["top5"] == numpy_topk(results["logits"], results["labels"], 5)
    assert 0 < results["top5"] < 1  # the metric is not degenerate here
