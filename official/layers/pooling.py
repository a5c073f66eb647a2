"""'same' average pooling that averages over the input positions only, on every Keras backend."""

from __future__ import annotations

import keras
from keras import ops


def mean_over_inputs(x, pool_size: int, strides: int):
    """Each window's sum over the positions inside x, divided by how many there are: TensorFlow's
    and JAX's 'same' average pooling, written as two convolutions with a ones kernel. A
    convolution pads with zeros on every backend, which is right for a sum and for a count."""
    channels = x.shape[-1]
    kernel = ops.ones((pool_size, pool_size, channels, 1), dtype=x.dtype)
    sums = ops.depthwise_conv(x, kernel, strides, padding="same", data_format="channels_last")
    ones = ops.ones_like(x[..., :1])
    count_kernel = ops.ones((pool_size, pool_size, 1, 1), dtype=x.dtype)
    counts = ops.conv(ones, count_kernel, strides, padding="same", data_format="channels_last")
    return sums / counts


@keras.saving.register_keras_serializable(package="official")
class SameAveragePooling2D(keras.layers.Layer):
    """AveragePooling2D(pool_size, strides, padding='same'), channels last, with the same result
    on TensorFlow, JAX and PyTorch: a window on the border averages the inputs it covers.

    Keras' PyTorch backend (keras 3.15, backend/torch/nn.py `average_pool`) pads an uneven 'same'
    border itself, by replicating the edge row and column, before torch's avg_pool2d; the copies
    then count as inputs (a 3x3/2 window on the last row of an even-sized input averages (a+b+b)/3
    instead of (a+b)/2). On that backend this layer computes the mean with `mean_over_inputs`;
    elsewhere it is Keras' own average pool. A window no larger than its stride (the 2x2/2 pools
    of ResNet-D and NF-ResNets) is not affected: the copy repeats the one row it pads.
    """

    def __init__(self, pool_size: int = 3, strides: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = pool_size
        self.strides = strides

    def call(self, x):
        if keras.backend.backend() == "torch":
            return mean_over_inputs(x, self.pool_size, self.strides)
        return ops.average_pool(
            x, self.pool_size, self.strides, padding="same", data_format="channels_last"
        )

    def compute_output_shape(self, input_shape):
        def size(d):
            return None if d is None else -(-d // self.strides)

        return (input_shape[0], size(input_shape[1]), size(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}
