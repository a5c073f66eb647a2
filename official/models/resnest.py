"""ResNeSt (Zhang et al. 2020; docs/REFERENCE.md §1.4): the ResNet trunk with a split-attention
bottleneck.

The block replaces the bottleneck's 3x3 conv by a split-attention conv (radix 2, cardinality 1,
base width 64) and, in strided blocks, moves the stride to a 3x3/2 average pool after it
("avd"). The "d"/"e" variants use the deep stem (32, 32, 64 / 64, 64, 128) and the ResNet-D
average-pool shortcut. Everything else is official/models/resnet.py's trunk.
"""

from __future__ import annotations

import keras

from official.layers.split_attention import split_attention_conv
from official.models import registry
from official.models.pretrained import accepts_weights
from official.models.resnet import BOTTLENECK_EXPANSION, block_tail, projection_shortcut, resnet


def resnest_block(
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
    radix=2,
    avd=True,
    **_,
):
    """1x1 reduce, split-attention 3x3, (3x3/2 average pool), 1x1 expand to 4*width."""
    out = width * BOTTLENECK_EXPANSION
    inner = int(width * base_width / 64) * cardinality
    shortcut = projection_shortcut(
        x, out, strides, avg_down=avg_down, conv=conv, norm=norm, name=f"{name}_shortcut"
    )
    y = conv(x, inner, 1, name=f"{name}_conv1")
    y = keras.layers.Activation(activation, name=f"{name}_relu1")(
        norm(inner, name=f"{name}_bn1")(y)
    )
    pool_stride = strides if avd and strides > 1 else 1
    y = split_attention_conv(
        y,
        inner,
        strides // pool_stride,
        radix=radix,
        cardinality=cardinality,
        conv=conv,
        norm=norm,
        activation=activation,
        name=f"{name}_splat",
    )
    if pool_stride > 1:
        # PyTorch's AvgPool2d(3, 2, padding=1) counts the zero padding in the mean: pad, then
        # pool 'valid' (Keras' 'same' would leave the padding out of the count).
        y = keras.layers.ZeroPadding2D(1, name=f"{name}_avd_pad")(y)
        y = keras.layers.AveragePooling2D(3, pool_stride, name=f"{name}_avd")(y)
    y = conv(y, out, 1, name=f"{name}_conv3")
    y = norm(out, name=f"{name}_bn3", zero_init=True)(y)
    return block_tail(
        y, shortcut, se_ratio=se_ratio, drop_rate=drop_rate, activation=activation, name=name
    )


@accepts_weights("resnest")
def resnest(depth: int = 50, *, radix: int = 2, avd: bool = True, **kwargs) -> keras.Model:
    """A ResNeSt: `resnet()` with the split-attention block; every resnet() argument applies."""
    kwargs.setdefault("stem", "deep")
    kwargs.setdefault("avg_down", True)
    return resnet(depth, block=resnest_block, block_kwargs=dict(radix=radix, avd=avd), **kwargs)


VARIANTS = {
    "resnest14d": dict(depth=14, block_repeats=(1, 1, 1, 1)),
    "resnest26d": dict(depth=26),
    "resnest50d": dict(depth=50),
    "resnest101e": dict(depth=101, stem_width=128),
    "resnest200e": dict(depth=200, stem_width=128),
}
for _name, _kwargs in VARIANTS.items():
    registry.register(_name, resnest, family="resnest", **_kwargs)
