"""The ImageNet normalization folded into the stem convolution, for LiteRT files (docs/litert.md).

A LiteRT file takes pixels and normalizes inside: (pixels - mean) / std per channel, then the
stem convolution. In a full-integer int8 file those two broadcast elementwise ops over the whole
image cost as much as a stem convolution (measured on mnasnet_a1 at 224 with XNNPACK: 0.60 ms of
4.6 ms; 0.35 ms of 9.0 ms in float32). Both fold into the convolution:

    conv(W, pad0((x - mean) / std)) + b  ==  conv(W / std, pad_mean(x)) + b - sum(W / std * mean)

where pad_mean pads the pixels with the mean pixel (whose normalized value is the 0 the model
pads with). LiteRT pads with one scalar only, so the mean-pixel border is built by concatenating
strips: a row or column sliced from the image, minus itself, plus the mean (a few hundred values).
The folded function computes the same logits as the model on normalized pixels, to float32
rounding (tests/serving/test_litert_stem.py).

Only a stem that is exactly a `keras.layers.Conv2D` (ungrouped, undilated, 'same' or 'valid'),
optionally after a ZeroPadding2D, fed by the input alone, is folded; any other first layer (e.g.
NFNet's weight-standardized convolution, whose standardization a scaled kernel would change)
keeps the normalization as its own ops.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras.src.models.functional import Functional  # (keras.Model builds one from tensors)

from official.data import preprocess


def _consumers(tensor, model) -> list:
    return [
        layer
        for layer in model.layers
        if any(tensor is t for node in layer._inbound_nodes for t in node.input_tensors)
    ]


def stem_layers(model) -> tuple | None:
    """(padding layer or None, stem Conv2D) when the model's input feeds a foldable stem alone,
    else None."""
    if not isinstance(model, Functional) or len(model.inputs) != 1:
        return None
    consumers = _consumers(model.inputs[0], model)
    if len(consumers) != 1:
        return None
    pad, conv = None, consumers[0]
    if type(conv) is keras.layers.ZeroPadding2D:
        pad, following = conv, _consumers(conv.output, model)
        if len(following) != 1:
            return None
        conv = following[0]
    foldable = (
        type(conv) is keras.layers.Conv2D
        and conv.groups == 1
        and tuple(conv.dilation_rate) == (1, 1)
        and conv.data_format == "channels_last"
        and conv.padding in ("same", "valid")
        and (pad is None or conv.padding == "valid")
        and (pad is None or pad.data_format == "channels_last")
    )
    return (pad, conv) if foldable else None


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same': the output has ceil(size / stride) positions, the extra row or
    column goes after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _mean_strips(x, axis: int, before: int, after: int, mean):
    """x with `before` and `after` rows (axis 1) or columns (axis 2) of the mean pixel."""
    if before == after == 0:
        return x
    one = x[:, :1] if axis == 1 else x[:, :, :1]
    # (one - one), not one * 0.0: a full-integer converter quantizes a constant 0 with a scale of
    # ~4e-9, XNNPACK refuses that MUL, and the int8 file then ran in three delegate partitions.
    strip = one - one + np.float32(mean)
    return tf.concat([strip] * before + [x] + [strip] * after, axis=axis)


def folded_logits(model, image_size: int, mean=preprocess.MEAN_RGB, std=preprocess.STDDEV_RGB):
    """A function pixels [N, size, size, 3] in 0..255 -> logits, with the normalization folded
    into the stem convolution (float32 model), or None when the stem cannot be folded. The
    returned function carries `.models` to track for export (they own its variables)."""
    found = stem_layers(model)
    if found is None:
        return None
    pad, conv = found
    try:
        rest = keras.Model(conv.output, model.output)
    except ValueError:  # the rest of the network reads the input again
        return None
    mean, std = np.float32(mean), np.float32(std)
    kernel = np.asarray(conv.kernel, np.float32) / std[None, None, :, None]
    bias = np.asarray(conv.bias, np.float32) if conv.use_bias else np.float32(0.0)
    bias = bias - np.einsum("hwio,i->o", kernel, mean)
    if pad is not None:
        (top, bottom), (left, right) = pad.padding
    elif conv.padding == "same":
        top, bottom = _same_padding(image_size, conv.kernel_size[0], conv.strides[0])
        left, right = _same_padding(image_size, conv.kernel_size[1], conv.strides[1])
    else:
        top = bottom = left = right = 0

    def logits(images):
        x = tf.cast(images, tf.float32)
        x = _mean_strips(_mean_strips(x, 2, left, right, mean), 1, top, bottom, mean)
        y = tf.nn.conv2d(x, kernel, strides=conv.strides, padding="VALID") + bias
        return tf.cast(rest(conv.activation(y), training=False), tf.float32)

    logits.models = (model, rest)
    return logits
