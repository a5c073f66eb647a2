"""Synthetic input: one batch of random images held in memory and repeated, so that a speed
measurement times the training step alone (`data.source: synthetic`; benchmarks/accelerator.sh).
The images are normalized like real ones (zero mean, unit variance); labels are uniform."""

from __future__ import annotations

import math

import tensorflow as tf

from official.configs.config import DataConfig


def synthetic_dataset(config: DataConfig, batch_size: int, training: bool) -> tf.data.Dataset:
    """Batches of `batch_size`: forever for training; for evaluation num_eval_images images
    (one batch when that is 0)."""
    size = config.image_size if training else config.resolved_eval_image_size
    generator = tf.random.Generator.from_seed(config.seed or 0)
    images = tf.cast(generator.normal([batch_size, size, size, 3]), config.dtype)
    labels = generator.uniform([batch_size], 0, config.num_classes, dtype=tf.int32)
    dataset = tf.data.Dataset.from_tensors((images, labels))
    if training:
        return dataset.repeat()
    batches = max(1, math.ceil(config.num_eval_images / batch_size))
    return dataset.repeat(batches)
