"""The convolution of every ResNet-style family: no bias, He init, symmetric padding if strided."""

from __future__ import annotations

import keras

from official.layers.grouped_conv import conv2d_class
from official.layers.weight_standardization import StandardizedConv2D


def he_init() -> keras.initializers.Initializer:
    """He et al. 2015 ("Delving deep into rectifiers"): variance 2 / fan_in, truncated normal.

    A new initializer for every layer: Keras draws an initializer's seed once, when it is
    created, from Python's `random` (which `keras.utils.set_random_seed` seeds), so one shared
    instance would give every kernel of the same shape the same values, and one created at import
    time would not follow the run's seed (docs/distributed.md, "Seeding").
    """
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="truncated_normal"
    )


def conv2d(
    x,
    filters: int,
    kernel_size: int,
    strides: int = 1,
    *,
    name: str,
    groups: int = 1,
    weight_standardization: bool = False,
):
    """Conv2D on `x` (official/layers/grouped_conv.py's GroupedConv2D when grouped).

    A strided conv pads (k-1)//2 before and the rest after, like the official TF ResNet
    (`fixed_padding`) and PyTorch, not TF 'same', which pads mostly after when strided.
    """
    padding = "same"
    if strides > 1 and kernel_size > 1:
        total = kernel_size - 1
        before = total // 2
        x = keras.layers.ZeroPadding2D(((before, total - before),) * 2, name=f"{name}_pad")(x)
        padding = "valid"
    conv = StandardizedConv2D if weight_standardization else conv2d_class(groups)
    return conv(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        groups=groups,
        use_bias=False,
        kernel_initializer=he_init(),
        name=name,
    )(x)
