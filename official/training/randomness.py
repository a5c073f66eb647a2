"""Per-replica, per-step random streams for the layers that draw random numbers while training
(dropout, stochastic depth).

Keras layers draw from a `keras.random.SeedGenerator`, whose state is a variable. Under a
tf.distribute strategy that variable is mirrored: every replica holds the same state, so every
replica would drop the same positions of its local batch. Before each forward pass the train step
sets every generator's state to a value folded from `runtime.seed`, the replica id, the step and
the generator's index in the model, so the masks differ between replicas and between steps and a
rerun with the same seed draws them again (docs/distributed.md, "Randomness").
"""

from __future__ import annotations

import keras
import tensorflow as tf


def seed_states(model: keras.Model) -> list:
    """The state variables of every random generator in `model`, in a fixed order."""
    return [v for v in model.non_trainable_variables if "seed_generator" in v.path]


class ReplicaSeeds:
    """Reseeds a model's random generators for one replica and one step."""

    def __init__(self, model: keras.Model, seed: int):
        self.states = seed_states(model)
        self.seed = seed

    def reseed(self, step) -> None:
        """Call inside the replica step, before the model runs. Generator i gets the state
        [h_i, 0] with h_i a hash of (seed, replica, step, i): the draws a layer makes within one
        step count up the second half, so no two generators, replicas or steps share a draw."""
        if not self.states:
            return
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context is not None else 0
        key = _mix(_mix(tf.constant(self.seed, tf.int64), replica), step)
        for index, state in enumerate(self.states):
            state.assign(tf.cast(tf.stack([_mix(key, index), 0]), state.dtype))


def _mix(a, b) -> tf.Tensor:
    """A 64-bit hash of the pair (a, b): the first half of TF's stateless fold-in of [a, b]."""
    pair = tf.stack([tf.cast(a, tf.int64), tf.cast(b, tf.int64)])
    return tf.random.experimental.stateless_fold_in(pair, 0)[0]
