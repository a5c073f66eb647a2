"""ResNeSt (Zhang et al. 2020; docs/REFERENCE.md §1.4): the ResNet trunk with a split-attention
bottleneck.

The block is official/models/resnet.py's bottleneck with its 3x3 conv replaced by a
split-attention conv (radix 2, cardinality 1, base width 64) which, in strided blocks, leaves
the stride to a 3x3/2 average pool after it ("avd"). The "d"/"e" variants use the deep stem
(32, 32, 64 / 64, 64, 128) and the ResNet-D average-pool shortcut. Everything else is that
file's trunk.
"""

from __future__ import annotations

import functools

import keras

from official.layers.split_attention import split_attention_conv
from official.models import registry
from official.models.resnet import resnet


def split_attention_3x3(x, filters, strides, *, groups, ops, name, radix=2, avd=True):
    """The bottleneck's 3x3 in a ResNeSt block: a split-attention conv, then (avd, strided
    blocks) a 3x3/2 average pool that takes over its stride."""
    pool_stride = strides if avd and strides > 1 else 1
    y = split_attention_conv(
        x,
        filters,
        strides // pool_stride,
        radix=radix,
        cardinality=groups,
        conv=ops.conv,
        norm_act=ops.norm_act,
        name=f"{name}_splat",
    )
    if pool_stride > 1:
        # PyTorch's AvgPool2d(3, 2, padding=1) counts the zero padding in the mean: pad, then
        # pool 'valid' (Keras' 'same' would leave the padding out of the count).
        y = keras.layers.ZeroPadding2D(1, name=f"{name}_avd_pad")(y)
        y = keras.layers.AveragePooling2D(3, pool_stride, name=f"{name}_avd")(y)
    return y


@registry.forwards_to(resnet)
def resnest(depth: int = 50, *, radix: int = 2, avd: bool = True, **kwargs) -> keras.Model:
    """A ResNeSt: `resnet()`'s bottleneck with the split-attention 3x3; every resnet() argument
    applies."""
    kwargs.setdefault("stem", "deep")
    kwargs.setdefault("avg_down", True)
    conv3x3 = functools.partial(split_attention_3x3, radix=radix, avd=avd)
    return resnet(depth, block="bottleneck", block_kwargs=dict(conv3x3=conv3x3), **kwargs)


VARIANTS = {
    "resnest14d": dict(depth=14, block_repeats=(1, 1, 1, 1)),
    "resnest26d": dict(depth=26),
    "resnest50d": dict(depth=50),
    "resnest101e": dict(depth=101, stem_width=128),
    "resnest200e": dict(depth=200, stem_width=128),
}
for _name, _kwargs in VARIANTS.items():
    registry.register(_name, resnest, family="resnest", **_kwargs)
