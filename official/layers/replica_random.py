"""Random draws that differ between the replicas of a tf.distribute step.

A `keras.random.SeedGenerator` keeps its state in a variable; under a tf.distribute strategy
that variable is mirrored, so every replica draws the same numbers and drops the same positions
of its own local batch (the same dropout and stochastic-depth masks on every device). The
generator here folds the replica's id into each seed it hands out, so `model.fit`, a user's own
`strategy.run` loop and our Trainer all get distinct masks per replica, and the same masks again
on a rerun with the same seed. (Keras' own generator has no such option; hence this subclass.)
The Trainer also reseeds every generator per replica and step (official/training/randomness.py);
the two compose: its states already differ per replica, and the fold keeps them apart.
"""

from __future__ import annotations

import keras
from keras import ops

# An odd 32-bit constant (the golden ratio's): replica r's seeds are offset by r times it in
# the seed's first word, the word the generator's draw counter never touches.
_REPLICA_STRIDE = 0x9E3779B1


def replica_id():
    """This replica's index in its tf.distribute sync group (0 outside any strategy)."""
    import tensorflow as tf  # only called on the TensorFlow backend (per_replica)

    context = tf.distribute.get_replica_context()
    return 0 if context is None else context.replica_id_in_sync_group


class _PerReplica(keras.random.SeedGenerator):
    """A view of a layer's generator whose seeds carry the replica's id; keras.random.* take it
    wherever they take a generator."""

    # No super().__init__(): the view makes no state variable of its own.
    def __init__(self, generator: keras.random.SeedGenerator):
        self.generator = generator

    def next(self, ordered=True):
        seed = self.generator.next(ordered=ordered)
        offset = ops.cast(replica_id(), seed.dtype) * ops.cast(_REPLICA_STRIDE, seed.dtype)
        return ops.add(seed, ops.stack([offset, ops.zeros_like(offset)]))


def per_replica(generator: keras.random.SeedGenerator) -> keras.random.SeedGenerator:
    """`generator`, its seeds offset by the replica's id: pass it as `seed=` inside `call`.
    Off TensorFlow there is one replica per process: the generator itself (the PyTorch backend
    reads generator internals a view does not have)."""
    if keras.backend.backend() != "tensorflow":
        return generator
    return _PerReplica(generator)


@keras.saving.register_keras_serializable(package="official")
class Dropout(keras.layers.Dropout):
    """keras.layers.Dropout drawing a different mask on each replica; the same arguments,
    variables and config, so it replaces it one for one."""

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            seed = per_replica(self.seed_generator)
            return keras.random.dropout(inputs, self.rate, noise_shape=self.noise_shape, seed=seed)
        return inputs
