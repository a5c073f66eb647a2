"""The optimizer of every recipe: SGD + Nesterov on linear warmup then cosine, decoupled weight
decay on conv and dense kernels only (SPEC 2.1-2.3). Built from Keras 3's own pieces."""

from __future__ import annotations

import keras

from official.configs.config import OptimizerConfig


def peak_learning_rate(config: OptimizerConfig, global_batch: int) -> float:
    """Linear scaling (Goyal et al. 2017): base * batch / 256; 1.6 at 4096 for base 0.1."""
    return config.base_learning_rate * global_batch / 256


def learning_rate_schedule(
    config: OptimizerConfig, global_batch: int, steps_per_epoch: float, total_steps: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """0 -> peak linearly over warmup_epochs, then cosine down to 0 at total_steps."""
    peak = peak_learning_rate(config, global_batch)
    warmup = min(int(round(config.warmup_epochs * steps_per_epoch)), total_steps - 1)
    if warmup <= 0:
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=max(1, total_steps))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, total_steps - warmup),
        warmup_target=peak,
        warmup_steps=warmup,
    )


def decayed_variables(model: keras.Model) -> list:
    """The kernels of conv and dense layers: what weight decay applies to (no biases, no norm
    parameters, no weight-standardization gains)."""
    kernels = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(
            layer,
            (
                keras.layers.Conv2D,
                keras.layers.Conv3D,
                keras.layers.Dense,
                keras.layers.DepthwiseConv2D,
            ),
        ):
            kernels.append(layer.kernel)
    return kernels


def build_optimizer(
    config: OptimizerConfig,
    model: keras.Model,
    schedule,
    loss_scale: bool = False,
) -> keras.optimizers.Optimizer:
    """SGD(momentum, nesterov) with weight decay on `decayed_variables(model)` only.

    Keras' `weight_decay` is decoupled (w -= lr * wd * w, outside the momentum), where the
    official TF code adds wd/2 * ||w||^2 to the loss; for SGD the two differ only in that the
    decay term is not smoothed by momentum. loss_scale wraps it for float16 training.
    """
    optimizer = keras.optimizers.SGD(
        learning_rate=schedule,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay or None,
    )
    decayed = {id(v) for v in decayed_variables(model)}
    optimizer.exclude_from_weight_decay(
        var_list=[v for v in model.trainable_variables if id(v) not in decayed]
    )
    optimizer.build(model.trainable_variables)
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    return optimizer
