"""Per-variable learning rates: layer-wise decay (timm's `param_groups_layer_decay`: the layer at
depth d of D learns at lr * decay^(D - d), the head at lr) or one multiplier per part, read from
official/models/stages.py's depths and parts, for every registered family.

    rates = layer_decay.multipliers(model, decay=0.75)           # {variable path: multiplier}
    rates = layer_decay.multipliers(model, parts={"stem": 0.1, "stage2": 0.1, "stage3": 0.5})
    model.compile(optimizer=layer_decay.LayerwiseAdamW(1e-3, weight_decay=0.05,
                                                       lr_multipliers=rates), ...)

Keras 3 optimizers have one learning rate. Scaling a variable's gradient by its multiplier m is
the same as giving it the rate m * lr only where the update is linear in the gradient at a fixed
rate: plain SGD and Keras' SGD with (Nesterov) momentum (its buffer accumulates lr * gradient),
and an L2 term in the loss. It is wrong for RMSprop / Adam / AdamW (the update divides by a
running RMS of the gradient, so a scaled gradient gives back nearly the same step) and for
decoupled weight decay (Keras applies lr * wd * w, which a scaled gradient does not reach). These
optimizers instead pass `m * lr` to the optimizer's own per-variable `update_step` and apply the
decoupled decay as w -= m * lr * wd * w, which is exactly what a per-variable learning rate means
for every Keras optimizer, momentum, RMS and Adam moments included (the state each keeps does not
depend on the rate, or, for SGD's momentum buffer, scales with it), and what timm's param groups
do (a group's lr scales its weight decay too). Variables the optimizer excludes from weight
decay (biases, norm parameters: official/training/optimizer.py) stay excluded at every rate.
"""

from __future__ import annotations

import re

import keras

from official.models import stages

_PART = re.compile(r"^(stem|neck|head|stage(\d+))$")


def layer_depths(model: keras.Model) -> tuple[dict[str, int], int]:
    """({top-level layer name: depth}, D): stages.block_depths, D the head's depth."""
    depths = stages.block_depths(model)
    return depths, max(depths.values())


def _part_key(layer: keras.layers.Layer) -> str:
    part = stages.part_of(layer)
    return f"stage{part.stage}" if part.kind == stages.STAGE else part.kind


def multipliers(
    model: keras.Model, decay: float = 1.0, parts: dict[str, float] | None = None
) -> dict[str, float]:
    """{variable path: learning-rate multiplier} for every weight of `model` (sublayers'
    included): decay^(D - depth) of the layer that owns it, times parts[its part] ('stem',
    'stage<S>', 'neck', 'head'; 1 where absent). One-line errors for a decay outside (0, 1] and a
    part the model does not have."""
    if not 0 < decay <= 1:
        raise ValueError(f"layer decay {decay!r} is out of range: it must be in (0, 1].")
    parts = dict(parts or {})
    known = {"stem", "head"} | {f"stage{s}" for s in stages.stage_numbers(model)}
    known |= {"neck"} if any(stages.part_of(x).kind == stages.NECK for x in model.layers) else set()
    for key, value in parts.items():
        if not _PART.match(key) or key not in known:
            raise ValueError(
                f"learning-rate multiplier for {key!r}: {model.name} has no such part; use "
                f"{', '.join(sorted(known))}."
            )
        if not value > 0:
            raise ValueError(f"learning-rate multiplier {key}={value!r} must be > 0.")
    depths, deepest = layer_depths(model)
    rates = {}
    for layer in model.layers:
        if stages.part_of(layer).kind == stages.INPUT:
            continue
        rate = decay ** (deepest - depths[layer.name]) * parts.get(_part_key(layer), 1.0)
        for weight in layer.weights:
            if "seed_generator" not in weight.path:
                rates[weight.path] = rate
    return rates


class LearningRateMultipliers:
    """Mixed into a Keras optimizer: `lr_multipliers` {variable path: m} gives each variable the
    learning rate m * lr (1 where absent), decoupled weight decay included. See the module's
    docstring for why this is exact where gradient scaling is not."""

    def __init__(self, *args, lr_multipliers: dict[str, float] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lr_multipliers = {str(k): float(v) for k, v in (lr_multipliers or {}).items()}
        self._multiplier_of = {}

    def build(self, variables):
        super().build(variables)
        for variable in variables:
            key = self._var_key(variable)
            self._multiplier_of[key] = self.lr_multipliers.get(variable.path, 1.0)

    def multiplier(self, variable) -> float:
        return self._multiplier_of.get(self._var_key(variable), 1.0)

    def _apply_weight_decay(self, variables):
        """Done per variable in update_step instead, at that variable's rate."""

    def update_step(self, gradient, variable, learning_rate):
        rate = self.multiplier(variable)
        learning_rate = keras.ops.cast(learning_rate, variable.dtype) * rate
        if self.weight_decay is not None and self._use_weight_decay(variable):
            decay = keras.ops.cast(self.weight_decay, variable.dtype)
            self.assign_sub(variable, variable * decay * learning_rate)
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": dict(self.lr_multipliers)}


@keras.saving.register_keras_serializable(package="official")
class LayerwiseSGD(LearningRateMultipliers, keras.optimizers.SGD):
    """keras.optimizers.SGD with per-variable learning-rate multipliers."""


@keras.saving.register_keras_serializable(package="official")
class LayerwiseRMSprop(LearningRateMultipliers, keras.optimizers.RMSprop):
    """keras.optimizers.RMSprop with per-variable learning-rate multipliers."""


@keras.saving.register_keras_serializable(package="official")
class LayerwiseAdam(LearningRateMultipliers, keras.optimizers.Adam):
    """keras.optimizers.Adam with per-variable learning-rate multipliers."""


@keras.saving.register_keras_serializable(package="official")
class LayerwiseAdamW(LearningRateMultipliers, keras.optimizers.AdamW):
    """keras.optimizers.AdamW with per-variable learning-rate multipliers."""


LAYERWISE = {
    keras.optimizers.SGD: LayerwiseSGD,
    keras.optimizers.RMSprop: LayerwiseRMSprop,
    keras.optimizers.Adam: LayerwiseAdam,
    keras.optimizers.AdamW: LayerwiseAdamW,
}


def with_multipliers(
    optimizer: keras.optimizers.Optimizer, lr_multipliers: dict[str, float]
) -> keras.optimizers.Optimizer:
    """The Layerwise twin of an (unbuilt) SGD / RMSprop / Adam / AdamW with the same settings
    and `lr_multipliers`; a one-line error for another optimizer class."""
    twin = LAYERWISE.get(type(optimizer))
    if twin is None:
        raise ValueError(
            f"per-variable learning rates: {type(optimizer).__name__} is not supported; use "
            f"{', '.join(cls.__name__ for cls in LAYERWISE)}."
        )
    return twin.from_config({**optimizer.get_config(), "lr_multipliers": lr_multipliers})
