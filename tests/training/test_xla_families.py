"""Every family's real train step as one XLA program, in float32 and in mixed bfloat16
(docs/distributed.md, "XLA" and "Precision")."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from official.configs import overrides, recipes
from official.training import loop
from official.training.strategy import get_strategy

# One tiny model per family: one block per stage (or module), a fraction of the width.
FAMILIES = {
    "resnetrs50": dict(width_multiplier=0.25, block_repeats=(1, 1, 1, 1)),
    "resnest14d": dict(width_multiplier=0.25, block_repeats=(1, 1, 1, 1)),
    "nfnet_f0": dict(width_multiplier=0.125, block_repeats=(1, 1, 1, 1)),
    "efficientnet_b0": dict(width_multiplier=0.25, block_repeats=(1,) * 7),
    "mnasnet_a1": dict(width_multiplier=0.25, block_repeats=(1,) * 7),
    "shufflenet_g3": dict(scale=0.25, block_repeats=(1, 1, 1)),
    "attention56": dict(width_multiplier=0.125, modules=(1, 1, 1)),
    "resnetrs50_3d": dict(
        width_multiplier=0.25, block_repeats=(1, 1, 1, 1), input_shape=(4, 32, 32, 3)
    ),
}


@pytest.fixture(params=["float32", "mixed_bfloat16"])
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


# About 10-27 s of CPU per case on this CPU (XLA:CPU compiling a train step), 16 cases.
@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAMILIES))
def test_train_step_compiles_with_xla(name, policy, tmp_path):
    config = recipes.get("sample")
    config.model.name = name
    config.model.kwargs = {"input_shape": (32, 32, 3), **FAMILIES[name]}
    # The EMA under XLA: tests/training/test_loop.py::test_xla_compiled_train_step.
    overrides.apply_overrides(
        config, {"runtime.xla": True, "data.train_batch_size": 4, "optimizer.ema_decay": 0.0}
    )
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    shape = trainer.model.input.shape[1:]
    images = tf.random.stateless_uniform((4, *shape), seed=(1, 2))
    if policy == "mixed_bfloat16":
        images = tf.cast(images, tf.bfloat16)  # as the TPU recipes feed them (data.dtype)
    labels = tf.constant([0, 1, 2, 3])
    iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    metrics = trainer.train_loop(iterator, 2)
    assert trainer.step == 2 and np.isfinite(metrics.loss)
    assert trainer.model.compute_dtype == policy.removeprefix("mixed_")
    # The whole replica step ran as one XLA program (one trace of the jit-compiled function).
    assert trainer._replica_step_fn.experimental_get_tracing_count() == 1
