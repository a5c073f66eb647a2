"""ShuffleNet v1 (Zhang et al. 2018, table 1; docs/REFERENCE.md §1.7): pointwise group convolutions,
channel shuffle, depthwise 3x3; strided units concatenate a 3x3/2 average pool of their input."""

from __future__ import annotations

import functools

import keras

from official.layers import norm_act
from official.layers.channel_shuffle import ChannelShuffle
from official.layers.grouped_conv import conv2d_class
from official.layers.head import classifier_head
from official.layers.pooling import SameAveragePooling2D
from official.models import registry

# Output channels of stages 2-4 for each group count g at scale 1 (table 1).
STAGE_CHANNELS = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}
STAGE_REPEATS = (4, 8, 4)


def shuffle_unit(x, out_channels, strides, groups, *, first_groups, norm_act, name):
    """1x1 group conv -> shuffle -> 3x3 depthwise (stride) -> 1x1 group conv; add (stride 1) or
    concatenate with a 3x3/2 average pool of the input (stride 2); ReLU."""
    in_channels = x.shape[-1]
    branch_out = out_channels - in_channels if strides > 1 else out_channels
    mid = max(groups, out_channels // 4 // groups * groups)

    def conv(filters, groups, name):
        layer = conv2d_class(groups)
        return layer(filters, 1, padding="same", groups=groups, use_bias=False, name=name)

    y = conv(mid, first_groups, f"{name}_gconv1")(x)
    y = norm_act(y, f"{name}_bn1", f"{name}_relu1")
    if first_groups > 1:
        y = ChannelShuffle(first_groups, name=f"{name}_shuffle")(y)
    y = keras.layers.DepthwiseConv2D(
        3, strides, padding="same", use_bias=False, name=f"{name}_dwconv"
    )(y)
    y = norm_act(y, f"{name}_bn2")
    y = conv(branch_out, groups, f"{name}_gconv2")(y)
    y = norm_act(y, f"{name}_bn3")
    if strides > 1:
        # 'same' average pooling, equal on the PyTorch backend too (official/layers/pooling.py).
        shortcut = SameAveragePooling2D(3, strides, name=f"{name}_pool")(x)
        y = keras.layers.Concatenate(name=f"{name}_concat")([y, shortcut])
    else:
        y = keras.layers.Add(name=f"{name}_add")([y, x])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def shufflenet(
    groups: int = 3,
    *,
    scale: float = 1.0,
    block_repeats=STAGE_REPEATS,
    bn_momentum: float = 0.9,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    input_shape: tuple = (None, None, 3),
    classifier_activation: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """ShuffleNet v1 `scale`x with g = `groups` in {1, 2, 3, 4, 8}."""
    if groups not in STAGE_CHANNELS:
        raise ValueError(f"groups={groups}; ShuffleNet v1 uses g in {sorted(STAGE_CHANNELS)}.")
    bn_relu = functools.partial(
        norm_act, momentum=bn_momentum, epsilon=1e-5, activation=keras.layers.ReLU
    )
    # Scaled widths stay multiples of 4 * g so that every group conv divides evenly.
    widths = [
        max(4 * groups, int(c * scale) // (4 * groups) * (4 * groups))
        for c in STAGE_CHANNELS[groups]
    ]
    # The stem width is a multiple of g too: a strided unit's branch makes out - in channels.
    stem = max(groups, int(24 * scale) // groups * groups)
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Conv2D(stem, 3, 2, padding="same", use_bias=False, name="stem_conv1")(inputs)
    x = bn_relu(x, "stem_bn", "stem_relu")
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
    for stage, (width, repeats) in enumerate(zip(widths, block_repeats, strict=True)):
        for block in range(repeats):
            # The first unit of stage 2 has too few input channels (24) to group its 1x1 conv.
            first_groups = 1 if stage == 0 and block == 0 else groups
            x = shuffle_unit(
                x,
                width,
                2 if block == 0 else 1,
                groups,
                first_groups=first_groups,
                norm_act=bn_relu,
                name=f"stage{stage + 2}_block{block + 1}",
            )
    x = classifier_head(
        x,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, x, name=name or f"shufflenet_g{groups}")


for _groups in STAGE_CHANNELS:
    registry.register(f"shufflenet_g{_groups}", shufflenet, family="shufflenet", groups=_groups)
