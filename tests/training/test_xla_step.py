"""The XLA-compiled train step (runtime.xla, docs/REFERENCE.md §2.7) computes what the uncompiled
one does: the same loss and the same update of every weight, BN statistic, optimizer slot and EMA
shadow, from the same state on the same batch. (Over several steps the two drift apart by float
rounding amplified through BatchNorm, so the comparison is made on one step.)"""

import numpy as np
import pytest
import tensorflow as tf

from official.configs import overrides, recipes
from official.data import pipeline
from official.training import loop
from official.training.runtime import get_strategy


def config_for(data_dir, xla):
    config = recipes.get("sample")
    config.data.data_dir = data_dir
    kwargs = {**config.model.kwargs, "dropout_rate": 0.0}  # no random masks to compare
    overrides.apply_overrides(
        config,
        {
            "model.kwargs": kwargs,
            "data.train_batch_size": 16,
            "data.shuffle_buffer": 64,
            "optimizer.warmup_epochs": 0.0,
            "optimizer.ema_decay": 0.9,
            "runtime.xla": xla,
        },
    )
    return config


def state(trainer):
    """Every number the step updates, by name."""
    values = {v.path: v.numpy() for v in trainer.model.weights if "seed_generator" not in v.path}
    values |= {f"optimizer/{i}": v.numpy() for i, v in enumerate(trainer.optimizer.variables)}
    values |= {f"ema/{i}": s.numpy() for i, s in enumerate(trainer.ema.shadows)}
    return values


# Both steps run in float64 (the float64 fixture, tests/conftest.py). In float32 the two differ by
# rounding: XLA's CPU code sums convolution gradients in another order than TensorFlow's oneDNN
# kernels, and BatchNorm's batch statistics over 16 images amplify that; on a few stem-kernel
# elements the updates differed by 0.24% on one machine and 2.3% on CI's, so no tolerance
# separates rounding from a wrong update there. In float64 the largest difference left, from the
# float32 `predictions` layer, was 1.4e-7 of an update.
@pytest.mark.slow
@pytest.mark.usefixtures("float64")
def test_compiled_step_equals_the_uncompiled_step(sample_dir, tmp_path):
    plain = loop.Trainer(config_for(sample_dir, False), get_strategy("cpu"), str(tmp_path / "a"))
    compiled = loop.Trainer(config_for(sample_dir, True), get_strategy("cpu"), str(tmp_path / "b"))
    compiled.model.set_weights(plain.model.get_weights())
    for mine, theirs in zip(compiled.ema.shadows, plain.ema.shadows, strict=True):
        mine.assign(theirs)
    start = state(plain)
    assert start.keys() == state(compiled).keys()
    assert start["stem_conv1/kernel"].dtype == np.float64

    images, labels = next(iter(pipeline.build_dataset("train", plain.config.data)))
    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    loss_plain = plain.train_loop(iter(dataset), 1).loss
    loss_compiled = compiled.train_loop(iter(dataset), 1).loss
    assert loss_compiled == pytest.approx(loss_plain, rel=1e-6)

    # One step from the same state: every update (weights, BN statistics, momentum, EMA) equals
    # the uncompiled one to 1e-5 of the largest update of its tensor (70 times the 1.4e-7 the
    # float32 `predictions` layer leaves, above). A wrong update (learning rate, decay, momentum,
    # EMA, a missed BN statistic) is off by O(1).
    ends = state(plain), state(compiled)
    moved = 0
    for name, value in ends[0].items():
        update, compiled_update = value - start[name], ends[1][name] - start[name]
        scale = float(np.abs(update).max())
        np.testing.assert_allclose(
            compiled_update, update, rtol=1e-5, atol=1e-5 * scale + 1e-12, err_msg=name
        )
        moved += scale > 0
    assert moved > len(start) // 2  # the step did update most of the state
    assert plain.step == compiled.step == 1
