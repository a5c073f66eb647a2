"""The optimizer of every recipe, built from Keras 3's own pieces: SGD + Nesterov on linear warmup
then cosine (docs/REFERENCE.md §2.1-2.3), or the original EfficientNet's RMSProp on linear warmup
then a staircase exponential decay; weight decay on conv and dense kernels only."""

from __future__ import annotations

import keras
import tensorflow as tf

from official.configs.config import OptimizerConfig
from official.training import layer_decay


def peak_learning_rate(config: OptimizerConfig, global_batch: int) -> float:
    """Linear scaling (Goyal et al. 2017): base * batch / 256; 1.6 at 4096 for base 0.1."""
    return config.base_learning_rate * global_batch / 256


@keras.saving.register_keras_serializable(package="official")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """0 -> peak linearly over warmup_steps, then `after(step)`. Written here because Keras'
    ExponentialDecay has no warmup (its CosineDecay has one, used for the cosine schedule)."""

    def __init__(self, after, peak: float, warmup_steps: int):
        self.after = after
        self.peak = peak
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * step / float(self.warmup_steps)
        return tf.where(step < self.warmup_steps, warm, tf.cast(self.after(step), tf.float32))

    def get_config(self):
        return {
            "after": keras.saving.serialize_keras_object(self.after),
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["after"] = keras.saving.deserialize_keras_object(config["after"])
        return cls(**config)


def learning_rate_schedule(
    config: OptimizerConfig, global_batch: int, steps_per_epoch: float, total_steps: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """'cosine': 0 -> peak linearly over warmup_epochs, then cosine down to 0 at total_steps.
    'exponential': peak * decay_rate^floor(step / (decay_epochs * steps_per_epoch)), counted from
    step 0 as the EfficientNet code does, with the linear warmup in front of it."""
    peak = peak_learning_rate(config, global_batch)
    warmup = min(int(round(config.warmup_epochs * steps_per_epoch)), total_steps - 1)
    if config.schedule == "exponential":
        decay = keras.optimizers.schedules.ExponentialDecay(
            peak,
            decay_steps=max(1.0, config.decay_epochs * steps_per_epoch),
            decay_rate=config.decay_rate,
            staircase=True,
        )
        return LinearWarmup(decay, peak, warmup) if warmup > 0 else decay
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


def l2_penalty(variables: list, weight_decay: float) -> tf.Tensor:
    """weight_decay * sum ||w||^2 / 2: the loss term of weight_decay_type='l2'."""
    squares = [tf.nn.l2_loss(tf.cast(v.value, tf.float32)) for v in variables]
    return weight_decay * tf.add_n(squares) if squares else tf.constant(0.0)


def build_optimizer(
    config: OptimizerConfig,
    model: keras.Model,
    schedule,
    loss_scale: bool = False,
) -> keras.optimizers.Optimizer:
    """SGD(momentum, nesterov) or RMSprop(rho, momentum, epsilon); with weight_decay_type
    'decoupled', Keras' weight decay on `decayed_variables(model)` only.

    Decoupled decay (w -= lr * wd * w, outside the momentum) differs from the official L2 term
    in the loss, for SGD, only in that momentum does not smooth the decay. For RMSProp the two
    differ in kind (the L2 gradient is divided by the running RMS), which is why the EfficientNet
    recipes use 'l2'. Keras' RMSprop starts its mean square at 0 where TF1's started at 1; the
    first steps fall inside the warmup, where the learning rate is near 0.
    loss_scale wraps the optimizer for float16 training.

    optimizer.layer_decay / lr_multipliers: the Layerwise twin of the optimizer, each variable
    at its own rate (layer_decay.multipliers), decoupled decay included (layer_decay.py says
    why that is exact for both optimizers where scaling gradients is not).
    """
    decoupled = config.weight_decay if config.weight_decay_type == "decoupled" else 0.0
    rates = {}
    if config.layer_decay != 1 or config.lr_multipliers:
        rates = {
            "lr_multipliers": layer_decay.multipliers(
                model, config.layer_decay, config.lr_multipliers
            )
        }
    if config.name == "rmsprop":
        optimizer = (layer_decay.LayerwiseRMSprop if rates else keras.optimizers.RMSprop)(
            learning_rate=schedule,
            rho=config.rmsprop_rho,
            momentum=config.momentum,
            epsilon=config.epsilon,
            weight_decay=decoupled or None,
            **rates,
        )
    else:
        optimizer = (layer_decay.LayerwiseSGD if rates else keras.optimizers.SGD)(
            learning_rate=schedule,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=decoupled or None,
            **rates,
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
