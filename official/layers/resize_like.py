"""Bilinear resize of one tensor to the spatial size of another (decoder-style skip merges)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="official")
class ResizeLike(keras.layers.Layer):
    """[x, reference] -> x resized (bilinear) to reference's height and width.

    The resize runs in float32 and its result is cast back to x's dtype. TF's bilinear resize
    returns float32 for a bfloat16 input and its gradient comes back float32 too, so a bfloat16
    model would feed float32 into bfloat16 ops, which XLA rejects ("mixed precision is
    disallowed"); with the explicit casts every gradient keeps its forward dtype.
    """

    def call(self, inputs):
        x, reference = inputs
        size = ops.shape(reference)[1:3]
        resized = keras.ops.image.resize(ops.cast(x, "float32"), size, interpolation="bilinear")
        return ops.cast(resized, x.dtype)

    def compute_output_shape(self, input_shape):
        x, reference = input_shape
        return (x[0], reference[1], reference[2], x[-1])
