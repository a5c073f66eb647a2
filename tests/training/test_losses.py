import numpy as np
import tensorflow as tf

from official.training import losses


def test_label_smoothed_cross_entropy_matches_numpy():
    logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], "float32")
    labels = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    target = np.eye(3)[labels] * 0.9 + 0.1 / 3
    expected = -(target * np.log(p)).sum(1)
    got = losses.cross_entropy(tf.constant(labels), tf.constant(logits), 3, 0.1).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    one_hot = losses.cross_entropy(tf.constant(np.eye(3)[labels], tf.float32), logits, 3, 0.1)
    np.testing.assert_allclose(one_hot.numpy(), expected, rtol=1e-6)


def test_distillation_is_zero_gradient_when_student_equals_teacher():
    logits = tf.Variable([[1.0, 2.0, 0.5]])
    with tf.GradientTape() as tape:
        loss = losses.distillation(logits, tf.constant([[1.0, 2.0, 0.5]]), temperature=4.0)
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), 0.0, atol=1e-6)
    p = tf.nn.softmax(tf.constant([[1.0, 2.0, 0.5]]) / 4.0).numpy()
    np.testing.assert_allclose(loss.numpy(), 16 * -(p * np.log(p)).sum(), rtol=1e-5)
