"""Which part of a network each layer belongs to, read from the layer names every family uses
(docs/models.md, "Layer names"):

    stem_*                          the stem
    stage{S}_block{B}_* / stage{S}_unit{B}_* / stage{S}_unit_* / stage{S}_attention{B}_*
                                    block B of stage S (S in the family's own numbering)
    head_* / final_*                the neck: the last convolution / norm / activation before
                                    pooling (EfficientNet's 1x1 head conv, NFNet's final conv,
                                    pre-activation networks' final norm); still the backbone
    avg_pool, top_dropout, classifier, predictions
                                    the head

Freezing, layer-wise learning rates and backbone features all read the network through this one
table, so a family is reachable by all three once its layers are named this way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import keras

STEM, STAGE, NECK, HEAD, INPUT = "stem", "stage", "neck", "head", "input"
HEAD_LAYERS = ("avg_pool", "top_dropout", "classifier", "predictions")
_BLOCK = re.compile(r"^stage(\d+)_((?:block|unit|attention)\d*)_")
_STAGE = re.compile(r"^stage(\d+)_")


@dataclass(frozen=True)
class Part:
    """kind: one of STEM, STAGE, NECK, HEAD, INPUT; stage and block (e.g. 'block3') for STAGE."""

    kind: str
    stage: int | None = None
    block: str | None = None


def part_of(layer: keras.layers.Layer) -> Part:
    """The part of the network `layer` belongs to; an error naming the layer when its name
    follows none of the rules above."""
    name = layer.name
    if isinstance(layer, keras.layers.InputLayer):
        return Part(INPUT)
    if name.startswith("stem_"):
        return Part(STEM)
    if name.startswith(("head_", "final_")):
        return Part(NECK)
    if name in HEAD_LAYERS:
        return Part(HEAD)
    block = _BLOCK.match(name)
    if block:
        return Part(STAGE, int(block.group(1)), block.group(2))
    stage = _STAGE.match(name)
    if stage:
        return Part(STAGE, int(stage.group(1)))
    raise ValueError(
        f"layer {name!r} follows none of the layer-name rules (stem_*, stage<S>_*, head_*, "
        "final_*, avg_pool/top_dropout/classifier/predictions; official/models/stages.py)."
    )


def stage_numbers(model: keras.Model) -> list[int]:
    """The model's stage numbers, in order."""
    return sorted({p.stage for p in map(part_of, model.layers) if p.kind == STAGE})


def block_depths(model: keras.Model) -> dict[str, int]:
    """{layer name: depth} over the backbone: the stem 0, each block of each stage 1, 2, ... in
    the order the network runs them (a stage's layers outside any block take the depth of the
    block they precede), the neck (where there is one) one more than the last block, the head
    one more again (the depth timm's layer-wise learning-rate decay counts)."""
    depth_of_block: dict[tuple[int, str], int] = {}
    depths, pending = {}, []
    for layer in model.layers:
        part = part_of(layer)
        if part.kind == INPUT:
            continue
        if part.kind == STEM:
            depths[layer.name] = 0
        elif part.kind == STAGE and part.block is None:
            pending.append(layer.name)
        elif part.kind == STAGE:
            key = (part.stage, part.block)
            depth = depth_of_block.setdefault(key, len(depth_of_block) + 1)
            depths.update(dict.fromkeys(pending, depth))
            pending = []
            depths[layer.name] = depth
    last = len(depth_of_block)
    depths.update(dict.fromkeys(pending, last))
    kinds = {layer.name: part_of(layer).kind for layer in model.layers}
    neck = last + 1 if NECK in kinds.values() else last
    for name, kind in kinds.items():
        if kind in (NECK, HEAD):
            depths[name] = neck if kind == NECK else neck + 1
    return depths
