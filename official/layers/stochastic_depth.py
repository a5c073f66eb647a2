"""Stochastic depth (Huang et al. 2016): drop a residual branch per sample while training."""

from __future__ import annotations

import keras
from keras import ops

from official.layers.replica_random import per_replica


@keras.saving.register_keras_serializable(package="official")
class StochasticDepth(keras.layers.Layer):
    """Zero the branch of a random `rate` fraction of the samples and scale the rest by 1/(1-rate).

    The scaling keeps the expected output equal to the input, so inference is the identity.
    Apply it to the residual branch, before the add.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"StochasticDepth rate must be in [0, 1), got {rate}.")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        # Each replica drops its own samples (official/layers/replica_random.py).
        noise = keras.random.uniform(shape, seed=per_replica(self.seed_generator))
        mask = ops.cast(noise < keep, inputs.dtype) / ops.cast(keep, inputs.dtype)
        return inputs * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
