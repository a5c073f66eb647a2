"""Residual Attention Network, Attention-56 and Attention-92 (Wang et al. 2017;
docs/REFERENCE.md §1.7).

Pre-activation bottleneck residual units; each attention module has a trunk branch T (t = 2
units) and a bottom-up / top-down soft mask branch M (max-pool down, r = 1 unit per level,
bilinear up, skip connections between matching resolutions, two 1x1 convs and a sigmoid); the
module outputs (1 + M(x)) * T(x) (attention residual learning, eq. 3), with p = 1 unit before
and after. Stage 1 modules descend three levels (two skips), stage 2 two, stage 3 one.
Both networks have exactly the parameter counts of the authors' released Caffe definitions
(31,810,728 and 52,466,344; the paper's table says 31.9M and 51.3M).
"""

from __future__ import annotations

import functools

import keras

from official.layers import norm_act
from official.layers.head import classifier_head
from official.layers.resize_like import ResizeLike
from official.models import registry

# Attention modules per stage (table 2): Attention-56 and Attention-92.
MODULES = {56: (1, 1, 1), 92: (1, 2, 3)}
STAGE_WIDTHS = (256, 512, 1024)
MASK_LEVELS = (3, 2, 1)


def residual_unit(x, out_channels, strides=1, *, norm_act, name):
    """Pre-activation bottleneck (He et al. 2016): BN-ReLU-conv 1x1, 3x3, 1x1 (out / 4 inside)."""
    conv = functools.partial(keras.layers.Conv2D, use_bias=False, padding="same")
    mid = out_channels // 4
    pre = norm_act(x, f"{name}_bn1", f"{name}_relu1")
    shortcut = x
    if strides > 1 or x.shape[-1] != out_channels:
        shortcut = conv(out_channels, 1, strides, name=f"{name}_shortcut_conv")(pre)
    y = conv(mid, 1, name=f"{name}_conv1")(pre)
    y = norm_act(y, f"{name}_bn2", f"{name}_relu2")
    y = conv(mid, 3, strides, name=f"{name}_conv2")(y)
    y = norm_act(y, f"{name}_bn3", f"{name}_relu3")
    y = conv(out_channels, 1, name=f"{name}_conv3")(y)
    return keras.layers.Add(name=f"{name}_out")([y, shortcut])


def attention_module(x, channels, levels, *, norm_act, name, p=1, t=2, r=1):
    """(1 + M) * T with a mask branch of `levels` down-samplings (levels - 1 skip connections)."""
    unit = functools.partial(residual_unit, norm_act=norm_act)
    for i in range(p):
        x = unit(x, channels, name=f"{name}_pre{i + 1}")
    trunk = x
    for i in range(t):
        trunk = unit(trunk, channels, name=f"{name}_trunk{i + 1}")

    # Bottom-up: each level max-pools and refines; all but the deepest keep a skip branch.
    down, skips, level_inputs = x, [], []
    for level in range(levels):
        down = keras.layers.MaxPooling2D(3, 2, padding="same", name=f"{name}_down{level + 1}")(down)
        for i in range(r):
            down = unit(down, channels, name=f"{name}_mask_down{level + 1}_{i + 1}")
        if level < levels - 1:
            level_inputs.append(down)
            skips.append(unit(down, channels, name=f"{name}_skip{level + 1}"))
    # The deepest level has 2r units (r before and r after the bottom, as in the paper's code).
    for i in range(r):
        down = unit(down, channels, name=f"{name}_mask_bottom{i + 1}")
    # Top-down: up-sample, add the same-resolution features and the skip, refine.
    up = down
    for level in reversed(range(levels - 1)):
        up = ResizeLike(name=f"{name}_up{level + 2}")([up, level_inputs[level]])
        up = keras.layers.Add(name=f"{name}_merge{level + 2}")(
            [up, level_inputs[level], skips[level]]
        )
        for i in range(r):
            up = unit(up, channels, name=f"{name}_mask_up{level + 2}_{i + 1}")
    up = ResizeLike(name=f"{name}_up1")([up, trunk])
    up = keras.layers.Add(name=f"{name}_merge1")([up, trunk])
    mask = up
    for i in (1, 2):
        mask = norm_act(mask, f"{name}_mask_bn{i}", f"{name}_mask_relu{i}")
        mask = keras.layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_mask_conv{i}")(mask)
    mask = keras.layers.Activation("sigmoid", name=f"{name}_mask")(mask)

    # Attention residual learning: H = (1 + M) * T = T + M * T.
    attended = keras.layers.Multiply(name=f"{name}_attend")([mask, trunk])
    x = keras.layers.Add(name=f"{name}_out")([trunk, attended])
    for i in range(p):
        x = unit(x, channels, name=f"{name}_post{i + 1}")
    return x


def residual_attention_network(
    depth: int = 56,
    *,
    modules=None,
    width_multiplier: float = 1.0,
    bn_momentum: float = 0.9,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    input_shape: tuple = (None, None, 3),
    classifier_activation: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """Attention-56 / -92: conv 7x7/2 64, max pool, then per stage a residual unit (strided from
    stage 2 on) and its attention modules, three units at 2048, BN-ReLU, pooling, classifier."""
    if modules is None and depth not in MODULES:
        raise ValueError(f"depth={depth}; Residual Attention Networks are {sorted(MODULES)}.")
    modules = modules or MODULES[depth]
    bn_relu = functools.partial(
        norm_act, momentum=bn_momentum, epsilon=1e-5, activation=keras.layers.ReLU
    )
    unit = functools.partial(residual_unit, norm_act=bn_relu)
    module = functools.partial(attention_module, norm_act=bn_relu)
    scaled = lambda c: max(4, int(c * width_multiplier))  # noqa: E731
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Conv2D(scaled(64), 7, 2, padding="same", use_bias=False, name="stem_conv1")(
        inputs
    )
    x = bn_relu(x, "stem_bn", "stem_relu")
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
    for stage, (width, count, levels) in enumerate(
        zip(STAGE_WIDTHS, modules, MASK_LEVELS, strict=True)
    ):
        x = unit(x, scaled(width), 1 if stage == 0 else 2, name=f"stage{stage + 2}_unit")
        for m in range(count):
            x = module(x, scaled(width), levels, name=f"stage{stage + 2}_attention{m + 1}")
    for i in range(3):
        x = unit(x, scaled(2048), 2 if i == 0 else 1, name=f"stage5_unit{i + 1}")
    x = bn_relu(x, "final_bn", "final_relu")
    x = classifier_head(
        x,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, x, name=name or f"attention{depth}")


for _depth in MODULES:
    registry.register(
        f"attention{_depth}", residual_attention_network, family="attention", depth=_depth
    )
