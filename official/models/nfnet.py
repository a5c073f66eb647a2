"""Normalizer-free networks: NF-ResNet (Brock et al. 2021a) and NFNet-F0..F6 (2021b);
docs/REFERENCE.md §1.6.

No normalization layer anywhere. Each residual block computes
    h_{i+1} = h_i + alpha * f_i(h_i / beta_i),
with beta_i = sqrt(Var(h_i)) predicted analytically: the expected variance starts at 1 after
every transition block (whose shortcut also takes h_i / beta_i) and grows by alpha^2 per block.
Convolutions are scaled weight-standardized (official/layers/weight_standardization.py),
activations are gamma-scaled to preserve variance, and each branch ends in a SkipInit gain
(init 0). Layers are named stage{s}_block{k}_* as in resnet.py.
"""

from __future__ import annotations

import functools
import math

import keras

from official.layers import SqueezeExcite, StandardizedConv2D, StochasticDepth
from official.layers.activations import ScaledActivation, SkipInitGain
from official.layers.head import classifier_head
from official.models import registry

# NFNet-F0..F6 (NFNets, table 7): blocks per stage = [1, 2, 6, 3] * N, dropout, train/test size.
NFNET_VARIANTS = {
    "F0": dict(multiplier=1, dropout_rate=0.2, train_size=192, test_size=256),
    "F1": dict(multiplier=2, dropout_rate=0.3, train_size=224, test_size=320),
    "F2": dict(multiplier=3, dropout_rate=0.4, train_size=256, test_size=352),
    "F3": dict(multiplier=4, dropout_rate=0.4, train_size=320, test_size=416),
    "F4": dict(multiplier=5, dropout_rate=0.5, train_size=384, test_size=512),
    "F5": dict(multiplier=6, dropout_rate=0.5, train_size=416, test_size=544),
    "F6": dict(multiplier=7, dropout_rate=0.5, train_size=448, test_size=576),
}
NFNET_WIDTHS = (256, 512, 1536, 1536)
NFNET_BLOCKS = (1, 2, 6, 3)
NF_RESNET_BLOCKS = {26: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def _ws_conv(
    filters, kernel_size, strides=1, groups=1, use_bias=True, name=None, *, eps=1e-4, eps_mode="max"
):
    """Scaled WS conv with TF 'same' padding (the released JAX models' padding)."""
    return StandardizedConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        groups=groups,
        use_bias=use_bias,
        scaled=True,
        eps=eps,
        eps_mode=eps_mode,
        name=name,
        kernel_initializer=keras.initializers.VarianceScaling(1.0, "fan_in", "normal"),
    )


def _residual(x, branch, shortcut, *, alpha, drop_rate, name):
    """shortcut + alpha * skip_gain * (stochastic depth of) branch."""
    if drop_rate:
        branch = StochasticDepth(drop_rate, name=f"{name}_drop")(branch)
    branch = SkipInitGain(name=f"{name}_skip_gain")(branch)
    branch = keras.layers.Rescaling(alpha, name=f"{name}_alpha")(branch)
    return keras.layers.Add(name=f"{name}_out")([branch, shortcut])


