"""The pieces of benchmarks/accelerator.sh on this CPU, at tiny sizes (the script itself was run
with TINY=1; benchmarks/RESULTS.md): the float16 + XLA training step it times, official/train.py
on synthetic data under MirroredStrategy, and the reading of train.py's log."""

import importlib.util
import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from official import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def speed():
    path = os.path.join(ROOT, "benchmarks", "accelerator_speed.py")
    spec = importlib.util.spec_from_file_location("accelerator_speed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_float16_xla_step_with_loss_scaling_trains(speed):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential(
            [
                keras.Input((16, 16, 3)),
                keras.layers.Conv2D(8, 3, activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(4),
            ]
        )
        rng = np.random.default_rng(0)
        images = tf.constant(rng.normal(size=(4, 16, 16, 3)), tf.float32)
        labels = tf.constant([0, 1, 2, 3], tf.int32)
        before = [w.numpy().copy() for w in model.trainable_weights]
        step = speed.training_step(model, images, labels, 5, xla=True, loss_scale=True)
        losses = [step() for _ in range(3)]
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert all(w.dtype == "float32" for w in model.trainable_weights)
    weights = zip(before, model.trainable_weights, strict=True)
    assert all(not np.array_equal(b, w.numpy()) for b, w in weights)


def test_train_py_on_synthetic_data_with_mirrored_strategy(speed, tmp_path, caplog):
    """The official/train.py command accelerator.sh runs (tiny model and sizes), in-process on
    the 2 logical CPUs of tests/conftest.py, and its log read back as the script reads it."""
    override = (
        '{"model.kwargs": {"stride_in_1x1": true, "block_repeats": [1, 1, 1, 1], '
        '"width_multiplier": 0.125}, "data.source": "synthetic", "data.image_size": 32, '
        '"data.num_classes": 10, "runtime.xla": false, "train.max_checkpoints": 1}'
    )
    args = [
        "--config=resnet_main",
        "--strategy=mirrored",
        "--mode=train",
        f"--model_dir={tmp_path}",
        "--train_steps=6",
        "--iterations_per_loop=2",
        "--train_batch_size=8",
        "--precision=float32",
        f"--params_override={override}",
    ]
    train.FLAGS.unparse_flags()
    try:
        train.FLAGS(["train.py", *args])
        config = train.resolve_config()
        with caplog.at_level(logging.INFO, logger="official.train"):
            train.run(config, str(tmp_path), "train", None)
    finally:
        train.FLAGS.unparse_flags()
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-6")
    log = tmp_path / "train.log"
    log.write_text("\n".join(r.getMessage() for r in caplog.records))
    rates = [
        float(r.getMessage().split(" img/s")[0].split()[-1])
        for r in caplog.records
        if " img/s" in r.getMessage()
    ]
    assert len(rates) == 3 and speed.train_log(str(log)) == pytest.approx(np.median(rates[1:]))
    assert "on 2 replica(s), float32" in log.read_text()
