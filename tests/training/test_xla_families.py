"""Every family's real train step as one XLA program in mixed bfloat16 with bfloat16 images, as
TPUs run it (docs/distributed.md, "XLA" and "Precision").

The same XLA paths in float32: tests/training/test_xla_step.py (one replica, equal to the
uncompiled step), tests/training/test_loop.py::test_xla_on_two_replicas (MirroredStrategy) and
tests/models/test_video.py (the 3D network). Compiling every family in both policies cost 420 s
of the suite's time on 2 cores, half of it for float32 programs that differ from these only in
their dtypes."""

import numpy as np
import pytest
import tensorflow as tf

from official.configs import overrides, recipes
from official.training import loop
from official.training.runtime import get_strategy

# One tiny model per family: one block per stage (or module), a fraction of the width. MnasNet
# is built from EfficientNet's blocks (official/models/mbconv.py): efficientnet_b0 compiles them.
FAMILIES = {
    "resnetrs50": dict(width_multiplier=0.25, block_repeats=(1, 1, 1, 1)),
    "resnest14d": dict(width_multiplier=0.25, block_repeats=(1, 1, 1, 1)),
    "nfnet_f0": dict(width_multiplier=0.125, block_repeats=(1, 1, 1, 1)),
    "efficientnet_b0": dict(width_multiplier=0.25, block_repeats=(1,) * 7),
    "shufflenet_g3": dict(scale=0.25, block_repeats=(1, 1, 1)),
    "attention56": dict(width_multiplier=0.125, modules=(1, 1, 1)),
    "resnetrs50_3d": dict(
        width_multiplier=0.25, block_repeats=(1, 1, 1, 1), input_shape=(4, 32, 32, 3)
    ),
}


# About 10-33 s of CPU per family on this CPU (tracing the train step and XLA:CPU compiling it).
@pytest.mark.slow
@pytest.mark.usefixtures("mixed_bfloat16")
@pytest.mark.parametrize("name", list(FAMILIES))
def test_train_step_compiles_with_xla(name, tmp_path):
    config = recipes.get("sample")
    config.model.name = name
    config.model.kwargs = {"input_shape": (32, 32, 3), **FAMILIES[name]}
    # The EMA under XLA: tests/training/test_loop.py::test_xla_compiled_train_step.
    overrides.apply_overrides(
        config, {"runtime.xla": True, "data.train_batch_size": 4, "optimizer.ema_decay": 0.0}
    )
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    shape = trainer.model.input.shape[1:]
    # bfloat16 images, as the TPU recipes feed them (data.dtype).
    images = tf.cast(tf.random.stateless_uniform((4, *shape), seed=(1, 2)), tf.bfloat16)
    labels = tf.constant([0, 1, 2, 3])
    iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())
    metrics = trainer.train_loop(iterator, 2)
    assert trainer.step == 2 and np.isfinite(metrics.loss)
    assert trainer.model.compute_dtype == "bfloat16"
    # The whole replica step ran as one XLA program (one trace of the jit-compiled function).
    assert trainer._replica_step_fn.experimental_get_tracing_count() == 1
