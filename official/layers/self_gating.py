"""Self-gating (Xie et al. 2018, S3D-G): rescale channels by sigmoid(W mean(x) + b).

Squeeze-and-excitation without the bottleneck: one 1x1x1 conv with bias on the spatio-temporal
mean, a sigmoid, a product. TF Model Garden's 3D ResNet-RS puts one in the last block of every
stage (docs/video.md).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="official")
class SelfGating(keras.layers.Layer):
    """x * sigmoid(Dense(mean of x over every axis but batch and channels)).

    The Dense layer is the 1x1x1 conv of the official code on the pooled vector (same weights);
    its kernel starts from a truncated normal of stddev 0.01, as there.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.transform = keras.layers.Dense(
            channels,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.01),
            name="transform",
            dtype=self.dtype_policy,
        )
        self.transform.build((None, channels))

    def call(self, inputs):
        axes = tuple(range(1, len(inputs.shape) - 1))
        gate = ops.sigmoid(self.transform(ops.mean(inputs, axis=axes)))
        return inputs * ops.reshape(gate, (-1,) + (1,) * len(axes) + (gate.shape[-1],))

    def compute_output_shape(self, input_shape):
        return input_shape
