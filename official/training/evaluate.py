"""Evaluation of a model on a distributed dataset: top-1 and top-5 over every example once."""

from __future__ import annotations

import keras
import tensorflow as tf

from official.training import video_eval


class Evaluator:
    """Counts correct top-1/top-5 predictions per replica and sums them over the replicas."""

    def __init__(
        self,
        model: keras.Model,
        strategy: tf.distribute.Strategy,
        num_classes: int,
        video: bool = False,
    ):
        """video: batches of [B, views, T, H, W, 3], scored by the softmax averaged over the
        views (training/video_eval.py)."""
        self.model = model
        self.strategy = strategy
        self.k = min(5, num_classes)
        self.video = video
        self._step = tf.function(self._step_fn)

    def _step_fn(self, images, labels):
        def replica(images, labels):
            if self.video:
                logits = video_eval.view_averaged_probabilities(self.model, images)
            else:
                logits = tf.cast(self.model(images, training=False), tf.float32)
            labels = tf.cast(labels, tf.int32)
            top1 = tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, 1), tf.float32))
            top5 = tf.reduce_sum(tf.cast(tf.math.in_top_k(labels, logits, self.k), tf.float32))
            return top1, top5, tf.cast(tf.shape(labels)[0], tf.float32)

        outs = self.strategy.run(replica, args=(images, labels))
        return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None) for t in outs]

    def __call__(self, dataset) -> dict:
        """Top-1/top-5 over one pass of `dataset`."""
        totals = [0.0, 0.0, 0.0]
        try:
            for images, labels in dataset:
                for i, value in enumerate(self._step(images, labels)):
                    totals[i] += float(value)
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(
                "an evaluation record is not a decodable image "
                f"({e.message.splitlines()[0][:200]}); evaluation never skips records: rebuild "
                "the validation shards with official/data/build_tfrecords.py, which drops them."
            ) from None
        count = max(totals[2], 1.0)
        return {"top1": totals[0] / count, "top5": totals[1] / count, "examples": int(totals[2])}
