"""The two padding conventions of strided windows: TF 'same' and PyTorch's symmetric padding.

  tf         TF 'same': a strided window on an even input pads (k-2)//2 before and k//2 after
             (0 and 1 for a 3x3/2 window); the convention of the official TF ResNet's max pool
             and of the official TF EfficientNet / MnasNet, hence of their checkpoints.
  symmetric  (k-1)//2 zeros on both sides, then a 'valid' window: PyTorch's `padding=k//2`,
             used by timm's PyTorch-trained weights and keras.applications' ResNet.

The two differ only for strided windows (a stride-1 'same' window with an odd kernel is
already symmetric). Zero padding before a max pool equals PyTorch's -inf padding only on
non-negative inputs, which is where the networks here pool (after a ReLU).
"""

from __future__ import annotations

import keras

PADDINGS = ("tf", "symmetric")


def check_padding(padding: str) -> str:
    if padding not in PADDINGS:
        raise ValueError(f"padding={padding!r} is not a known convention; use one of {PADDINGS}.")
    return padding


def pad_for_window(x, kernel_size: int, strides: int, padding: str, *, name: str):
    """(x, keras padding) for a window of `kernel_size`/`strides` under `padding`: symmetric
    strided windows get an explicit ZeroPadding2D named `{name}_pad` and pad 'valid'."""
    check_padding(padding)
    if padding == "symmetric" and strides > 1 and kernel_size > 1:
        before = (kernel_size - 1) // 2
        after = kernel_size - 1 - before
        x = keras.layers.ZeroPadding2D(((before, after),) * 2, name=f"{name}_pad")(x)
        return x, "valid"
    return x, "same"


def max_pool(x, pool_size: int, strides: int, padding: str, *, name: str):
    """MaxPooling2D under either convention (see the module docstring)."""
    x, keras_padding = pad_for_window(x, pool_size, strides, padding, name=name)
    return keras.layers.MaxPooling2D(pool_size, strides, padding=keras_padding, name=name)(x)
