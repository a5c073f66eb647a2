"""Stateless seeds for per-image augmentation: the same base seed gives the same crops, flips
and RandAugment choices for every example, however tf.data schedules its parallel calls, and
`tf.config.experimental.enable_op_determinism()` accepts the pipeline."""

from __future__ import annotations

import random

import tensorflow as tf


def random_seed() -> tf.Tensor:
    """A fresh seed of shape [2] from the global generator, for callers that pass none."""
    return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)


def base_seed(seed: int | None) -> int:
    """`seed`, or one drawn from Python's `random` (which keras.utils.set_random_seed seeds)."""
    return random.randrange(2**31) if seed is None else int(seed)


def example_seed(base: int, pipeline_id: int, index: tf.Tensor) -> tf.Tensor:
    """The seed of example number `index` of input pipeline `pipeline_id`: distinct for every
    (base, pipeline, index), so hosts and epochs draw independently."""
    key = tf.constant([base, pipeline_id], tf.int64)
    return tf.random.experimental.stateless_fold_in(key, tf.cast(index, tf.int64))
