"""official/training/layer_decay.py: the multipliers (timm's rule, hand-counted for the tiny
ResNet-18) and each variable's first update against a NumPy computation of lr x multiplier for
SGD, SGD + Nesterov + decoupled decay (with the optimizer's exclusions) and RMSprop; through the
config (optimizer.build_optimizer) and through Keras' own model.fit."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from official.configs.config import OptimizerConfig
from official.configs.validation import ConfigError
from official.training import layer_decay, optimizer
from tests.models.test_registry import _tiny

LR, DECAY = 0.1, 0.5


@pytest.fixture
def model():
    return _tiny("resnet18")


def _batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(4, 32, 32, 3)).astype("float32"), np.array([0, 1, 2, 3])


def _gradients(model):
    images, labels = _batch()
    with tf.GradientTape() as tape:
        logits = model(images, training=False)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        )
    return {
        v.path: np.asarray(g, np.float64)
        for v, g in zip(
            model.trainable_variables, tape.gradient(loss, model.trainable_variables), strict=True
        )
    }


def _first_update(model, config: OptimizerConfig):
    """(weights before, gradients, weights after one step of build_optimizer(config))."""
    before = {v.path: np.asarray(v, np.float64) for v in model.trainable_variables}
    grads = _gradients(model)
    opt = optimizer.build_optimizer(config, model, LR)
    opt.apply_gradients(
        [(tf.constant(grads[v.path], tf.float32), v) for v in model.trainable_variables]
    )
    after = {v.path: np.asarray(v, np.float64) for v in model.trainable_variables}
    return before, grads, after


def test_the_multipliers_follow_timms_rule_on_the_tiny_resnet18(model):
    rates = layer_decay.multipliers(model, DECAY)
    # Depths (tests/models/test_stages.py): stem 0, stage s's one block s - 1, head D = 5.
    assert rates["stem_conv1/kernel"] == DECAY**5
    for stage in (2, 3, 4, 5):
        assert rates[f"stage{stage}_block1_conv1/kernel"] == DECAY ** (5 - (stage - 1))
    assert rates["classifier/kernel"] == rates["classifier/bias"] == 1.0
    assert rates["stem_bn1/moving_mean"] == DECAY**5  # every weight has one
    parts = layer_decay.multipliers(model, parts={"stem": 0.1, "stage3": 0.5})
    assert parts["stem_conv1/kernel"] == 0.1 and parts["stage3_block1_conv2/kernel"] == 0.5
    assert parts["stage2_block1_conv1/kernel"] == parts["classifier/kernel"] == 1.0


def test_each_stages_first_sgd_update_is_lr_times_decay_to_its_depth_times_the_gradient(model):
    config = OptimizerConfig(momentum=0.0, weight_decay=0.0, layer_decay=DECAY)
    before, grads, after = _first_update(model, config)
    depth = {"stem": 0, "stage2": 1, "stage3": 2, "stage4": 3, "stage5": 4, "classifier": 5}
    for path, grad in grads.items():
        part = path.split("_")[0].split("/")[0]
        expected = before[path] - LR * DECAY ** (5 - depth[part]) * grad
        np.testing.assert_allclose(after[path], expected, rtol=1e-6, atol=1e-9, err_msg=path)
    # Every stage moved, and by a different amount than a single learning rate would give.
    stem = np.abs(after["stem_conv1/kernel"] - before["stem_conv1/kernel"]).max()
    assert 0 < stem < LR * np.abs(grads["stem_conv1/kernel"]).max() * DECAY**4


def test_nesterov_with_decoupled_decay_scales_the_decay_and_keeps_the_exclusions(model):
    wd, momentum = 0.01, 0.9
    config = OptimizerConfig(momentum=momentum, weight_decay=wd, layer_decay=DECAY)
    rates = layer_decay.multipliers(model, DECAY)
    decayed = {v.path for v in optimizer.decayed_variables(model)}
    before, grads, after = _first_update(model, config)
    for path, grad in grads.items():
        lr = LR * rates[path]
        w = before[path] - (lr * wd * before[path] if path in decayed else 0.0)
        # Keras' Nesterov step from a zero buffer m = -lr g: w + momentum m - lr g.
        expected = w - lr * grad * (1 + momentum)
        np.testing.assert_allclose(after[path], expected, rtol=1e-6, atol=1e-9, err_msg=path)
    assert "stem_bn1/gamma" not in decayed and "stem_conv1/kernel" in decayed


def test_rmsprop_gets_the_rate_itself(model):
    """(A scaled gradient would not do: the step divides by the gradient's running RMS.)"""
    rho, eps = 0.9, 1e-3
    config = OptimizerConfig(
        name="rmsprop",
        rmsprop_rho=rho,
        epsilon=eps,
        momentum=0.9,
        weight_decay=0.0,
        lr_multipliers={"stem": 0.01},
    )
    before, grads, after = _first_update(model, config)
    for path, grad in grads.items():
        rate = 0.01 if path.startswith("stem_") else 1.0
        step = LR * grad / np.sqrt((1 - rho) * grad**2 + eps)  # from a zero mean square
        np.testing.assert_allclose(
            after[path], before[path] - rate * step, rtol=1e-5, atol=1e-9, err_msg=path
        )


def test_a_keras_fit_script_gets_the_same_rates(model):
    images, labels = _batch()
    rates = layer_decay.multipliers(model, DECAY)
    opt = layer_decay.with_multipliers(keras.optimizers.SGD(LR), rates)
    assert isinstance(opt, layer_decay.LayerwiseSGD)
    assert layer_decay.LayerwiseSGD.from_config(opt.get_config()).lr_multipliers == rates
    for layer in model.layers:  # a fit step moves the BN statistics; they do not enter g
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 1.0
    before = {v.path: np.asarray(v, np.float64) for v in model.trainable_variables}
    with tf.GradientTape() as tape:
        logits = model(images, training=True)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        )
    grads = tape.gradient(loss, model.trainable_variables)
    model.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images, labels, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for variable, grad in zip(model.trainable_variables, grads, strict=True):
        expected = before[variable.path] - LR * rates[variable.path] * np.asarray(grad)
        np.testing.assert_allclose(
            np.asarray(variable), expected, rtol=1e-5, atol=1e-7, err_msg=variable.path
        )


def test_bad_values_are_refused_in_one_line(model):
    for decay in (0.0, 1.5, float("nan")):
        with pytest.raises(ConfigError, match=r"^optimizer.layer_decay=.* is out of range"):
            OptimizerConfig(layer_decay=decay)
    with pytest.raises(ConfigError, match=r"^optimizer.lr_multipliers: 'layer2' is not a part"):
        OptimizerConfig(lr_multipliers={"layer2": 0.1})
    with pytest.raises(ConfigError, match=r"^optimizer.lr_multipliers.stem=-1 is out of range"):
        OptimizerConfig(lr_multipliers={"stem": -1})
    with pytest.raises(ConfigError, match="set one of the two"):
        OptimizerConfig(layer_decay=0.5, lr_multipliers={"stem": 0.1})
    with pytest.raises(ValueError, match=r"^learning-rate multiplier for 'stage7': .* no such"):
        layer_decay.multipliers(model, parts={"stage7": 0.1})
    with pytest.raises(ValueError, match=r"^layer decay 2 is out of range"):
        layer_decay.multipliers(model, 2)
    with pytest.raises(ValueError, match="Adagrad is not supported"):
        layer_decay.with_multipliers(keras.optimizers.Adagrad(), {})
