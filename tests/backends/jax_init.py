"""Faster model builds under JAX for tests: initial values from NumPy."""

from __future__ import annotations

import contextlib

import keras
import numpy as np


@contextlib.contextmanager
def numpy_initial_values():
    """Under JAX, Keras draws every initial value with a jitted jax.random function that XLA
    compiles once per weight shape (0.1-1 s each on a CPU, most of a tiny model's build time).
    Here they come from NumPy instead, with the same distributions (a truncated normal redrawn
    beyond 2 stddev, as jax.random's) but not from Keras' seeds; every layer of the library
    still builds and runs on the backend. The backend worker overwrites them with the loaded
    weights; the layer and model tests on JAX use them as initial values."""
    if keras.backend.backend() != "jax":
        yield
        return
    from keras.src import backend as keras_backend

    backend_random = keras_backend.random
    rng = np.random.default_rng(0)

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        values = rng.normal(mean, stddev, shape)
        return keras.ops.convert_to_tensor(values, dtype or keras.config.floatx())

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        values = rng.uniform(minval, maxval, shape)
        return keras.ops.convert_to_tensor(values, dtype or keras.config.floatx())

    def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        values = rng.normal(0.0, 1.0, shape)  # redrawn beyond 2 stddev, as jax.random's
        while np.any(outside := np.abs(values) > 2.0):
            values[outside] = rng.normal(0.0, 1.0, int(outside.sum()))
        return keras.ops.convert_to_tensor(mean + stddev * values, dtype or keras.config.floatx())

    saved = {n: getattr(backend_random, n) for n in ("normal", "truncated_normal", "uniform")}
    backend_random.normal = normal
    backend_random.truncated_normal = truncated_normal
    backend_random.uniform = uniform
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(backend_random, n, fn)
