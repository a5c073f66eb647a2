"""ResNet and its descendants from one builder: v1, B/C/D tweaks, SE, ResNeXt, ResNet-RS.

Papers: He et al. 2015 (ResNet), He et al. 2019 ("Bag of Tricks": ResNet-B/C/D), Hu et al. 2018
(SE), Xie et al. 2017 (ResNeXt), Bello et al. 2021 (ResNet-RS), Wu & He 2018 (GroupNorm).
docs/REFERENCE.md §1.1-1.3, 1.5.

Every variant is a set of keyword arguments of `resnet()`; the table at the bottom names them.
Layer names: stem_conv1, stem_bn1, ..., stage{2..5}_block{k}_{conv1,bn1,...,se,drop,out}; the
output of stage s is the layer `stage{s}_block{last}_out`, feature "P{s}"
(official/models/features.py).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import keras

from official.layers import SqueezeExcite, StochasticDepth, conv2d, norm_act, se_filters
from official.layers.head import classifier_head
from official.layers.padding import check_padding, max_pool
from official.layers.self_gating import SelfGating
from official.models import registry

# Blocks per stage (docs/REFERENCE.md §1.1). 18 and 34 use basic blocks, the rest bottlenecks.
BLOCKS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
    270: (4, 29, 53, 4),
    350: (4, 36, 72, 4),
    420: (4, 44, 87, 4),
}
BASIC_DEPTHS = (18, 34)
STAGE_WIDTHS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4


def blocks_for_depth(depth: int) -> tuple[int, ...]:
    """Blocks per stage for a bottleneck ResNet of `depth` layers.

    Depths in BLOCKS come from the papers. Others (e.g. 300 and 400 of the ResNet-RS scaling study,
    which publishes no table for them) are derived as resnet270/350/420 were: n = round((depth-2)/3)
    bottleneck blocks; min(4, max(1, n // 8)) in the first and in the last stage; the rest split 1:2
    between stages 3 and 4 as in resnet350 (36:72). This reproduces 350 and 420 exactly and gives
    300 -> (4, 30, 61, 4) and 400 -> (4, 42, 83, 4).
    """
    if depth in BLOCKS:
        return BLOCKS[depth]
    n = round((depth - 2) / 3)
    if n < 4:
        raise ValueError(f"depth={depth} is too shallow: a bottleneck ResNet needs depth >= 14.")
    ends = min(4, max(1, n // 8))
    middle = n - 2 * ends
    stage3 = max(1, round(middle / 3))
    return (ends, stage3, middle - stage3, ends)


def _stage_drop_rates(rate: float, num_stages: int = 4) -> list[float]:
    """ResNet-RS stochastic depth: stage i in 2..5 drops with rate * i / 5
    (docs/REFERENCE.md §1.2)."""
    total = num_stages + 1
    return [rate * (i + 2) / total for i in range(num_stages)]


def avg_pool_2d(x, pool_size, strides, *, name):
    """The ResNet-D shortcut's average pool (TF 'same': a 2x2/2 window needs no padding on even
    inputs)."""
    return keras.layers.AveragePooling2D(pool_size, strides, padding="same", name=name)(x)


@dataclasses.dataclass(frozen=True)
class Ops:
    """The layers a ResNet is built from, bound once per model (as Flax's examples/imagenet binds
    conv and norm): the stem and the blocks call these and never look at the tensor's rank.
    `resnet()` makes the 2-D ones; official/models/video.py passes 3-D conv and pools instead.

    conv(x, filters, kernel_size, strides=1, *, name, groups=1): no bias, He init.
    norm_act(x, name, act_name=None, *, zero_init=False): the norm, then the activation if named
    (official/layers/norm.py). activation: the one after each block's add.
    avg_pool(x, pool_size, strides, *, name): the ResNet-D shortcut's pool.
    max_pool(x, pool_size, strides, padding, *, name): the stem's (official/layers/padding.py).
    """

    conv: Callable
    norm_act: Callable
    activation: str
    avg_pool: Callable
    max_pool: Callable


def projection_shortcut(x, filters, strides, *, avg_down, ops, name):
    """Identity, or a projection when the shape changes.

    ResNet-D (Bag of Tricks 4.1): a strided projection averages 2x2 first so the 1x1 conv sees every
    input pixel instead of one in four.
    """
    if strides == 1 and x.shape[-1] == filters:
        return x
    if avg_down and strides > 1:
        x = ops.avg_pool(x, strides, strides, name=f"{name}_pool")
        strides = 1
    x = ops.conv(x, filters, 1, strides, name=f"{name}_conv")
    return ops.norm_act(x, f"{name}_bn")


def block_tail(x, shortcut, *, ops, se_ratio, drop_rate, name):
    """SE on the branch, stochastic depth, the add and the activation, in that order
    (docs/REFERENCE.md §1.2)."""
    if se_ratio:
        x = SqueezeExcite(se_filters(x.shape[-1], se_ratio), name=f"{name}_se")(x)
    if drop_rate:
        x = StochasticDepth(drop_rate, name=f"{name}_drop")(x)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.Activation(ops.activation, name=f"{name}_out")(x)


def basic_block(x, width, strides, *, ops, name, drop_rate=0.0, avg_down=False, se_ratio=0.0, **_):
    """Two 3x3 convs (ResNet-18/34)."""
    shortcut = projection_shortcut(
        x, width, strides, avg_down=avg_down, ops=ops, name=f"{name}_shortcut"
    )
    y = ops.conv(x, width, 3, strides, name=f"{name}_conv1")
    y = ops.norm_act(y, f"{name}_bn1", f"{name}_relu1")
    y = ops.conv(y, width, 3, name=f"{name}_conv2")
    y = ops.norm_act(y, f"{name}_bn2", zero_init=True)
    return block_tail(y, shortcut, ops=ops, se_ratio=se_ratio, drop_rate=drop_rate, name=name)


def grouped_conv3x3(x, filters, strides, *, groups, ops, name):
    """The bottleneck's 3x3: a conv (grouped for ResNeXt), its norm and activation."""
    y = ops.conv(x, filters, 3, strides, groups=groups, name=f"{name}_conv2")
    return ops.norm_act(y, f"{name}_bn2", f"{name}_relu2")


def bottleneck_block(
    x,
    width,
    strides,
    *,
    ops,
    name,
    drop_rate=0.0,
    avg_down=False,
    se_ratio=0.0,
    cardinality=1,
    base_width=64,
    stride_in_1x1=False,
    conv3x3=grouped_conv3x3,
    self_gating=False,
):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand to 4*width.

    ResNet-B puts the stride on the 3x3 conv; the 2015 paper (and keras.applications) on the first
    1x1, which skips three quarters of the input (Bag of Tricks 4.1).
    ResNeXt: inner width floor(width * base_width / 64) * cardinality (Xie et al. 2017, table 1).
    conv3x3(x, filters, strides, *, groups, ops, name) replaces the 3x3 stage: ResNeSt plugs in
    its split-attention conv (official/models/resnest.py).
    self_gating: S3D-G gating of the branch before SE (3D ResNet-RS, official/models/video.py).
    """
    out = width * BOTTLENECK_EXPANSION
    inner = int(width * base_width / 64) * cardinality
    shortcut = projection_shortcut(
        x, out, strides, avg_down=avg_down, ops=ops, name=f"{name}_shortcut"
    )
    y = ops.conv(x, inner, 1, strides if stride_in_1x1 else 1, name=f"{name}_conv1")
    y = ops.norm_act(y, f"{name}_bn1", f"{name}_relu1")
    y = conv3x3(y, inner, 1 if stride_in_1x1 else strides, groups=cardinality, ops=ops, name=name)
    y = ops.conv(y, out, 1, name=f"{name}_conv3")
    y = ops.norm_act(y, f"{name}_bn3", zero_init=True)
    if self_gating:
        y = SelfGating(name=f"{name}_gate")(y)
    return block_tail(y, shortcut, ops=ops, se_ratio=se_ratio, drop_rate=drop_rate, name=name)


def _stem(x, *, stem, stem_width, stem_pool, ops, padding):
    """ResNet: 7x7/2 conv. ResNet-C: three 3x3 convs (w/2, w/2, w, the first strided).
    Then a 3x3/2 max pool (padded as `padding` says: official/layers/padding.py), or (ResNet-RS)
    a 3x3/2 conv + norm + activation in its place."""

    def conv_norm_act(x, filters, kernel, strides, index):
        x = ops.conv(x, filters, kernel, strides, name=f"stem_conv{index}")
        return ops.norm_act(x, f"stem_bn{index}", f"stem_relu{index}")

    if stem == "basic":
        x = conv_norm_act(x, stem_width, 7, 2, 1)
    elif stem == "deep":
        x = conv_norm_act(x, stem_width // 2, 3, 2, 1)
        x = conv_norm_act(x, stem_width // 2, 3, 1, 2)
        x = conv_norm_act(x, stem_width, 3, 1, 3)
    else:
        raise ValueError(f"stem={stem!r} is not known; use 'basic' (7x7) or 'deep' (ResNet-C).")
    if stem_pool == "max":
        return ops.max_pool(x, 3, 2, padding, name="stem_pool")
    if stem_pool == "conv":
        return conv_norm_act(x, stem_width, 3, 2, 4 if stem == "deep" else 2)
    raise ValueError(f"stem_pool={stem_pool!r} is not known; use 'max' or 'conv' (ResNet-RS).")


def resnet(
    depth: int = 50,
    *,
    block_repeats: Sequence[int] | None = None,
    block: str | Callable | None = None,
    block_kwargs: dict | None = None,
    width_multiplier: float = 1.0,
    stem: str = "basic",
    stem_width: int = 64,
    stem_pool: str = "max",
    avg_down: bool = False,
    stride_in_1x1: bool = False,
    cardinality: int = 1,
    base_width: int = 64,
    se_ratio: float = 0.0,
    stochastic_depth_rate: float = 0.0,
    dropout_rate: float = 0.0,
    norm: str = "batch",
    weight_standardization: bool = False,
    bn_momentum: float = 0.9,
    bn_epsilon: float = 1e-5,
    padding: str = "tf",
    activation: str = "relu",
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    input_shape: tuple = (None, None, 3),
    input_tensor=None,
    conv_fn: Callable | None = None,
    avg_pool_fn: Callable | None = None,
    max_pool_fn: Callable | None = None,
    classifier_activation: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """Builds a ResNet as a functional Keras model.

    depth / block_repeats: layers (18..420; see `blocks_for_depth`), or blocks per stage explicitly.
    block: 'basic', 'bottleneck', or a block function with their signature; block_kwargs go to
    every block call (ResNeSt passes the bottleneck its 3x3: official/models/resnest.py).
    stem: 'basic' (7x7) or 'deep' (ResNet-C) ending in stem_width channels; stem_pool: 'max' or
    'conv' (ResNet-RS).
    avg_down: ResNet-D shortcut. stride_in_1x1: the 2015 stride placement instead of ResNet-B.
    cardinality, base_width: ResNeXt. se_ratio: SE on each block (0 = off).
    width_multiplier scales every conv width, stem included (ResNet-RS section 7).
    norm: 'batch' | 'sync_batch' | 'group' | 'none'; weight_standardization: BiT WS convs.
    bn_momentum: keras convention (moving = momentum * moving + (1 - momentum) * batch).
    padding: the stem max pool's convention, 'tf' (TF 'same', as the official TF ResNet) or
    'symmetric' (timm, keras.applications); strided convs always pad symmetrically
    (official/layers/conv.py). Converted weights set it (docs/weights.md).
    include_top/pooling/input_shape/input_tensor: as keras.applications. The model returns logits
    (float32 under any mixed-precision policy) unless classifier_activation is set.
    Pretrained weights: `official.models.get(name, weights=...)` (docs/weights.md).
    conv_fn, avg_pool_fn, max_pool_fn: replace the 2-D conv helper (official/layers/conv.py),
    `avg_pool_2d` and official/layers/padding.py's `max_pool` with callables of the same
    signatures (`Ops`), e.g. official/models/video.py's space-only 3-D ones; input_shape then
    has a time axis.
    """
    check_padding(padding)
    if block is None:
        block = "basic" if depth in BASIC_DEPTHS else "bottleneck"
    if callable(block):
        block_fn = block
    elif block in ("basic", "bottleneck"):
        block_fn = basic_block if block == "basic" else bottleneck_block
    else:
        raise ValueError(f"block={block!r} is not known; use 'basic' or 'bottleneck'.")
    repeats = tuple(block_repeats) if block_repeats is not None else blocks_for_depth(depth)

    ops = Ops(
        conv=conv_fn or functools.partial(conv2d, weight_standardization=weight_standardization),
        norm_act=functools.partial(
            norm_act, norm=norm, momentum=bn_momentum, epsilon=bn_epsilon, activation=activation
        ),
        activation=activation,
        avg_pool=avg_pool_fn or avg_pool_2d,
        max_pool=max_pool_fn or max_pool,
    )
    block_args = dict(
        avg_down=avg_down,
        se_ratio=se_ratio,
        cardinality=cardinality,
        base_width=base_width,
        stride_in_1x1=stride_in_1x1,
        **(block_kwargs or {}),
    )
    scaled = lambda w: max(1, int(w * width_multiplier))  # noqa: E731

    inputs = keras.Input(shape=input_shape) if input_tensor is None else input_tensor
    x = _stem(
        inputs,
        stem=stem,
        stem_width=scaled(stem_width),
        stem_pool=stem_pool,
        ops=ops,
        padding=padding,
    )
    drop_rates = _stage_drop_rates(stochastic_depth_rate, len(repeats))
    for stage_index, (num_blocks, width) in enumerate(zip(repeats, STAGE_WIDTHS, strict=True)):
        for block_index in range(num_blocks):
            x = block_fn(
                x,
                scaled(width),
                2 if block_index == 0 and stage_index > 0 else 1,
                ops=ops,
                drop_rate=drop_rates[stage_index],
                name=f"stage{stage_index + 2}_block{block_index + 1}",
                **block_args,
            )

    x = classifier_head(
        x,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
    )
    return keras.Model(inputs, x, name=name or f"resnet{depth}")


# ---- Named variants (docs/REFERENCE.md §1.1-1.3): one line each, `resnet()` with these arguments.
_C = dict(stem="deep")  # ResNet-C
_D = dict(stem="deep", avg_down=True)  # ResNet-D
_RS = dict(stem="deep", stem_pool="conv", avg_down=True, se_ratio=0.25, dropout_rate=0.25)

VARIANTS = {
    "resnet18": dict(depth=18),
    "resnet26": dict(depth=26),
    "resnet34": dict(depth=34),
    "resnet50": dict(depth=50),
    "resnet101": dict(depth=101),
    "resnet152": dict(depth=152),
    "resnet200": dict(depth=200),
    "resnet50c": dict(depth=50, **_C),
    "resnet50d": dict(depth=50, **_D),
    "resnet101d": dict(depth=101, **_D),
    "resnet152d": dict(depth=152, **_D),
    "resnet200d": dict(depth=200, **_D),
    "seresnet50": dict(depth=50, se_ratio=1 / 16),
    "seresnet101": dict(depth=101, se_ratio=1 / 16),
    "resnext50_32x4d": dict(depth=50, cardinality=32, base_width=4),
    "resnext101_32x4d": dict(depth=101, cardinality=32, base_width=4),
    "resnext101_32x8d": dict(depth=101, cardinality=32, base_width=8),
    "seresnext50_32x4d": dict(depth=50, cardinality=32, base_width=4, se_ratio=1 / 16),
    "resnet50_gn": dict(depth=50, norm="group"),
    "resnetrs50": dict(depth=50, **_RS),
    "resnetrs101": dict(depth=101, **_RS),
    "resnetrs152": dict(depth=152, **_RS),
    "resnetrs200": dict(depth=200, stochastic_depth_rate=0.1, **_RS),
    "resnetrs270": dict(depth=270, stochastic_depth_rate=0.1, **_RS),
    "resnetrs350": dict(depth=350, stochastic_depth_rate=0.1, **_RS),
    "resnetrs420": dict(depth=420, stochastic_depth_rate=0.1, **_RS),
}
for _name, _kwargs in VARIANTS.items():
    registry.register(_name, resnet, family="resnet", **_kwargs)
