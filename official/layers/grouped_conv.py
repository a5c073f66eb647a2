"""Grouped convolution (ResNeXt, Xie et al. 2017, section 3.3) that is fast on every device.

A grouped conv splits the C input channels and the F filters into `groups` slices and convolves
slice i of the input with slice i of the filters. The fused op (`ops.conv` with a kernel of
C / groups input channels) is fast on GPU and TPU and in PyTorch, but on a CPU TensorFlow's
(which Keras compiles with XLA) and JAX's are 125-305 times slower forward+backward than the same
work written as `groups` ordinary convolutions (benchmarks/RESULTS.md, "Grouped convolution").
Where the op lands on a CPU, `grouped_convolution` therefore convolves each slice and
concatenates; groups == C (one input channel per group) becomes a depthwise conv with F / C
multipliers, which is the same computation, channel for channel.

The choice is made when the op is traced, per backend (`fused_is_slow`):
  TensorFlow  the device the op is placed on: an eager input's device, else the device scope a
              new op gets (`tf.device`, or a tf.distribute replica's); with neither, TensorFlow's
              placer puts it on a GPU or TPU when one is visible, so the fused op is used then.
  JAX         the default backend's platform ('cpu' -> per group).
  PyTorch     always fused (its CPU grouped conv is fast).
An export is traced too, so a SavedModel or LiteRT file holds the form chosen where it was
written: exported on a CPU host, the per-group form (correct everywhere; on a GPU server the
fused op would be faster), exported where a GPU is visible, the fused op (slow if it is then
served on a CPU). Export on the kind of device that will serve when speed matters.
"""

from __future__ import annotations

import keras
from keras import ops


def _tensorflow_op_on_cpu(x) -> bool:
    import tensorflow as tf

    # An eager tensor knows where it is; in a graph, a new op's requested device is the scope's.
    device = x.device if tf.executing_eagerly() else tf.no_op().device
    device_type = tf.DeviceSpec.from_string(device).device_type if device else None
    if device_type:
        return device_type == "CPU"
    return not (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def fused_is_slow(x) -> bool:
    """Whether `groups` separate convolutions beat the fused grouped op where `x` is computed."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        # benchmarks/grouped_conv.py (3x3, 32 groups, 256 ch, 28x28, batch 16): 15.3 s fused, 50 ms.
        return _tensorflow_op_on_cpu(x)
    if backend == "jax":
        import jax

        # The same case, JAX 0.10.2 on CPU: 15.1 s fused, 120 ms per group.
        return jax.default_backend() == "cpu"
    # PyTorch 2.13 on CPU, the same case: 112 ms fused, 201 ms per group. Others: not measured.
    return False


def grouped_convolution(
    x,
    kernel,
    *,
    groups: int,
    strides=1,
    padding: str = "valid",
    dilation_rate=1,
    data_format: str | None = None,
    per_group: bool | None = None,
):
    """`ops.conv` of `x` with `kernel` [kh, kw, C / groups, F] in `groups` groups.

    per_group: True convolves slice by slice, False uses the fused op, None decides by
    `fused_is_slow(x)`.
    """
    if per_group is None:
        per_group = groups > 1 and fused_is_slow(x)
    conv = dict(strides=strides, padding=padding, dilation_rate=dilation_rate)
    if not per_group:
        return ops.conv(x, kernel, data_format=data_format, **conv)
    axis = -1 if (data_format or keras.config.image_data_format()) == "channels_last" else 1
    channels, filters = x.shape[axis], kernel.shape[-1]
    if groups == channels:
        # Group c's F / C filters are output channels [c * F / C, (c + 1) * F / C), the order of
        # a depthwise conv's channel multipliers. TensorFlow, 256 groups of one channel, 28x28,
        # batch 4, fwd+bwd: fused 140 ms, 256 convs 80 ms, depthwise 4 ms.
        depthwise = ops.reshape(kernel, (*kernel.shape[:-2], channels, filters // channels))
        return ops.depthwise_conv(x, depthwise, data_format=data_format, **conv)
    slices = zip(ops.split(x, groups, axis=axis), ops.split(kernel, groups, axis=-1), strict=True)
    outputs = [ops.conv(xs, ks, data_format=data_format, **conv) for xs, ks in slices]
    return ops.concatenate(outputs, axis=axis)


@keras.saving.register_keras_serializable(package="official")
class GroupedConv2D(keras.layers.Conv2D):
    """keras.layers.Conv2D with the same arguments, variables and config, computed by
    `grouped_convolution`: per group where the fused op is slow (module docstring)."""

    def convolution_op(self, inputs, kernel):
        return grouped_convolution(
            inputs,
            kernel,
            groups=self.groups,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )


def conv2d_class(groups: int) -> type[keras.layers.Conv2D]:
    """GroupedConv2D for a grouped conv; keras.layers.Conv2D otherwise, so that ungrouped convs
    (and the `.keras` files of ungrouped models, and LiteRT's stem fold, which wants exactly a
    Conv2D: official/serving/litert_stem.py) stay as they were."""
    return GroupedConv2D if groups > 1 else keras.layers.Conv2D
