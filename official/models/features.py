"""Backbone features: which layer's output is the feature map at each spatial reduction, for every
family, read through official/models/stages.py (docs/models.md, "Backbone features").

Keys follow keras-hub's pyramid outputs: "P" + log2(spatial reduction), "P1" (stride 2) .. "P5"
(stride 32). The rule: the candidates are every stem layer, the output of every block (its last
layer in the model's layer order) and every neck layer, less the layers the family's row of
`RULES` skips; the feature at a reduction is the last candidate whose output has it. Layers
inside a block never count: the 1x1 convs before a strided 3x3 still run at the previous stage's
resolution. The head (stages.HEAD_LAYERS) never counts.

timm's `feature_info` is the reference for each row, and tests/weights/test_timm_reference.py
compares the features with timm's own features_only outputs (recorded with timm 1.0.31) for one
network per layout: ResNet's act1, layer1..4;
EfficientNet's block outputs; NormFreeNet's pre-activation stem conv, stages and final_conv;
ResNetV2's stages (the final norm is not a feature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from official.models import stages

# The probe size that reductions are read at: a power of two deep enough that every stride
# divides it exactly (an explicit-padding layer's odd size then never reads as a reduction).
PROBE_SIDE = 256
PROBE_FRAMES = 16


@dataclass(frozen=True)
class Rule:
    """skip: name prefixes of stem / neck layers that are never features; why: the reference."""

    skip: tuple[str, ...]
    why: str


_RESNET = Rule(
    (), "timm ResNet: P1 the stem's last activation before its pool (act1), P2-P5 the stages"
)
RULES = {
    "resnet": _RESNET,
    "resnest": _RESNET,
    "video": Rule((), "resnet()'s trunk in 3-D: as ResNet; each feature also has a time reduction"),
    "nfnet": Rule(
        ("stem_act", "final_act"),
        "timm NormFreeNet: pre-activation features: the stride-2 stem conv, the stages, "
        "final_conv (NFNet-F) in place of the last stage; never final_act",
    ),
    "efficientnet": Rule(
        ("head_",), "timm EfficientNet: the last block (320 ch in B0), not the 1x1 head conv"
    ),
    "mnasnet": Rule(
        ("head_",), "timm's MnasNets are EfficientNet builds: the last block, no head conv"
    ),
    "shufflenet": Rule(
        (), "no timm model: the rule as is (P2 is the stem pool; stage 2 starts strided)"
    ),
    "attention": Rule(
        ("final_",),
        "pre-activation units, as timm ResNetV2: the residual stream, not the final BN-ReLU",
    ),
}


def rule(family: str) -> Rule:
    if family not in RULES:
        raise ValueError(
            f"family {family!r} has no backbone-feature rule; add its row to "
            "official/models/features.py RULES."
        )
    return RULES[family]


def probe_shape(input_shape) -> tuple:
    """`input_shape` ([T,] H, W, C) with every axis but the channels set to the probe size."""
    *axes, channels = input_shape
    frames = [PROBE_FRAMES] * (len(axes) - 2)
    return (*frames, PROBE_SIDE, PROBE_SIDE, channels)


def probe_of(model: keras.Model) -> keras.Model:
    """`model` rebuilt from its config at the probe size (call inside counting.shapes_only())."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [shape[0], *probe_shape(shape[1:])]
    return keras.Model.from_config(config)


def _reductions(probe: keras.Model, tensor) -> tuple[int, int | None] | None:
    """(spatial, temporal or None) reduction of `tensor` in `probe`, or None when an axis is not an
    exact power-of-two reduction (e.g. after explicit padding) or H and W differ."""
    inputs, outputs = probe.input.shape[1:-1], tensor.shape[1:-1]
    if len(outputs) != len(inputs):
        return None
    ratios = []
    for size, out in zip(inputs, outputs, strict=True):
        if not out or size % out or (size // out) & (size // out - 1):
            return None
        ratios.append(size // out)
    *time, height, width = ratios
    if height != width:
        return None
    return height, (time[0] if time else None)


def _candidates(model: keras.Model, skip: tuple[str, ...]) -> list[keras.layers.Layer]:
    """The stem and neck layers and each block's last layer, in layer order, less `skip`."""
    last = {}
    for position, layer in enumerate(model.layers):
        part = stages.part_of(layer)
        if part.kind in (stages.INPUT, stages.HEAD) or layer.name.startswith(skip):
            continue
        key = (part.stage, part.block) if part.kind == stages.STAGE else layer.name
        last[key] = (position, layer)
    return [layer for _, layer in sorted(last.values(), key=lambda p: p[0])]


def _entry(probe: keras.Model, key: str, layer_name: str, tensor) -> dict:
    spatial, temporal = _reductions(probe, tensor)
    entry = {"key": key, "layer": layer_name, "channels": tensor.shape[-1], "reduction": spatial}
    if temporal is not None:
        entry["temporal_reduction"] = temporal
    return entry


def describe(probe: keras.Model, family: str | None) -> list[dict]:
    """[{key, layer, channels, reduction[, temporal_reduction]}] in key order, read from `probe`
    (a model at the probe size): a features model's own outputs (then family is not read), or the
    `family` rule applied to a classifier (with or without its top)."""
    outputs = probe.output
    if isinstance(outputs, dict):
        return [
            _entry(probe, key, tensor._keras_history.operation.name, tensor)
            for key, tensor in sorted(outputs.items())
        ]
    found = {}
    for layer in _candidates(probe, rule(family).skip):
        reductions = _reductions(probe, layer.output)
        if reductions and reductions[0] > 1:
            found[f"P{int(math.log2(reductions[0]))}"] = layer.name  # later candidates win
    return [
        _entry(probe, key, found[key], probe.get_layer(found[key]).output) for key in sorted(found)
    ]


def select(info: list[dict], out_indices, model_name: str) -> list[dict]:
    """The entries `out_indices` names (None: all): ints (1 = P1, timm's indices) or "P<k>"."""
    keys = [entry["key"] for entry in info]
    if out_indices is None:
        return info
    if isinstance(out_indices, (int, str)):
        out_indices = (out_indices,)
    wanted = set()
    for index in out_indices:
        key = f"P{index}" if isinstance(index, int) and not isinstance(index, bool) else index
        if key not in keys:
            ints = ", ".join(k[1:] for k in keys)
            raise ValueError(
                f"out_indices={index!r} is not a feature of {model_name}; use {ints} or "
                f"{', '.join(repr(k) for k in keys)}."
            )
        wanted.add(key)
    return [entry for entry in info if entry["key"] in wanted]


def cut(model: keras.Model, info: list[dict], name: str | None = None) -> keras.Model:
    """The functional model from `model`'s input to {key: the layer's output} for each entry of
    `info`; it shares `model`'s layers (and so its weights) and, unless `name` says otherwise,
    its name (the registered one, for `feature_info` and for a model that nests it)."""
    outputs = {entry["key"]: model.get_layer(entry["layer"]).output for entry in info}
    return keras.Model(model.input, outputs, name=name or model.name)
