"""Evaluation of a model on a distributed dataset: top-1 and top-5 over every example once.

The evaluation input (`pipeline.build_dataset(..., pad=True)`) has full batches only: the
records, then padding examples labelled `pipeline.PADDING_LABEL` that no metric counts. Shapes
stay static (TPUs need that) and no record is dropped; evaluation ends at the first step in which
no replica got a real record (docs/distributed.md, "Exact evaluation").
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from official.console import errors
from official.data import pipeline
from official.data.video import view_averaged_probabilities


def real_examples(labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(class ids, mask of real examples) of int labels or one-hot rows; padding has the label
    PADDING_LABEL (a zero row once one-hot)."""
    if labels.shape.rank == 2:
        return tf.argmax(labels, -1, output_type=tf.int32), tf.reduce_max(labels, -1) > 0
    labels = tf.cast(labels, tf.int32)
    return tf.maximum(labels, 0), labels != pipeline.PADDING_LABEL


class UndecodableRecord(ValueError):
    """An evaluation record whose image does not decode (evaluation never skips one)."""


class Evaluator:
    """Counts correct top-1/top-5 predictions of real examples per replica; sums over replicas."""

    def __init__(
        self,
        model: keras.Model,
        strategy: tf.distribute.Strategy,
        num_classes: int,
        video: bool = False,
    ):
        """video: batches of [B, views, T, H, W, 3], scored by the softmax averaged over the
        views (official/data/video.py)."""
        self.model = model
        self.strategy = strategy
        self.k = min(5, num_classes)
        self.video = video
        self._step = tf.function(self._step_fn)

    def _step_fn(self, images, labels, collect: bool):
        def replica(images, labels):
            if self.video:
                logits = view_averaged_probabilities(self.model, images)
            else:
                logits = tf.cast(self.model(images, training=False), tf.float32)
            ids, real = real_examples(labels)
            mask = tf.cast(real, tf.float32)
            top1 = tf.cast(tf.math.in_top_k(ids, logits, 1), tf.float32)
            top5 = tf.cast(tf.math.in_top_k(ids, logits, self.k), tf.float32)
            sums = (tf.reduce_sum(top1 * mask), tf.reduce_sum(top5 * mask), tf.reduce_sum(mask))
            return sums + ((logits, ids, real) if collect else ())

        outs = self.strategy.run(replica, args=(images, labels))
        sums = [self.strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None) for t in outs[:3]]
        return sums, outs[3:]

    def __call__(self, dataset, collect: bool = False) -> dict:
        """Top-1/top-5 over one pass of `dataset` (until it ends or a step scores nothing), and
        `examples`: how many images were scored. collect: also `logits` [examples, classes] and
        `labels` of the real examples this host's replicas scored, in no particular order."""
        totals, collected = [0.0, 0.0, 0.0], []
        try:
            for images, labels in dataset:
                sums, per_replica = self._step(images, labels, collect)
                sums = [float(value) for value in sums]
                if sums[2] == 0:  # only padding left on every replica
                    break
                totals = [t + v for t, v in zip(totals, sums, strict=True)]
                if collect:
                    local = [self.strategy.experimental_local_results(t) for t in per_replica]
                    collected += [[np.asarray(x) for x in r] for r in zip(*local, strict=True)]
        except tf.errors.InvalidArgumentError as e:
            raise UndecodableRecord(
                "an evaluation record is not a decodable image "
                f"({errors.one_line(e, 200)}); evaluation never skips records: rebuild "
                "the validation shards with official/data/build_tfrecords.py, which drops them."
            ) from None
        count = max(totals[2], 1.0)
        results = {"top1": totals[0] / count, "top5": totals[1] / count, "examples": int(totals[2])}
        if collect and collected:
            results["logits"] = np.concatenate([logits[real] for logits, _, real in collected])
            results["labels"] = np.concatenate([ids[real] for _, ids, real in collected])
        return results
