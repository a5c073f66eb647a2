"""official/layers/replica_random.py: dropout and stochastic-depth masks differ between the two
replicas of a MirroredStrategy (tests/conftest.py's two logical CPUs) in a plain `strategy.run`
loop and in `model.fit`, and are drawn again the same by a rerun with the same seed."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from official.layers import StochasticDepth
from official.layers.replica_random import Dropout
from official.training.runtime import get_strategy

pytestmark = pytest.mark.tensorflow_only


def _strategy():
    # The library's strategy (ReductionToOneDevice on CPUs): two default MirroredStrategy objects
    # in one process reuse collective instance keys and abort each other's all-reduce.
    return get_strategy("mirrored")


def _masks_in_strategy_run(layer_class, seed):
    """Each replica's mask over two calls: the layer applied to ones [8, 16]."""
    strategy = _strategy()
    with strategy.scope():
        layer = layer_class(0.5, seed=seed)
        layer.build((8, 16))

    @tf.function
    def step():
        return strategy.run(lambda: layer(tf.ones((8, 16)), training=True))

    calls = [strategy.experimental_local_results(step()) for _ in range(2)]
    return [[np.asarray(mask) for mask in replicas] for replicas in calls]


@pytest.mark.parametrize("layer_class", [Dropout, StochasticDepth])
def test_replicas_draw_different_masks_and_a_rerun_draws_them_again(layer_class):
    first = _masks_in_strategy_run(layer_class, seed=7)
    for replica_0, replica_1 in first:
        assert not np.array_equal(replica_0, replica_1)
    # The generator advances: the second call's masks are not the first's.
    assert not np.array_equal(first[0][0], first[1][0])
    again = _masks_in_strategy_run(layer_class, seed=7)
    for call, call_again in zip(first, again, strict=True):
        for mask, mask_again in zip(call, call_again, strict=True):
            np.testing.assert_array_equal(mask, mask_again)


def _kernel_after_one_fit_step(seed):
    """One SGD step (lr 1) of Dropout(0.5) -> Dense(1, kernel ones) with loss = the output, one
    sample of ones [64] per replica: the kernel's gradient is the replicas' mean mask (x 2, the
    dropout scale), so entries where exactly one replica kept the unit are 1, the rest 0 or 2."""
    keras.utils.set_random_seed(seed)
    with _strategy().scope():
        model = keras.Sequential(
            [
                keras.Input((64,)),
                Dropout(0.5, seed=seed),
                keras.layers.Dense(1, use_bias=False, kernel_initializer="ones"),
            ]
        )
        model.compile(keras.optimizers.SGD(1.0), loss=lambda y, output: output)
    model.fit(np.ones((2, 64), "float32"), np.zeros((2, 1), "float32"), batch_size=2, verbose=0)
    return 1.0 - model.layers[-1].kernel.numpy()[:, 0]


def test_model_fit_replicas_draw_different_masks_and_a_rerun_draws_them_again():
    gradient = _kernel_after_one_fit_step(seed=3)
    assert set(np.unique(gradient)) <= {0.0, 1.0, 2.0}
    # With the same mask on both replicas no entry would be 1 (each of the 64 is 0 or 2).
    assert np.any(gradient == 1.0)
    np.testing.assert_array_equal(gradient, _kernel_after_one_fit_step(seed=3))
