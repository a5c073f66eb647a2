"""One factory for every normalization layer, so any family swaps BN for GN with one argument.

`norm` is one of:
  batch       keras BatchNormalization (per-replica statistics under tf.distribute);
  sync_batch  BatchNormalization(synchronized=True): statistics across all replicas;
  group       GroupNormalization (Wu & He 2018) with 32 groups, or, where the channel count is
              not a multiple of 32, its largest divisor below 32 (e.g. 24 -> 24, 48 -> 24);
  none        identity (for normalizer-free networks, which scale their residuals instead).
"""

from __future__ import annotations

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
