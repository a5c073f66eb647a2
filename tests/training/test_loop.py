"""The training loop in-process: default strategy and MirroredStrategy over 2 logical CPUs."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from official.configs import overrides, recipes
from official.training import loop, optimizer
from official.training.runtime import get_strategy


def sample_config(data_dir, **extra):
    config = recipes.get("sample")
    config.data.data_dir = data_dir
    overrides.apply_overrides(
        config,
        {"train.epochs": 2, "train.steps_per_loop": 10, "data.train_batch_size": 32, **extra},
    )
    return config


@pytest.mark.slow
def test_cpu_train_and_eval_lowers_the_loss_and_evaluates(sample_dir, tmp_path):
    # No EMA here: over 90 steps an average with decay 0.99 still carries the first weights.
    config = sample_config(
        sample_dir, **{"train.eval_every_epochs": 2.0, "optimizer.ema_decay": 0.0, "data.seed": 0}
    )
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    first = trainer.train_loop(iter(loop.distributed_datasets(trainer, True)), 10).loss
    results = loop.train(trainer, config.train.eval_every_epochs)
    assert trainer.step == trainer.total_steps == math.ceil(2 * 1437 / 32)
    assert results["train_loss"] < first
    assert results["examples"] == 360 and results["top1"] > 0.3  # chance is 0.1
    assert trainer.manager.latest_checkpoint.endswith(f"ckpt-{trainer.step}")


@pytest.mark.slow
def test_mirrored_on_two_cpus_keeps_replicas_identical(sample_dir, tmp_path):
    strategy = get_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2  # conftest splits the CPU in two
    config = sample_config(sample_dir, **{"optimizer.ema_decay": 0.9})
    trainer = loop.Trainer(config, strategy, str(tmp_path))
    iterator = iter(loop.distributed_datasets(trainer, True))
    first = trainer.train_loop(iterator, 10).loss
    last = trainer.train_loop(iterator, 30).loss
    assert last < first
    # Weights, BN moving statistics (replica-local in Keras 3, averaged by the loop) and EMA.
    variables = [w.value for w in trainer.model.weights] + list(trainer.ema.shadows)
    assert any("moving_mean" in v.name for v in variables)
    for variable in variables:
        parts = strategy.experimental_local_results(variable)
        assert len(parts) == 2
        np.testing.assert_array_equal(np.asarray(parts[0]), np.asarray(parts[1]), variable.name)
    assert trainer.evaluate(loop.distributed_datasets(trainer, False))["examples"] == 360


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(sample_dir, tmp_path):
    config = sample_config(sample_dir, **{"train.epochs": 0.2})  # 9 steps, one loop
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    loop.train(trainer, None)
    good = trainer.manager.latest_checkpoint
    assert good is not None

    exploding = sample_config(
        sample_dir, **{"optimizer.base_learning_rate": 1e30, "optimizer.warmup_epochs": 0.0}
    )
    trainer = loop.Trainer(exploding, get_strategy("cpu"), str(tmp_path))
    with pytest.raises(loop.TrainingDiverged, match=r"loss is (nan|inf) at step \d+.*ckpt-9"):
        loop.train(trainer, None)
    manager = tf.train.CheckpointManager(trainer.checkpoint, str(tmp_path), max_to_keep=3)
    assert manager.latest_checkpoint == good
    fresh = loop.Trainer(exploding, get_strategy("cpu"), str(tmp_path / "other"))
    fresh.checkpoint.restore(good).assert_existing_objects_matched()
    assert all(np.all(np.isfinite(np.asarray(w))) for w in fresh.model.weights)


@pytest.mark.slow
@pytest.mark.usefixtures("mixed_bfloat16")
def test_bfloat16_training_step(sample_dir, tmp_path):
    trainer = loop.Trainer(sample_config(sample_dir), get_strategy("cpu"), str(tmp_path))
    assert trainer.model.get_layer("stem_conv1").compute_dtype == "bfloat16"
    metrics = trainer.train_loop(iter(loop.distributed_datasets(trainer, True)), 3)
    assert np.isfinite(metrics.loss)
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"


# XLA stays in the development subset through tests/layers/test_grouped_conv.py and
# tests/test_accelerator_script.py.
@pytest.mark.slow
def test_xla_compiled_train_step(sample_dir, tmp_path):
    config = sample_config(sample_dir, **{"runtime.xla": True, "optimizer.ema_decay": 0.9})
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    iterator = iter(loop.distributed_datasets(trainer, True))
    first = trainer.train_loop(iterator, 5).loss
    last = trainer.train_loop(iterator, 20).loss
    assert np.isfinite(last) and last < first


@pytest.mark.slow
def test_xla_on_two_replicas(sample_dir, tmp_path):
    """runtime.xla under MirroredStrategy: one XLA program per replica for the forward and
    backward pass; each replica draws its own dropout and stochastic-depth masks."""
    config = sample_config(sample_dir, **{"runtime.xla": True, "optimizer.ema_decay": 0.9})
    config.model.kwargs |= {"dropout_rate": 0.3, "stochastic_depth_rate": 0.3}
    strategy = get_strategy("mirrored")
    trainer = loop.Trainer(config, strategy, str(tmp_path))
    images = tf.random.stateless_uniform((16, 32, 32, 3), seed=(1, 2))
    labels = tf.range(16) % 10
    step = tf.function(lambda: strategy.run(trainer._replica_step_fn, args=(images, labels)))
    losses = [float(x) for x in strategy.experimental_local_results(step()[0])]
    assert losses[0] != losses[1]  # same weights, same batch: only the masks differ

    iterator = iter(loop.distributed_datasets(trainer, True))
    first = trainer.train_loop(iterator, 5).loss
    last = trainer.train_loop(iterator, 20).loss
    assert np.isfinite(last) and last < first
    for variable in [w.value for w in trainer.model.weights] + list(trainer.ema.shadows):
        parts = strategy.experimental_local_results(variable)
        np.testing.assert_array_equal(np.asarray(parts[0]), np.asarray(parts[1]), variable.name)


def efficientnet_rs_config(data_dir, **extra):
    """The efficientnet_rs_b0_i32 recipe (RMSProp, staircase decay, L2 in the loss) shrunk to
    the bundled digits."""
    config = recipes.get("efficientnet_rs_b0_i32")
    sample = recipes.get("sample")
    config.data = sample.data
    config.data.data_dir = data_dir
    config.train = sample.train
    config.runtime = sample.runtime
    overrides.apply_overrides(
        config,
        {
            "model.kwargs": {"width_multiplier": 0.5, "block_repeats": [1] * 7},
            "data.train_batch_size": 32,
            "train.epochs": 2,
            "train.steps_per_loop": 10,
            "optimizer.ema_decay": 0.0,
            "optimizer.warmup_epochs": 0.1,
            "optimizer.decay_epochs": 0.5,
            **extra,
        },
    )
    return config


def test_l2_weight_decay_adds_its_penalty_to_the_loss(sample_dir, tmp_path):
    kwargs = {"width_multiplier": 0.5, "block_repeats": [1] * 7}
    kwargs |= {"dropout_rate": 0.0, "drop_connect_rate": 0.0}
    config = efficientnet_rs_config(
        sample_dir,
        **{
            "model.kwargs": kwargs,
            "optimizer.weight_decay": 0.5,
        },
    )
    # Frozen weights between the two steps: a learning rate the config rules refuse (> 0), set
    # past them on purpose, as library code may.
    config.optimizer.base_learning_rate = 0
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    kernels = trainer.l2_variables
    assert {v.path for v in kernels} == {
        v.path for v in trainer.model.trainable_variables if v.path.endswith("/kernel")
    }
    images = tf.random.stateless_uniform((4, 32, 32, 3), seed=(1, 2))
    labels = tf.constant([0, 1, 2, 3])
    with_l2 = float(trainer._replica_step(images, labels)[0])
    trainer.l2_variables = []
    without = float(trainer._replica_step(images, labels)[0])
    penalty = float(optimizer.l2_penalty(kernels, 0.5))
    assert penalty > 0.1
    assert with_l2 - without == pytest.approx(penalty, rel=1e-4)


@pytest.mark.slow
def test_efficientnet_rs_recipe_trains_on_the_digits(sample_dir, tmp_path):
    config = efficientnet_rs_config(sample_dir, **{"data.seed": 0})
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path))
    assert isinstance(trainer.optimizer, keras.optimizers.RMSprop)
    iterator = iter(loop.distributed_datasets(trainer, True))
    first = trainer.train_loop(iterator, 10).loss
    last = trainer.train_loop(iterator, 80).loss
    assert np.isfinite(last) and last < first
    # Staircase: 0.5 epochs = 22.45 steps per decay, 90 steps = 4 decays.
    assert float(trainer.schedule(trainer.step)) == pytest.approx(0.016 / 8 * 0.97**4, rel=1e-5)