def nf_block(
    x,
    out_channels,
    strides,
    *,
    beta,
    alpha,
    activation,
    expansion,
    group_width,
    se_ratio,
    drop_rate,
    name,
    conv=_ws_conv,
):
    """NFNet block (NFNets, figure 5): 1x1, grouped 3x3, grouped 3x3, 1x1, SE (x2), SkipInit.
    A strided block's shortcut average-pools 2x2 before its 1x1 conv."""
    act = functools.partial(ScaledActivation, activation)
    width = int(out_channels * expansion)
    groups = max(1, width // group_width)
    pre = act(scale=beta, name=f"{name}_preact")(x)  # g(h / beta), gamma-scaled
    shortcut = x
    if strides > 1 or x.shape[-1] != out_channels:
        shortcut = pre
        if strides > 1:
            shortcut = keras.layers.AveragePooling2D(
                2, strides, padding="same", name=f"{name}_shortcut_pool"
            )(shortcut)
        shortcut = conv(out_channels, 1, name=f"{name}_shortcut_conv")(shortcut)
    y = conv(width, 1, name=f"{name}_conv0")(pre)
    y = conv(width, 3, strides, groups, name=f"{name}_conv1")(act(name=f"{name}_act1")(y))
    y = conv(width, 3, 1, groups, name=f"{name}_conv1b")(act(name=f"{name}_act1b")(y))
    y = conv(out_channels, 1, name=f"{name}_conv2")(act(name=f"{name}_act2")(y))
    if se_ratio:
        y = SqueezeExcite(max(1, int(out_channels * se_ratio)), gain=2.0, name=f"{name}_se")(y)
    return _residual(x, y, shortcut, alpha=alpha, drop_rate=drop_rate, name=name)


def nf_resnet_block(
    x,
    out_channels,
    strides,
    *,
    beta,
    alpha,
    activation,
    se_ratio,
    drop_rate,
    name,
    bottleneck_ratio=0.25,
    conv=_ws_conv,
    **_,
):
    """NF-ResNet pre-activation bottleneck (NF-ResNets, figure 2): 1x1, 3x3, 1x1, SkipInit; a
    transition block's 1x1 strided shortcut conv takes g(h / beta)."""
    act = functools.partial(ScaledActivation, activation)
    width = int(out_channels * bottleneck_ratio)
    pre = act(scale=beta, name=f"{name}_preact")(x)
    shortcut = x
    if strides > 1 or x.shape[-1] != out_channels:
        shortcut = conv(out_channels, 1, strides, name=f"{name}_shortcut_conv")(pre)
    y = conv(width, 1, name=f"{name}_conv0")(pre)
    y = conv(width, 3, strides, name=f"{name}_conv1")(act(name=f"{name}_act1")(y))
    y = conv(out_channels, 1, name=f"{name}_conv2")(act(name=f"{name}_act2")(y))
    if se_ratio:
        y = SqueezeExcite(max(1, int(out_channels * se_ratio)), gain=2.0, name=f"{name}_se")(y)
    return _residual(x, y, shortcut, alpha=alpha, drop_rate=drop_rate, name=name)


def _stages(x, block_fn, widths, repeats, *, alpha, stochastic_depth_rate, **block_kwargs):
    """Runs the blocks with the expected-variance bookkeeping (NF-ResNets, section 3)."""
    expected_var = 1.0
    total, index = sum(repeats), 0
    for stage, (width, count) in enumerate(zip(widths, repeats, strict=True)):
        for block in range(count):
            beta = 1.0 / math.sqrt(expected_var)
            x = block_fn(
                x,
                width,
                2 if block == 0 and stage > 0 else 1,
                beta=beta,
                alpha=alpha,
                drop_rate=stochastic_depth_rate * index / total,
                name=f"stage{stage + 2}_block{block + 1}",
                **block_kwargs,
            )
            if block == 0:
                expected_var = 1.0  # a transition block's shortcut resets the variance
            expected_var += alpha**2
            index += 1
    return x


def nfnet(
    variant: str = "F0",
    *,
    block_repeats=None,
    width_multiplier: float = 1.0,
    alpha: float = 0.2,
    se_ratio: float = 0.5,
    group_width: int = 128,
    expansion: float = 0.5,
    activation: str = "gelu",
    stochastic_depth_rate: float = 0.1,
    dropout_rate: float | None = None,
    final_conv_multiplier: float = 2.0,
    ws_epsilon: float = 1e-4,
    ws_epsilon_mode: str = "max",
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    input_shape: tuple = (None, None, 3),
    classifier_activation: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """NFNet-F0..F6: stem 16/2, 32, 64, 128/2 (3x3); stages [256, 512, 1536, 1536] with
    [1, 2, 6, 3] x N blocks (or block_repeats); a final 1x1 conv to 2 x 1536; GELU; dropout per
    variant.
    activation: 'gelu' (tanh form, DeepMind's) or 'gelu_exact' (erf, timm's ports);
    ws_epsilon / ws_epsilon_mode: the scaled-WS eps and how it meets the variance ('max',
    DeepMind's max(var * fan_in, eps); 'add', timm's (var + eps) * fan_in): the switches that
    reproduce timm's `dm_nfnet_*` (docs/weights.md)."""
    if variant not in NFNET_VARIANTS:
        raise ValueError(f"variant={variant!r}; NFNets are {sorted(NFNET_VARIANTS)}.")
    spec = NFNET_VARIANTS[variant]
    scaled = lambda w: max(1, int(w * width_multiplier))  # noqa: E731
    act = functools.partial(ScaledActivation, activation)
    conv = functools.partial(_ws_conv, eps=ws_epsilon, eps_mode=ws_epsilon_mode)
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for i, (filters, strides) in enumerate([(16, 2), (32, 1), (64, 1), (128, 2)]):
        x = conv(scaled(filters), 3, strides, name=f"stem_conv{i}")(x)
        if i < 3:
            x = act(name=f"stem_act{i}")(x)
    repeats = block_repeats or [n * spec["multiplier"] for n in NFNET_BLOCKS]
    widths = [scaled(w) for w in NFNET_WIDTHS]
    x = _stages(
        x,
        nf_block,
        widths,
        repeats,
        alpha=alpha,
        stochastic_depth_rate=stochastic_depth_rate,
        activation=activation,
        expansion=expansion,
        group_width=scaled(group_width),
        se_ratio=se_ratio,
        conv=conv,
    )
    x = conv(int(widths[-1] * final_conv_multiplier), 1, name="final_conv")(x)
    x = act(name="final_act")(x)
    dropout = spec["dropout_rate"] if dropout_rate is None else dropout_rate
    x = classifier_head(
        x,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        dropout_rate=dropout,
        classifier_activation=classifier_activation,
        kernel_initializer="zeros",  # as the released NFNets
    )
    return keras.Model(inputs, x, name=name or f"nfnet_{variant.lower()}")


def nf_resnet(
    depth: int = 50,
    *,
    block_repeats=None,
    width_multiplier: float = 1.0,
    alpha: float = 0.2,
    se_ratio: float = 0.0,
    activation: str = "relu",
    stochastic_depth_rate: float = 0.1,
    dropout_rate: float = 0.25,
    ws_epsilon: float = 1e-4,
    ws_epsilon_mode: str = "max",
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    input_shape: tuple = (None, None, 3),
    classifier_activation: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """NF-ResNet-26/50/101: 7x7/2 stem (no bias) + 3x3/2 max pool, pre-activation bottlenecks of
    widths 256..2048, a final scaled activation; se_ratio > 0 adds SE (x2) to every block."""
    if block_repeats is None and depth not in NF_RESNET_BLOCKS:
        raise ValueError(f"depth={depth}; NF-ResNets are {sorted(NF_RESNET_BLOCKS)} deep.")
    repeats = tuple(block_repeats or NF_RESNET_BLOCKS[depth])
    scaled = lambda w: max(1, int(w * width_multiplier))  # noqa: E731
    conv = functools.partial(_ws_conv, eps=ws_epsilon, eps_mode=ws_epsilon_mode)
    inputs = keras.Input(shape=input_shape)
    x = conv(scaled(64), 7, 2, use_bias=False, name="stem_conv1")(inputs)
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)
    widths = [scaled(w) for w in (256, 512, 1024, 2048)]
    x = _stages(
        x,
        nf_resnet_block,
        widths,
        repeats,
        alpha=alpha,
        stochastic_depth_rate=stochastic_depth_rate,
        activation=activation,
        se_ratio=se_ratio,
        conv=conv,
    )
    x = ScaledActivation(activation, name="final_act")(x)
    x = classifier_head(
        x,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        dropout_rate=dropout_rate,
        classifier_activation=classifier_activation,
        kernel_initializer="zeros",
    )
    return keras.Model(inputs, x, name=name or f"nf_resnet{depth}")


for _depth in NF_RESNET_BLOCKS:
    registry.register(f"nf_resnet{_depth}", nf_resnet, family="nfnet", depth=_depth)
for _variant in NFNET_VARIANTS:
    registry.register(f"nfnet_{_variant.lower()}", nfnet, family="nfnet", variant=_variant)
