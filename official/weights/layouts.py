"""Layout changes between frameworks, and the exact folds a conversion may need (NumPy only).

PyTorch stores a conv kernel as [out, in/groups, kh, kw] and a depthwise one as
[channels, 1, kh, kw]; Keras as [kh, kw, in/groups, out] and [kh, kw, channels, 1]. A Linear
weight is [out, in], a Dense kernel [in, out]; an SE projection written as a 1x1 conv in the
source ([out, in, 1, 1]) is a Dense kernel here.
"""

from __future__ import annotations

import numpy as np


def identity(x: np.ndarray) -> np.ndarray:
    return x


def torch_conv(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 1, 0))


def torch_depthwise(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (2, 3, 0, 1))


def torch_dense(w: np.ndarray) -> np.ndarray:
    """Linear [out, in] or 1x1 conv [out, in, 1, 1] -> Dense [in, out]."""
    if w.ndim == 4 and w.shape[2:] == (1, 1):
        w = w[:, :, 0, 0]
    return np.transpose(w) if w.ndim == 2 else w


def flatten(w: np.ndarray) -> np.ndarray:
    """A per-channel vector stored with singleton axes (timm's WS gain [out, 1, 1, 1])."""
    return w.reshape(-1)


def conv_1x1_to_dense(w: np.ndarray) -> np.ndarray:
    """A Keras 1x1 conv kernel [1, 1, in, out] -> Dense [in, out]."""
    if w.ndim == 4 and w.shape[:2] == (1, 1):
        return w[0, 0]
    return w


def fold_bias_into_mean(moving_mean: np.ndarray, conv_bias: np.ndarray) -> np.ndarray:
    """BN(conv(x) + b) with mean m equals BN(conv(x)) with mean m - b: the conv's bias moves
    into the batch norm that follows it, exactly (every other BN quantity is unchanged)."""
    return moving_mean - conv_bias


def fold_input(kernel: np.ndarray, scale: np.ndarray, order: np.ndarray | None = None):
    """The stem kernel for inputs x' where the source saw x[order] * scale per channel.

    A source stem conv W applied to s * x[order] (its own channel order and scale) equals a conv
    with W'[..., order[c], :] = s[c] * W[..., c, :] applied to x; zero padding stays zero, so
    the fold is exact at the borders too.
    """
    folded = kernel * np.asarray(scale, kernel.dtype).reshape(1, 1, -1, 1)
    if order is None:
        return folded
    result = np.empty_like(folded)
    result[:, :, np.asarray(order), :] = folded
    return result
