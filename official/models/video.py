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
The trunk is the image one; the 3-D differences go in as its conv_fn / max_pool_fn / avg_pool_fn
(convs and pools over space, the temporal kernels looked up by layer name) and a block that adds
the self-gating.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from official.layers.conv import he_init
from official.models import registry
from official.models.resnet import blocks_for_depth, bottleneck_block, resnet

# Temporal kernel of conv1 in every block of stages 2, 3, 4, 5 (Model Garden's ResNet3DRS).
TEMPORAL_KERNELS = (1, 1, 3, 3)


def space_time_conv(temporal: dict[str, tuple[int, int]]):
    """resnet()'s `conv_fn`: a k x k conv with stride s becomes a Conv3D (1, k, k) with strides
    (1, s, s), except the convs `temporal` names, which get its (temporal kernel, temporal
    stride). No bias, He init, 'same' padding (the official 3D code pads 'same' too)."""

    def conv(x, filters, kernel_size, strides=1, *, name, groups=1):
        kt, st = temporal.get(name, (1, 1))
        return keras.layers.Conv3D(
            filters,
            (kt, kernel_size, kernel_size),
            (st, strides, strides),
            padding="same",
            groups=groups,
            use_bias=False,
            kernel_initializer=he_init(),
            name=name,
        )(x)

    return conv


def space_max_pool(x, pool_size, strides, padding, *, name):
    """resnet()'s `max_pool_fn`: the stem pool over space only, strides (1, s, s)."""
    if padding != "tf":
        raise ValueError(f"padding={padding!r}: video stems pool with TF 'same' only.")
    window, steps = (1, pool_size, pool_size), (1, strides, strides)
    return keras.layers.MaxPooling3D(window, steps, padding="same", name=name)(x)


def space_avg_pool(x, pool_size, strides, *, name):
    """resnet()'s `avg_pool_fn` (the ResNet-D shortcut, off in the recipe): over space only."""
    window, steps = (1, pool_size, pool_size), (1, strides, strides)
    return keras.layers.AveragePooling3D(window, steps, padding="same", name=name)(x)


def gated_bottleneck(x, width, strides, *, name, gated: Sequence[str] = (), **kwargs):
    """The trunk's bottleneck (Model Garden's BottleneckBlock3D with the 3-D ops); the blocks
    named in `gated` end their branch with self-gating."""
    return bottleneck_block(x, width, strides, name=name, self_gating=name in gated, **kwargs)


@registry.forwards_to(resnet)
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
    blocks = [[f"stage{s + 2}_block{b + 1}" for b in range(n)] for s, n in enumerate(repeats)]
    # (temporal kernel, temporal stride) of the stem's first conv and of every block's conv1.
    temporal = {"stem_conv1": (stem_temporal_kernel, stem_temporal_stride)}
    for stage, kt in zip(blocks, temporal_kernels, strict=True):
        temporal.update({f"{block}_conv1": (kt, 1) for block in stage})
    gated = [stage[-1] for stage in blocks if stage] if self_gating else []
    return resnet(
        depth,
        block_repeats=repeats,
        block=gated_bottleneck,
        block_kwargs=dict(gated=gated),
        stem="deep",
        stem_pool="max",
        avg_down=False,
        se_ratio=se_ratio,
        stochastic_depth_rate=stochastic_depth_rate,
        dropout_rate=dropout_rate,
        conv_fn=space_time_conv(temporal),
        avg_pool_fn=space_avg_pool,
        max_pool_fn=space_max_pool,
        input_shape=input_shape,
        **kwargs,
    )


registry.register("resnetrs50_3d", resnet_rs_3d, family="video", depth=50)
