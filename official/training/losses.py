"""Classification loss with label smoothing, and knowledge distillation (docs/REFERENCE.md §2.1)."""

from __future__ import annotations

import tensorflow as tf


def cross_entropy(labels, logits, num_classes: int, label_smoothing: float = 0.0) -> tf.Tensor:
    """Per-example softmax cross-entropy. labels: int class ids or (mixed) one-hot rows.
    Smoothing replaces y with (1 - eps) * y + eps / K (Szegedy et al. 2016)."""
    logits = tf.cast(logits, tf.float32)
    if labels.shape.rank == 1:
        labels = tf.one_hot(labels, num_classes)
    labels = tf.cast(labels, tf.float32)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / num_classes
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def distillation(student_logits, teacher_logits, temperature: float) -> tf.Tensor:
    """Per-example KL-matching loss T^2 * CE(softmax(teacher / T), softmax(student / T))
    (Hinton et al. 2015; Bag of Tricks 5.3). The T^2 keeps gradient scale independent of T."""
    teacher = tf.nn.softmax(tf.cast(teacher_logits, tf.float32) / temperature)
    student = tf.cast(student_logits, tf.float32) / temperature
    return temperature**2 * tf.nn.softmax_cross_entropy_with_logits(labels=teacher, logits=student)
