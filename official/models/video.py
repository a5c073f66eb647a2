"""3D ResNet-RS for video clips [N, T, H, W, 3] (Bello et al. 2021, section 8; SPEC 1.7).

The same trunk and blocks as official/models/resnet.py with their 2D convs inflated to 3D
through `conv_fn`. Temporal kernels (the choice documented here, following the 3D ResNets that
ResNet-RS's video section builds on, Du et al. 2021 / Feichtenhofer et al. 2019's SlowOnly):
5 in the first stem conv, 3 in the first 1x1 conv of every bottleneck of stages 4 and 5, 1
everywhere else; no temporal striding, so the T frames stay T until the final pooling, which
averages over time and space.
"""

from __future__ import annotations

import re

import keras

from official.layers.conv import HE_INIT
from official.models import registry
from official.models.resnet import VARIANTS, resnet

INFLATED = re.compile(r"stage[45]_block\d+_conv1$")


def temporal_kernel(name: str, stem_kernel: int = 5, block_kernel: int = 3) -> int:
    if name == "stem_conv1":
        return stem_kernel
    return block_kernel if INFLATED.match(name) else 1


def inflated_conv(x, filters, kernel_size, strides=1, *, name, groups=1):
    """conv2d's signature on [N, T, H, W, C]: kernel (kt, k, k), stride (1, s, s)."""
    kt = temporal_kernel(name)
    return keras.layers.Conv3D(
        filters,
        (kt, kernel_size, kernel_size),
        (1, strides, strides),
        padding="same",
        groups=groups,
        use_bias=False,
        kernel_initializer=HE_INIT,
        name=name,
    )(x)


def resnet_rs_3d(depth: int = 50, *, input_shape=(None, None, None, 3), **kwargs) -> keras.Model:
    """A ResNet-RS with inflated 3D convs; every resnet() argument applies."""
    rs = {k: v for k, v in VARIANTS[f"resnetrs{depth}"].items() if k != "depth"}
    return resnet(depth, conv_fn=inflated_conv, input_shape=input_shape, **{**rs, **kwargs})


registry.register("resnetrs50_3d", resnet_rs_3d, family="video", depth=50)
