"""AGC inside the training loop (docs/REFERENCE.md §1.6, 2.7): one step of the loop moves every
weight by exactly what the pure function `agc.adaptive_clip_gradients` makes of the batch's
gradient, on one device and on two (where each replica sees half the batch)."""

import numpy as np
import pytest
import tensorflow as tf

from official.configs import overrides, recipes
from official.data import pipeline
from official.training import agc, loop, losses
from official.training.runtime import get_strategy

BATCH, CLIP = 8, 0.01


def nf_config(data_dir):
    """A tiny NF-ResNet (no BatchNorm: splitting the batch over replicas changes nothing but the
    summation order) trained by plain SGD at lr 1, so that an update is minus the gradient."""
    config = recipes.get("sample")
    config.data.data_dir = data_dir
    config.model.name = "nf_resnet26"
    config.model.kwargs = {
        "width_multiplier": 0.25,
        "block_repeats": [1, 1, 1, 1],
        "dropout_rate": 0.0,
        "stochastic_depth_rate": 0.0,
    }
    overrides.apply_overrides(
        config,
        {
            "data.train_batch_size": BATCH,
            "data.shuffle_buffer": 64,
            "optimizer.base_learning_rate": 256 / BATCH,  # peak lr = base * batch / 256 = 1
            "optimizer.warmup_epochs": 0.0,
            "optimizer.momentum": 0.0,
            "optimizer.nesterov": False,
            "optimizer.weight_decay": 0.0,
            "optimizer.ema_decay": 0.0,
            "optimizer.agc_clip": CLIP,
        },
    )
    return config


@pytest.mark.parametrize("strategy_name", [pytest.param("cpu", marks=pytest.mark.slow), "mirrored"])
def test_one_loop_step_equals_the_pure_clipping_of_the_batch_gradient(
    strategy_name, sample_dir, tmp_path
):
    config = nf_config(sample_dir)
    strategy = get_strategy(strategy_name)
    trainer = loop.Trainer(config, strategy, str(tmp_path))
    model = trainer.model
    # A fresh NF network has zero SkipInit gains and a zero classifier, so only the classifier
    # (which AGC skips) would get a gradient: give every weight a trained-looking value.
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:
        if variable.path.endswith(("skip_gain/gain", "classifier/kernel")):
            variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))
    images, labels = next(iter(pipeline.build_dataset("train", config.data)))

    # Reference, outside the loop: the gradient of the whole batch's loss on one model, clipped
    # by the pure function.
    reference = loop.build_model(config)
    reference.set_weights(model.get_weights())
    with tf.GradientTape() as tape:
        logits = reference(images, training=True)
        loss = tf.reduce_mean(losses.cross_entropy(labels, logits, 10, 0.1))
    variables = reference.trainable_variables
    grads = tape.gradient(loss, variables)
    expected = agc.adaptive_clip_gradients(grads, variables, CLIP, skip=loop.is_classifier)
    clipped = [
        v.path
        for v, g, e in zip(variables, grads, expected, strict=True)
        if not np.allclose(g.numpy(), e.numpy(), rtol=1e-2, atol=0)
    ]
    assert len(clipped) > len(variables) // 2  # a step with large gradients: most get clipped
    assert not any(p.startswith("classifier/") for p in clipped)
    before = [v.numpy() for v in variables]

    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    if strategy.num_replicas_in_sync > 1:
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
    else:
        iterator = iter(dataset)
    metrics = trainer.train_loop(iterator, 1)
    assert metrics.loss == pytest.approx(float(loss), rel=1e-5)
    assert float(trainer.schedule(0)) == pytest.approx(1.0)
    for variable, start, step in zip(model.trainable_variables, before, expected, strict=True):
        for replica in strategy.experimental_local_results(variable.value):
            moved = start - np.asarray(replica)  # lr 1, plain SGD: the applied gradient
            # Tolerance: the rounding of start - after, and of gradients summed in another
            # order (over 2 replicas, or in a graph). A few elements that are sums of larger
            # terms of both signs come out relatively far off (a stage-4 shortcut bias element:
            # -8.11e-6 against -8.20e-6), so elements get 1% of the tensor's largest step and
            # the tensor as a whole 0.1% in norm. Clipping per replica instead of on the sum is
            # off by up to 2x on almost every element.
            expected_step = step.numpy()
            scale = max(float(np.linalg.norm(expected_step)), 1e-12)
            error = np.linalg.norm(moved - expected_step) / scale
            assert error < 1e-3, (variable.path, error)
            np.testing.assert_allclose(
                moved,
                expected_step,
                rtol=1e-4,
                atol=1e-6 * np.abs(start).max() + 1e-2 * np.abs(expected_step).max(),
                err_msg=variable.path,
            )
