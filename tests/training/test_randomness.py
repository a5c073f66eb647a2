"""Dropout and stochastic-depth masks: different on every replica and every step, the same again
under the same runtime.seed (docs/distributed.md, "Randomness"). The masks in the real train step
under XLA: tests/training/test_loop.py::test_xla_on_two_replicas."""

import keras
import numpy as np
import tensorflow as tf

from official.layers import StochasticDepth
from official.training import randomness
from official.training.runtime import get_strategy

RATE = 0.5


def masks_model():
    """Outputs the dropout and the stochastic-depth masks of a batch of ones."""
    inputs = keras.Input((64,))
    dropped = keras.layers.Dropout(RATE)(inputs)
    branch = StochasticDepth(RATE)(inputs)
    return keras.Model(inputs, [dropped, branch])


def draw(strategy, seed, step):
    """Each replica's masks for one step, from a freshly built model."""
    with strategy.scope():
        model = masks_model()
    seeds = randomness.ReplicaSeeds(model, seed)

    @tf.function
    def run():
        def replica():
            seeds.reseed(tf.constant(step, tf.int64))
            return model(tf.ones((16, 64)), training=True)

        return strategy.run(replica)

    dropped, branch = run()
    return [
        (np.asarray(d), np.asarray(b))
        for d, b in zip(
            strategy.experimental_local_results(dropped),
            strategy.experimental_local_results(branch),
            strict=True,
        )
    ]


def test_masks_differ_between_replicas_and_steps_and_repeat_with_the_seed():
    strategy = get_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    first = draw(strategy, seed=7, step=0)
    for dropped, branch in first:  # real masks: every value 0 or 1 / (1 - rate)
        assert set(np.unique(dropped)) == {0.0, 2.0}
        assert set(np.unique(branch)) == {0.0, 2.0}
        np.testing.assert_array_equal(branch, branch[:, :1] * np.ones((1, 64)))  # per sample
    (d0, b0), (d1, b1) = first
    assert not np.array_equal(d0, d1) and not np.array_equal(b0, b1)
    again = draw(strategy, seed=7, step=0)  # a new model: its generators start elsewhere
    for (d, b), (d_again, b_again) in zip(first, again, strict=True):
        np.testing.assert_array_equal(d, d_again)
        np.testing.assert_array_equal(b, b_again)
    next_step = draw(strategy, seed=7, step=1)
    other_seed = draw(strategy, seed=8, step=0)
    for other in (next_step, other_seed):
        for (d, b), (d_other, b_other) in zip(first, other, strict=True):
            assert not np.array_equal(d, d_other) and not np.array_equal(b, b_other)
