"""One factory for every normalization layer, so any family swaps BN for GN with one argument.

`norm_layer(norm, channels, name=...)` makes the layer; `norm_act` applies it and an optional
activation, the pair most blocks repeat. `norm` is one of:
  batch       keras BatchNormalization (per-replica statistics under tf.distribute);
  sync_batch  BatchNormalization(synchronized=True): statistics across all replicas;
  group       GroupNormalization (Wu & He 2018) with 32 groups, or, where the channel count is
              not a multiple of 32, its largest divisor below 32 (e.g. 24 -> 24, 48 -> 24);
  none        identity (for normalizer-free networks, which scale their residuals instead).
"""

from __future__ import annotations

from collections.abc import Callable

import keras

NORMS = ("batch", "sync_batch", "group", "none")


def group_count(channels: int, groups: int = 32) -> int:
    """The largest divisor of `channels` that is at most `groups` (GN needs groups | channels)."""
    for g in range(min(groups, channels), 0, -1):
        if channels % g == 0:
            return g
    return 1


def norm_layer(
    norm: str,
    channels: int,
    *,
    name: str,
    zero_init: bool = False,
    momentum: float = 0.9,
    epsilon: float = 1e-5,
    groups: int = 32,
) -> keras.layers.Layer:
    """A normalization layer over the last axis of a `channels`-wide tensor.

    zero_init starts gamma at 0 ("zero-gamma", Goyal et al. 2017; Bag of Tricks 3.1): the residual
    branch ending in this layer then outputs zero, so a fresh block is the identity on its shortcut.
    It has no effect with norm='none', which has no gamma.
    """
    gamma = "zeros" if zero_init else "ones"
    if norm in ("batch", "sync_batch"):
        return keras.layers.BatchNormalization(
            momentum=momentum,
            epsilon=epsilon,
            gamma_initializer=gamma,
            synchronized=norm == "sync_batch",
            name=name,
        )
    if norm == "group":
        return keras.layers.GroupNormalization(
            groups=group_count(channels, groups),
            epsilon=epsilon,
            gamma_initializer=gamma,
            name=name,
        )
    if norm == "none":
        return keras.layers.Identity(name=name)
    raise ValueError(f"norm={norm!r} is not a known normalization; use one of {NORMS}.")


def norm_act(
    x,
    name: str,
    act_name: str | None = None,
    *,
    zero_init: bool = False,
    norm: str = "batch",
    activation: str | Callable = "relu",
    momentum: float = 0.9,
    epsilon: float = 1e-5,
    groups: int = 32,
):
    """`norm_layer` over x's channels, named `name`; then, when `act_name` is given, the
    activation layer of that name: keras.layers.Activation(activation) for a string, else
    `activation(name=act_name)` (a layer class such as keras.layers.ReLU).

    A model binds its settings once, e.g. functools.partial(norm_act, norm=norm,
    momentum=bn_momentum, epsilon=bn_epsilon, activation=activation), and each call site names
    its layers only: `y = norm_act(y, "stage2_block1_bn1", "stage2_block1_relu1")`.
    """
    layer = norm_layer(
        norm,
        x.shape[-1],
        name=name,
        zero_init=zero_init,
        momentum=momentum,
        epsilon=epsilon,
        groups=groups,
    )
    x = layer(x)
    if act_name is None:
        return x
    if isinstance(activation, str):
        return keras.layers.Activation(activation, name=act_name)(x)
    return activation(name=act_name)(x)
