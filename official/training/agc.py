"""Adaptive gradient clipping (Brock et al. 2021, NFNets, section 4.1), unit-wise.

For each output unit i of a weight W with gradient G:
    if ||G_i|| / max(||W_i||, eps) > lambda:  G_i <- lambda * max(||W_i||, eps) / ||G_i|| * G_i
Norms run over every axis but the output axis (the last, in Keras' kernel layouts); vectors
(biases, gains) and scalars are clipped element-wise.
"""

from __future__ import annotations

import tensorflow as tf


def unitwise_norm(x: tf.Tensor) -> tf.Tensor:
    """Frobenius norm per output unit, broadcastable against x."""
    if len(x.shape) <= 1:
        return tf.abs(x)
    axes = list(range(len(x.shape) - 1))
    return tf.sqrt(tf.reduce_sum(tf.square(x), axis=axes, keepdims=True))


def clip_gradient(grad: tf.Tensor, param: tf.Tensor, clip: float, eps: float = 1e-3) -> tf.Tensor:
    param = tf.cast(param, grad.dtype)
    max_norm = tf.maximum(unitwise_norm(param), eps) * clip
    grad_norm = unitwise_norm(grad)
    clipped = grad * (max_norm / tf.maximum(grad_norm, 1e-6))
    return tf.where(grad_norm > max_norm, clipped, grad)


def adaptive_clip_gradients(grads, variables, clip: float, skip=lambda v: False, eps=1e-3):
    """AGC on every gradient whose variable `skip(variable)` is false (NFNets: the classifier)."""
    return [
        g if g is None or skip(v) else clip_gradient(g, v, clip, eps)
        for g, v in zip(grads, variables, strict=True)
    ]
