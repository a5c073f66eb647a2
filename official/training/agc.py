"""Adaptive gradient clipping (Brock et al. 2021, NFNets, section 4.1), unit-wise.

For each output unit i of a weight W with gradient G:
    if ||G_i|| / max(||W_i||, eps) > lambda:  G_i <- lambda * max(||W_i||, eps) / ||G_i|| * G_i
Norms run over every axis but the output axis (the last, in Keras' kernel layouts); vectors
(biases, gains) and scalars are clipped element-wise.

Written with keras.ops: the training loop runs it on TensorFlow, and `with_agc` optimizers run it
inside `model.fit` on whichever Keras backend is in use (JAX traces it under jit).
"""

from __future__ import annotations

import keras
from keras import ops


def unitwise_norm(x):
    """Frobenius norm per output unit, broadcastable against x."""
    if len(x.shape) <= 1:
        return ops.abs(x)
    axes = tuple(range(len(x.shape) - 1))
    return ops.sqrt(ops.sum(ops.square(x), axis=axes, keepdims=True))


def clip_gradient(grad, param, clip: float, eps: float = 1e-3):
    grad = ops.convert_to_tensor(grad)  # (NumPy gradients given to optimizer.apply)
    param = ops.cast(param, keras.backend.standardize_dtype(grad.dtype))
    max_norm = ops.maximum(unitwise_norm(param), eps) * clip
    grad_norm = unitwise_norm(grad)
    clipped = grad * (max_norm / ops.maximum(grad_norm, 1e-6))
    return ops.where(grad_norm > max_norm, clipped, grad)


def adaptive_clip_gradients(grads, variables, clip: float, skip=lambda v: False, eps=1e-3):
    """AGC on every gradient whose variable `skip(variable)` is false (NFNets: the classifier)."""
    return [
        g if g is None or skip(v) else clip_gradient(g, v, clip, eps)
        for g, v in zip(grads, variables, strict=True)
    ]


def with_agc(optimizer, clip: float, skip=lambda v: False):
    """A copy of a Keras optimizer that applies AGC before every update, for `model.fit`.

        model.compile(optimizer=with_agc(keras.optimizers.SGD(0.1, momentum=0.9), 0.01,
                                         skip=lambda v: v.path.startswith("classifier/")), ...)

    The copy is a subclass of the optimizer's own class, built from its config (so it starts
    with fresh slots); it is not registered for serialization.
    """
    base = type(optimizer)

    class AdaptiveClipping(base):
        def apply(self, grads, trainable_variables=None):
            variables = (
                trainable_variables
                if trainable_variables is not None
                else self._trainable_variables
            )
            grads = adaptive_clip_gradients(list(grads), list(variables), clip, skip)
            return super().apply(grads, trainable_variables)

    AdaptiveClipping.__name__ = f"AGC{base.__name__}"
    return AdaptiveClipping.from_config(optimizer.get_config())
