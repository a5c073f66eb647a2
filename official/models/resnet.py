"""ResNet and its descendants from one builder: v1, B/C/D tweaks, SE, ResNeXt, ResNet-RS.

Papers: He et al. 2015 (ResNet), He et al. 2019 ("Bag of Tricks": ResNet-B/C/D), Hu et al. 2018
(SE), Xie et al. 2017 (ResNeXt), Bello et al. 2021 (ResNet-RS), Wu & He 2018 (GroupNorm).
docs/REFERENCE.md §1.1-1.3, 1.5.

Every variant is a set of keyword arguments of `resnet()`; the table at the bottom names them.
Layer names: stem_conv1, stem_bn1, ..., stage{2..5}_block{k}_{conv1,bn1,...,se,drop,out}; the
output of stage s is the layer `stage{s}_block{last}_out` (see `stage_output_names`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import keras

from official.layers import SqueezeExcite, StochasticDepth, conv2d, norm_layer, se_filters
from official.layers.head import classifier_head
from official.layers.padding import check_padding, max_pool
from official.models import registry
from official.models.pretrained import accepts_weights

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


def projection_shortcut(x, filters, strides, *, avg_down, conv, norm, name):
    """Identity, or a projection when the shape changes.

    ResNet-D (Bag of Tricks 4.1): a strided projection averages 2x2 first so the 1x1 conv sees every
    input pixel instead of one in four.
    """
    if strides == 1 and x.shape[-1] == filters:
        return x
    if avg_down and strides > 1:
        if len(x.shape) == 5:  # video: [N, T, H, W, C], pooled in space only
            pool = keras.layers.AveragePooling3D(
                (1, strides, strides), (1, strides, strides), padding="same", name=f"{name}_pool"
            )
        else:
            pool = keras.layers.AveragePooling2D(
                strides, strides, padding="same", name=f"{name}_pool"
            )
        x = pool(x)
        strides = 1
    x = conv(x, filters, 1, strides, name=f"{name}_conv")
    return norm(filters, name=f"{name}_bn")(x)


def block_tail(x, shortcut, *, se_ratio, drop_rate, activation, name):
    """SE on the branch, stochastic depth, the add and the activation, in that order
    (docs/REFERENCE.md §1.2)."""
    if se_ratio:
        x = SqueezeExcite(se_filters(x.shape[-1], se_ratio), name=f"{name}_se")(x)
    if drop_rate:
        x = StochasticDepth(drop_rate, name=f"{name}_drop")(x)
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.Activation(activation, name=f"{name}_out")(x)


def basic_block(
    x, width, strides, *, conv, norm, activation, avg_down, se_ratio, drop_rate, name, **_
):
    """Two 3x3 convs (ResNet-18/34)."""
    shortcut = projection_shortcut(
        x, width, strides, avg_down=avg_down, conv=conv, norm=norm, name=f"{name}_shortcut"
    )
    y = conv(x, width, 3, strides, name=f"{name}_conv1")
    y = keras.layers.Activation(activation, name=f"{name}_relu1")(
        norm(width, name=f"{name}_bn1")(y)
    )
    y = conv(y, width, 3, name=f"{name}_conv2")
    y = norm(width, name=f"{name}_bn2", zero_init=True)(y)
    return block_tail(
        y, shortcut, se_ratio=se_ratio, drop_rate=drop_rate, activation=activation, name=name
    )


def bottleneck_block(
    x,
    width,
    strides,
    *,
    conv,
    norm,
    activation,
    avg_down,
    se_ratio,
    drop_rate,
    name,
    cardinality=1,
    base_width=64,
    stride_in_1x1=False,
):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand to 4*width.

    ResNet-B puts the stride on the 3x3 conv; the 2015 paper (and keras.applications) on the first
    1x1, which skips three quarters of the input (Bag of Tricks 4.1).
    ResNeXt: inner width floor(width * base_width / 64) * cardinality (Xie et al. 2017, table 1).
    """
    out = width * BOTTLENECK_EXPANSION
    inner = int(width * base_width / 64) * cardinality
    shortcut = projection_shortcut(
        x, out, strides, avg_down=avg_down, conv=conv, norm=norm, name=f"{name}_shortcut"
    )
    y = conv(x, inner, 1, strides if stride_in_1x1 else 1, name=f"{name}_conv1")
    y = keras.layers.Activation(activation, name=f"{name}_relu1")(
        norm(inner, name=f"{name}_bn1")(y)
    )
    y = conv(y, inner, 3, 1 if stride_in_1x1 else strides, groups=cardinality, name=f"{name}_conv2")
    y = keras.layers.Activation(activation, name=f"{name}_relu2")(
        norm(inner, name=f"{name}_bn2")(y)
    )
    y = conv(y, out, 1, name=f"{name}_conv3")
    y = norm(out, name=f"{name}_bn3", zero_init=True)(y)
    return block_tail(
        y, shortcut, se_ratio=se_ratio, drop_rate=drop_rate, activation=activation, name=name
    )


