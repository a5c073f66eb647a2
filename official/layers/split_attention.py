"""Split attention (ResNeSt, Zhang et al. 2020, section 3.1 and figure 2; docs/REFERENCE.md §1.4).

A grouped 3x3 conv produces `radix` splits of C channels each (within each, `cardinality`
groups); their sum is pooled, passed through two 1x1 convs (attention width max(C*R/4, 32)),
and a softmax across the radix (a sigmoid when radix is 1) weighs the splits, which are summed.
Channel layout is radix-major, as in the authors' code: split r holds channels [r*C, (r+1)*C).
"""

from __future__ import annotations

import keras
from keras import ops

from official.layers.grouped_conv import conv2d_class


def attention_filters(channels: int, radix: int, minimum: int = 32, divisor: int = 8) -> int:
    """max(C * R / 4, 32), rounded to a multiple of 8 as in the released models."""
    value = max(minimum, int(channels * radix * 0.25 + divisor / 2) // divisor * divisor)
    return value if value >= 0.9 * channels * radix * 0.25 else value + divisor


@keras.saving.register_keras_serializable(package="official")
class RadixPool(keras.layers.Layer):
    """[N, H, W, R*C] -> [N, 1, 1, C]: sum of the R splits, averaged over space."""

    def __init__(self, radix: int, **kwargs):
        super().__init__(**kwargs)
        self.radix = radix

    def call(self, x):
        channels = x.shape[-1] // self.radix
        pooled = ops.mean(x, axis=(1, 2))
        summed = ops.sum(ops.reshape(pooled, (-1, self.radix, channels)), axis=1)
        return ops.reshape(summed, (-1, 1, 1, channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, input_shape[-1] // self.radix)

    def get_config(self):
        return {**super().get_config(), "radix": self.radix}


@keras.saving.register_keras_serializable(package="official")
class SplitAttention(keras.layers.Layer):
    """Inputs [splits [N, H, W, R*C], logits [N, 1, 1, R*C]] -> [N, H, W, C].

    rSoftMax: the logits come grouped by cardinality (the 1x1 convs are grouped), so they are
    viewed as [N, K, R, C/K] and the softmax runs over R; radix 1 uses a sigmoid (SE gating).
    """

    def __init__(self, radix: int, cardinality: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.radix = radix
        self.cardinality = cardinality

    def call(self, inputs):
        splits, logits = inputs
        channels = splits.shape[-1] // self.radix
        if self.radix == 1:
            return splits * ops.sigmoid(logits)
        logits = ops.reshape(
            logits, (-1, self.cardinality, self.radix, channels // self.cardinality)
        )
        weights = ops.softmax(ops.transpose(logits, (0, 2, 1, 3)), axis=1)
        weights = ops.reshape(weights, (-1, 1, 1, self.radix, channels))
        height, width = ops.shape(splits)[1], ops.shape(splits)[2]
        splits = ops.reshape(splits, (-1, height, width, self.radix, channels))
        return ops.sum(splits * ops.cast(weights, splits.dtype), axis=3)

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        return (*shape[:-1], shape[-1] // self.radix)

    def get_config(self):
        return {**super().get_config(), "radix": self.radix, "cardinality": self.cardinality}


def split_attention_conv(x, filters, strides, *, radix, cardinality, conv, norm_act, name):
    """The split-attention 3x3 conv of a ResNeSt block on `x`, `filters` (C) channels out.
    conv: the trunk's conv helper (official/layers/conv.py); norm_act: official/layers/norm.py's,
    bound to the model's norm and activation."""
    splits = conv(x, filters * radix, 3, strides, groups=radix * cardinality, name=f"{name}_conv")
    splits = norm_act(splits, f"{name}_bn0", f"{name}_relu0")
    attention = attention_filters(filters, radix)
    gap = RadixPool(radix, name=f"{name}_pool")(splits)
    fc = conv2d_class(cardinality)
    gap = fc(attention, 1, groups=cardinality, name=f"{name}_fc1")(gap)
    gap = norm_act(gap, f"{name}_bn1", f"{name}_relu1")
    logits = fc(filters * radix, 1, groups=cardinality, name=f"{name}_fc2")(gap)
    return SplitAttention(radix, cardinality, name=f"{name}_attention")([splits, logits])
