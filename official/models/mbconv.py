"""Mobile inverted bottleneck (MBConv) networks from a block table: the one implementation behind
EfficientNet (Tan & Le 2019) and MnasNet (Tan et al. 2019); docs/REFERENCE.md §1.7.

A table row is (repeats, kernel, stride, expand ratio, in, out, se ratio, skip), as the official
TF code's block strings ('r2_k3_s22_e6_i16_o24_se0.25'). Widths are scaled by a width
coefficient and rounded to multiples of 8; repeats by a depth coefficient and rounded up.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import keras

from official.layers import SqueezeExcite, StochasticDepth, norm_act
from official.layers.head import classifier_head
from official.layers.padding import check_padding, pad_for_window


@dataclasses.dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    filters_in: int
    filters_out: int
    se_ratio: float = 0.0
    skip: bool = True


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """filters * width to the nearest multiple of 8, never below 90% of it (official TF)."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    return int(math.ceil(depth * repeats))


def scaled_stages(stages, width: float, depth: float) -> list[Stage]:
    """The table after compound scaling (EfficientNet eq. 3)."""
    return [
        dataclasses.replace(
            s,
            repeats=round_repeats(s.repeats, depth),
            filters_in=round_filters(s.filters_in, width),
            filters_out=round_filters(s.filters_out, width),
        )
        for s in stages
    ]


def with_repeats(stages, block_repeats) -> tuple[Stage, ...]:
    """The table with each stage's repeats replaced by block_repeats (missing entries: 1);
    tests and studies use it to shrink a network while keeping its structure."""
    repeats = list(block_repeats) + [1] * (len(stages) - len(block_repeats))
    return tuple(dataclasses.replace(s, repeats=r) for r, s in zip(repeats, stages, strict=True))


def mbconv_block(
    x,
    stage: Stage,
    filters_in: int,
    stride: int,
    *,
    norm_act,
    se_activation,
    drop_rate,
    name,
    padding="tf",
):
    """Expand 1x1 (unless ratio 1), depthwise kxk, SE on the block input's width, project 1x1;
    identity skip with drop connect when shapes allow. A strided depthwise conv pads as
    `padding` says (official/layers/padding.py). norm_act: official/layers/norm.py's, bound to
    the network's norm and activation."""
    conv = functools.partial(
        keras.layers.Conv2D, padding="same", use_bias=False, kernel_initializer="he_normal"
    )
    y = x
    expanded = filters_in * stage.expand
    if stage.expand != 1:
        y = conv(expanded, 1, name=f"{name}_expand_conv")(y)
        y = norm_act(y, f"{name}_expand_bn", f"{name}_expand_act")
    y, dw_padding = pad_for_window(y, stage.kernel, stride, padding, name=f"{name}_dwconv")
    y = keras.layers.DepthwiseConv2D(
        stage.kernel, stride, padding=dw_padding, use_bias=False, name=f"{name}_dwconv"
    )(y)
    y = norm_act(y, f"{name}_bn", f"{name}_act")
    if stage.se_ratio:
        reduced = max(1, int(filters_in * stage.se_ratio))
        y = SqueezeExcite(reduced, activation=se_activation, name=f"{name}_se")(y)
    y = conv(stage.filters_out, 1, name=f"{name}_project_conv")(y)
    y = norm_act(y, f"{name}_project_bn")
    if stage.skip and stride == 1 and filters_in == stage.filters_out:
        if drop_rate:
            y = StochasticDepth(drop_rate, name=f"{name}_drop")(y)
        y = keras.layers.Add(name=f"{name}_add")([y, x])
    return y


def mbconv_network(
    stages,
    *,
    width: float = 1.0,
    depth: float = 1.0,
    stem_filters: int = 32,
    head_filters: int = 1280,
    activation: str = "swish",
    se_activation: str | None = None,
    drop_connect_rate: float = 0.0,
    dropout_rate: float = 0.0,
    bn_momentum: float = 0.99,
    bn_epsilon: float = 1e-3,
    padding: str = "tf",
    norm: str = "batch",
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    input_shape: tuple = (None, None, 3),
    classifier_activation: str | None = None,
    name: str = "mbconv",
) -> keras.Model:
    """Stem 3x3/2 conv, the scaled stages, a 1x1 head conv, pooling, dropout, classifier.
    Drop connect rises linearly with the block index: rate * index / blocks (EfficientNet).
    padding: 'tf' (TF 'same' in strided convs, as the official TF code and timm's `tf_*` ports)
    or 'symmetric' (timm's PyTorch-trained weights, with bn_epsilon=1e-5): docs/weights.md."""
    check_padding(padding)
    norm_act_fn = functools.partial(
        norm_act, norm=norm, momentum=bn_momentum, epsilon=bn_epsilon, activation=activation
    )
    stages = scaled_stages(stages, width, depth)
    inputs = keras.Input(shape=input_shape)
    stem = round_filters(stem_filters, width)
    x, stem_padding = pad_for_window(inputs, 3, 2, padding, name="stem_conv1")
    x = keras.layers.Conv2D(stem, 3, 2, padding=stem_padding, use_bias=False, name="stem_conv1")(x)
    x = norm_act_fn(x, "stem_bn", "stem_act")
    total = sum(s.repeats for s in stages)
    index, filters_in = 0, stem
    for stage_index, stage in enumerate(stages):
        for block in range(stage.repeats):
            x = mbconv_block(
                x,
                stage,
                filters_in,
                stage.stride if block == 0 else 1,
                norm_act=norm_act_fn,
                se_activation=se_activation or activation,
                drop_rate=drop_connect_rate * index / total,
                name=f"stage{stage_index + 1}_block{block + 1}",
                padding=padding,
            )
            filters_in = stage.filters_out
            index += 1
    head = round_filters(head_filters, width)
    x = keras.layers.Conv2D(head, 1, padding="same", use_bias=False, name="head_conv")(x)
    x = norm_act_fn(x, "head_bn", "head_act")
    x = classifier_head(
        x,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, x, name=name)