def _stem(x, *, stem, stem_width, stem_pool, conv, norm, activation, padding):
    """ResNet: 7x7/2 conv. ResNet-C: three 3x3 convs (w/2, w/2, w, the first strided).
    Then a 3x3/2 max pool (padded as `padding` says: official/layers/padding.py), or (ResNet-RS)
    a 3x3/2 conv + norm + activation in its place."""

    def conv_norm_act(x, filters, kernel, strides, index):
        x = conv(x, filters, kernel, strides, name=f"stem_conv{index}")
        x = norm(filters, name=f"stem_bn{index}")(x)
        return keras.layers.Activation(activation, name=f"stem_relu{index}")(x)

    if stem == "basic":
        x = conv_norm_act(x, stem_width, 7, 2, 1)
    elif stem == "deep":
        x = conv_norm_act(x, stem_width // 2, 3, 2, 1)
        x = conv_norm_act(x, stem_width // 2, 3, 1, 2)
        x = conv_norm_act(x, stem_width, 3, 1, 3)
    else:
        raise ValueError(f"stem={stem!r} is not known; use 'basic' (7x7) or 'deep' (ResNet-C).")
    if stem_pool == "max":
        if len(x.shape) == 5:  # video [N, T, H, W, C]: pooled in space only (docs/video.md)
            if padding != "tf":
                raise ValueError(f"padding={padding!r}: video stems pool with TF 'same' only.")
            pool = keras.layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="stem_pool")
            return pool(x)
        return max_pool(x, 3, 2, padding, name="stem_pool")
    if stem_pool == "conv":
        return conv_norm_act(x, stem_width, 3, 2, 4 if stem == "deep" else 2)
    raise ValueError(f"stem_pool={stem_pool!r} is not known; use 'max' or 'conv' (ResNet-RS).")


@accepts_weights("resnet")
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
    classifier_activation: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """Builds a ResNet as a functional Keras model.

    depth / block_repeats: layers (18..420; see `blocks_for_depth`), or blocks per stage explicitly.
    block: 'basic', 'bottleneck', or a block function with their signature (other families plug
    theirs in: official/models/resnest.py); block_kwargs go to every block call.
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
    weights: None, or a weights file / 'imagenet' to convert into the model (official/weights,
    docs/weights.md); the source's conventions (padding, bn_epsilon, ...) are applied.
    conv_fn: replaces the 2D conv helper (official/layers/conv.py) with one of the same signature,
    e.g. official/models/video.py's inflated 3D convs; input_shape then has a time axis.
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

    conv = conv_fn or functools.partial(conv2d, weight_standardization=weight_standardization)
    norm_fn = functools.partial(norm_layer, norm, momentum=bn_momentum, epsilon=bn_epsilon)
    scaled = lambda w: max(1, int(w * width_multiplier))  # noqa: E731

    inputs = keras.Input(shape=input_shape) if input_tensor is None else input_tensor
    x = _stem(
        inputs,
        stem=stem,
        stem_width=scaled(stem_width),
        stem_pool=stem_pool,
        conv=conv,
        norm=norm_fn,
        activation=activation,
        padding=padding,
    )
    drop_rates = _stage_drop_rates(stochastic_depth_rate, len(repeats))
    for stage_index, (num_blocks, width) in enumerate(zip(repeats, STAGE_WIDTHS, strict=True)):
        for block_index in range(num_blocks):
            x = block_fn(
                x,
                scaled(width),
                2 if block_index == 0 and stage_index > 0 else 1,
                conv=conv,
                norm=norm_fn,
                activation=activation,
                avg_down=avg_down,
                se_ratio=se_ratio,
                drop_rate=drop_rates[stage_index],
                cardinality=cardinality,
                base_width=base_width,
                stride_in_1x1=stride_in_1x1,
                name=f"stage{stage_index + 2}_block{block_index + 1}",
                **(block_kwargs or {}),
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


def stage_output_names(model: keras.Model) -> dict[int, str]:
    """{stage: name of its output layer} for a model built by `resnet()` (2..5), for features."""
    names = {}
    for layer in model.layers:
        if layer.name.startswith("stage") and layer.name.endswith("_out"):
            names[int(layer.name[5])] = layer.name  # later blocks overwrite earlier ones
    return names


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
