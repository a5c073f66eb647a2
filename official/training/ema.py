"""Exponential moving average of a model's weights AND its BN moving statistics
(docs/REFERENCE.md §2.2).

Keras' own `use_ema` averages trainable variables only; the ResNet-RS recipe (BN momentum 0)
relies on the EMA to average the batch statistics too, so this one covers every weight of the
model except random-generator state. The decay warms up as in tf.train.ExponentialMovingAverage
with num_updates: d_t = min(decay, (1 + t) / (10 + t)), t = updates so far.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf


def averaged_variables(model: keras.Model) -> list:
    """Trainable weights and non-trainable statistics; not seed-generator state."""
    return [v for v in model.weights if "seed_generator" not in v.path]


class ModelEMA(tf.Module):
    """Shadow copies of `averaged_variables(model)`; create it inside the strategy scope."""

    def __init__(self, model: keras.Model, decay: float):
        super().__init__(name="ema")
        self.decay = decay
        # Set around tf.Module's attribute tracking: the model's own variables are checkpointed
        # with the model, not a second time under the EMA.
        object.__setattr__(self, "_model_variables", averaged_variables(model))
        # Sync-on-read: each replica updates its own copy in the train step with no
        # communication (the model's weights are identical across replicas); a read outside the
        # replicas (checkpoint, evaluation, export) takes the first replica's copy.
        local = dict(
            trainable=False,
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        self.updates = tf.Variable(0, dtype=tf.int64, name="updates", **local)
        self.shadows = [
            tf.Variable(tf.convert_to_tensor(v.value), name=v.path.replace("/", "_"), **local)
            for v in self._model_variables
        ]

    def current_decay(self, dtype: tf.DType = tf.float32) -> tf.Tensor:
        # In the shadows' own dtype: float64 weights average in float64, and a float32 run never
        # computes in float64 (which TPUs do not have).
        t = tf.cast(self.updates, dtype)
        return tf.minimum(tf.constant(self.decay, dtype), (1.0 + t) / (10.0 + t))

    def update(self) -> None:
        """One EMA step; call it in the replica step, after the optimizer update."""
        decays = {s.dtype: self.current_decay(s.dtype) for s in self.shadows}
        for shadow, variable in zip(self.shadows, self._model_variables, strict=True):
            value = tf.cast(variable.value, shadow.dtype)
            decay = decays[shadow.dtype]
            shadow.assign(decay * shadow + (1.0 - decay) * value)
        self.updates.assign_add(1)

    def copy_to_model(self) -> None:
        for shadow, variable in zip(self.shadows, self._model_variables, strict=True):
            variable.assign(shadow)

    @contextlib.contextmanager
    def swapped(self):
        """The model holds the averages inside the block and its own weights again after it."""
        backup = [tf.identity(v.value) for v in self._model_variables]
        self.copy_to_model()
        try:
            yield
        finally:
            for variable, value in zip(self._model_variables, backup, strict=True):
                variable.assign(value)
