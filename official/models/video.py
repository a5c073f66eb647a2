"""3D ResNet-RS for video clips [N, T, H, W, 3] (Bello et al. 2021, section 8; docs/video.md).

The block layout of TF Model Garden's 3D ResNet-RS (official/vision/modeling/backbones/
resnet_3d.py, its `ResNet3DRS` block specs in official/vision/configs/backbones_3d.py and
`BottleneckBlock3D` in official/vision/modeling/layers/nn_blocks_3d.py), on this library's trunk
(official/models/resnet.py):
- stem 'v1' (the deep stem): 3x3 convs of 32, 32, 64 channels; the first has temporal kernel 5
  and strides (2, 2, 2), so 32 frames become 16; then a (1, 3, 3) max pool, strides (1, 2, 2)
  (the recipe's stem pool temporal stride 1).
- bottleneck: conv1 (kt, 1, 1) with kt = 1 in stages 2-3 and 3 in stages 4-5 (every block), conv2
  (1, 3, 3) with the spatial stride, conv3 1x1x1; a projection shortcut is a strided 1x1x1 conv +
  BN (no ResNet-D average pool). After conv3's BN: self-gating (last block of each stage only),
  SE on the block output (ratio 0.25), stochastic depth (rate * stage / 5), add, ReLU.
- head: average over time and space, dropout, dense.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from official.layers.conv import he_init
from official.layers.self_gating import SelfGating
from official.models import registry
from official.models.pretrained import accepts_weights
from official.models.resnet import (
    BOTTLENECK_EXPANSION,
    block_tail,
    blocks_for_depth,
    projection_shortcut,
    resnet,
)

# Temporal kernel of conv1 in every block of stages 2, 3, 4, 5 (Model Garden's ResNet3DRS).
TEMPORAL_KERNELS = (1, 1, 3, 3)


def conv3d(x, filters: int, kernel: tuple, strides: tuple, *, name: str, groups: int = 1):
    """Conv3D without bias, He init, 'same' padding (the official 3D code pads 'same' too)."""
    return keras.layers.Conv3D(
        filters,
        kernel,
        strides,
        padding="same",
        groups=groups,
        use_bias=False,
        kernel_initializer=he_init(),
        name=name,
    )(x)


def stem_and_shortcut_conv(stem_temporal_kernel: int = 5, stem_temporal_stride: int = 2):
    """resnet()'s `conv_fn` for the stem and shortcut convs: a k x k conv becomes (1, k, k), the
    first stem conv (kt, k, k) with temporal stride `stem_temporal_stride`."""

    def conv(x, filters, kernel_size, strides=1, *, name, groups=1):
        kt, st = (stem_temporal_kernel, stem_temporal_stride) if name == "stem_conv1" else (1, 1)
        kernel = (kt, kernel_size, kernel_size)
        return conv3d(x, filters, kernel, (st, strides, strides), name=name, groups=groups)

    return conv


def bottleneck_3d_block(
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
    temporal_kernels: Sequence[int] = TEMPORAL_KERNELS,
    gated: Sequence[str] = (),
    **_,
):
    """Model Garden's BottleneckBlock3D; `name` is `stage{s}_block{b}`, which picks the temporal
    kernel of its stage; blocks named in `gated` end with self-gating."""
    out = width * BOTTLENECK_EXPANSION
    kt = temporal_kernels[int(name[len("stage")]) - 2]
    shortcut = projection_shortcut(
        x, out, strides, avg_down=avg_down, conv=conv, norm=norm, name=f"{name}_shortcut"
    )
    y = conv3d(x, width, (kt, 1, 1), (1, 1, 1), name=f"{name}_conv1")
    y = keras.layers.Activation(activation, name=f"{name}_relu1")(
        norm(width, name=f"{name}_bn1")(y)
    )
    y = conv(y, width, 3, strides, name=f"{name}_conv2")
    y = keras.layers.Activation(activation, name=f"{name}_relu2")(
        norm(width, name=f"{name}_bn2")(y)
    )
    y = conv(y, out, 1, name=f"{name}_conv3")
    y = norm(out, name=f"{name}_bn3", zero_init=True)(y)
    if name in gated:
        y = SelfGating(name=f"{name}_gate")(y)
    return block_tail(
        y, shortcut, se_ratio=se_ratio, drop_rate=drop_rate, activation=activation, name=name
    )


@accepts_weights("video")
def resnet_rs_3d(
    depth: int = 50,
    *,
    block_repeats: Sequence[int] | None = None,
    temporal_kernels: Sequence[int] = TEMPORAL_KERNELS,
    stem_temporal_kernel: int = 5,
    stem_temporal_stride: int = 2,
    self_gating: bool = True,
    se_ratio: float = 0.25,
    stochastic_depth_rate: float = 0.1,
    dropout_rate: float = 0.5,
    input_shape=(None, None, None, 3),
    **kwargs,
) -> keras.Model:
    """A 3D ResNet-RS; the defaults are the Kinetics-400 recipe's (k400_resnet3drs_50_tpu.yaml).
    Every other resnet() argument applies (width_multiplier, bn_momentum, norm, ...)."""
    if len(temporal_kernels) != 4:
        raise ValueError(f"temporal_kernels={temporal_kernels!r}: one per stage 2..5 (4 values).")
    repeats = tuple(block_repeats) if block_repeats is not None else blocks_for_depth(depth)
    gated = [f"stage{s + 2}_block{n}" for s, n in enumerate(repeats)] if self_gating else []
    return resnet(
        depth,
        block_repeats=repeats,
        block=bottleneck_3d_block,
        block_kwargs=dict(temporal_kernels=tuple(temporal_kernels), gated=gated),
        stem="deep",
        stem_pool="max",
        avg_down=False,
        se_ratio=se_ratio,
        stochastic_depth_rate=stochastic_depth_rate,
        dropout_rate=dropout_rate,
        conv_fn=stem_and_shortcut_conv(stem_temporal_kernel, stem_temporal_stride),
        input_shape=input_shape,
        **kwargs,
    )


registry.register("resnetrs50_3d", resnet_rs_3d, family="video", depth=50)
