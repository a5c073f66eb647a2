"""Freezing parts of a network for fine-tuning, read through official/models/stages.py, so every
registered family freezes the same way.

    freeze(model, "stem")       # the stem
    freeze(model, "stage3")     # the stem and every stage up to 3 (the family's own numbering)
    freeze(model, "backbone")   # everything but the head (avg_pool .. classifier)
    fix_batch_norm_statistics(model)  # every BN in inference mode; gamma and beta still train

A frozen layer gets `trainable = False`: its weights leave `model.trainable_weights`, and a Keras
3 BatchNormalization with `trainable = False` normalizes with its moving statistics and leaves
them as they are even under `training=True` (inference mode), so the frozen part computes what it
computed before fine-tuning. That holds for `norm="batch"` and `norm="sync_batch"` (the same
layer class); GroupNormalization has no moving statistics (its training and inference passes are
the same function); `norm="none"` has nothing to fix. Call `freeze` before `model.compile` (or
before building an optimizer): Keras reads the trainable flags when it traces the train step.
"""

from __future__ import annotations

import functools
import re

import keras

from official.models import stages

BACKBONE, STEM = "backbone", "stem"
_STAGE = re.compile(r"^stage(\d+)$")
STATISTICS_LAYERS = (keras.layers.BatchNormalization,)  # the norm layers with moving statistics


def frozen_layer_names(model: keras.Model, part: str) -> list[str]:
    """The names of the top-level layers `freeze(model, part)` freezes; a one-line ValueError
    for a part the model does not have."""
    if part == BACKBONE:
        return [
            layer.name
            for layer in model.layers
            if stages.part_of(layer).kind not in (stages.HEAD, stages.INPUT)
        ]
    if part == STEM:
        return [layer.name for layer in model.layers if stages.part_of(layer).kind == stages.STEM]
    match = _STAGE.match(part)
    if not match:
        raise ValueError(
            f"freeze={part!r} is not a part: use 'stem', 'stage<S>' (the stem and stages up to "
            "S) or 'backbone'."
        )
    last, numbers = int(match.group(1)), stages.stage_numbers(model)
    if last not in numbers:
        raise ValueError(
            f"freeze={part!r}: {model.name} has stages {', '.join(map(str, numbers))}, no "
            f"stage {last}."
        )
    names = []
    for layer in model.layers:
        kind = stages.part_of(layer)
        if kind.kind == stages.STEM or (kind.kind == stages.STAGE and kind.stage <= last):
            names.append(layer.name)
    return names


def freeze(model: keras.Model, part: str) -> list[str]:
    """Sets `trainable = False` on the layers of `part` (frozen_layer_names) and True on every
    other layer; returns the frozen names. `freeze(model, "")` unfreezes everything."""
    frozen = set(frozen_layer_names(model, part)) if part else set()
    for layer in model.layers:
        layer.trainable = layer.name not in frozen
    return [layer.name for layer in model.layers if layer.name in frozen]


def frozen_weights(model: keras.Model) -> list:
    """The weights that training leaves as they are: every weight of a frozen layer (sublayers
    included) and the moving statistics of norm layers under fix_batch_norm_statistics; not
    random-generator state."""
    weights, seen = [], set()
    for layer in model._flatten_layers(include_self=False):
        fixed = not layer.trainable or statistics_fixed(layer)
        for weight in layer.weights if fixed else []:
            if "seed_generator" in weight.path or id(weight) in seen:
                continue  # random-generator state moves on every step, frozen or not
            if not layer.trainable or not weight.trainable:
                seen.add(id(weight))
                weights.append(weight)
    return weights


# ---- BN statistics fixed while the weights train ----
def statistics_fixed(layer: keras.layers.Layer) -> bool:
    return getattr(layer, "_official_statistics_fixed", False)


def _inference_call(layer):
    """The layer's own `call`, always in inference mode (moving statistics, no update)."""
    call = type(layer).call.__get__(layer)

    @functools.wraps(call)
    def inference(inputs, training=None, **kwargs):
        return call(inputs, training=False, **kwargs)

    return inference


def fix_batch_norm_statistics(model: keras.Model, fixed: bool = True) -> int:
    """Every norm layer with moving statistics (BatchNormalization, synchronized or not,
    sublayers included) runs in inference mode even under `training=True`, while its gamma and
    beta stay trainable (unlike `trainable = False`, which fixes both). `fixed=False` undoes it.
    The change lives on the layer objects only: a saved `.keras` file does not carry it. Returns
    the number of layers changed."""
    count = 0
    for layer in model._flatten_layers(include_self=False):
        if not isinstance(layer, STATISTICS_LAYERS) or statistics_fixed(layer) == fixed:
            continue
        if fixed:
            layer.call = _inference_call(layer)
        else:
            del layer.call
        layer._official_statistics_fixed = fixed
        count += 1
    return count
