"""Squeeze-and-excitation (Hu et al. 2018): rescale channels by a gate computed from their means."""

from __future__ import annotations

import keras
from keras import ops


def se_filters(channels: int, ratio: float) -> int:
    """The bottleneck width of an SE module: max(1, int(channels * ratio))
    (docs/REFERENCE.md §1.2)."""
    return max(1, int(channels * ratio))


@keras.saving.register_keras_serializable(package="official")
class SqueezeExcite(keras.layers.Layer):
    """x * gate(W2 act(W1 mean(x))) over the spatial (or spatio-temporal) axes.

    The two projections are 1x1 convolutions with bias; on the pooled vector they are written as
    Dense layers (same weights, any input rank). `reduced_filters` is absolute, because families
    differ in what the ratio applies to: ResNet uses the block output, EfficientNet the block input.
    """

    def __init__(self, reduced_filters: int, activation="relu", gate="sigmoid", gain=1.0, **kwargs):
        super().__init__(**kwargs)
        self.reduced_filters = reduced_filters
        self.activation = activation
        self.gate = gate
        # NFNets multiply the gate by 2 so that the block keeps its output scale at init.
        self.gain = gain

    def build(self, input_shape):
        channels = input_shape[-1]
        self.reduce = keras.layers.Dense(
            self.reduced_filters, activation=self.activation, name="reduce", dtype=self.dtype_policy
        )
        self.expand = keras.layers.Dense(
            channels, activation=self.gate, name="expand", dtype=self.dtype_policy
        )
        self.reduce.build((None, channels))
        self.expand.build((None, self.reduced_filters))

    def call(self, inputs):
        spatial_axes = tuple(range(1, len(inputs.shape) - 1))
        squeezed = ops.mean(inputs, axis=spatial_axes)
        scale = self.expand(self.reduce(squeezed))
        if self.gain != 1.0:
            scale = scale * ops.cast(self.gain, scale.dtype)
        return inputs * ops.reshape(scale, (-1,) + (1,) * len(spatial_axes) + (scale.shape[-1],))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "reduced_filters": self.reduced_filters,
            "activation": self.activation,
            "gate": self.gate,
            "gain": self.gain,
        }
