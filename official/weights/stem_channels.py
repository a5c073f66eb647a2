"""A 3-channel source's first convolution adapted to a model built with C != 3 input channels,
by timm's rule (timm.models._manipulate.adapt_input_conv):

    C == 1: the kernel summed over its input channels;
    else:   the 3 input channels repeated ceil(C / 3) times, the first C kept, times 3 / C.

What it preserves: with C == 1, a grey image g gives what the source gives on (g, g, g); with the
repeat, an input whose channels repeat the RGB image (x_c = rgb_{c mod 3}) gives what the source
gives on rgb * (channels that copy each colour) * 3 / C, e.g. C == 4 with a zero 4th channel
equals the source on 3/4 of the image (each colour is seen once, scaled by 3/4; the 4th channel's
kernel, a copy of the red one, multiplies zeros).

The models normalize nothing inside the graph (the pipeline subtracts the 3-channel mean and
divides by the std before the model: official/layers/input_statistics.py), so the rule acts on
the normalized input; data with C != 3 channels has to be normalized by its own statistics.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np

SOURCE_CHANNELS = 3


def adapt_input_conv(kernel: np.ndarray, channels: int) -> np.ndarray:
    """A (..., 3, out) conv kernel (channels-last, any spatial rank) for `channels` inputs."""
    kernel = np.asarray(kernel)
    if kernel.shape[-2] != SOURCE_CHANNELS:
        raise ValueError(
            f"adapt_input_conv: the kernel has {kernel.shape[-2]} input channels, not 3."
        )
    dtype = kernel.dtype
    kernel = kernel.astype(np.float64)
    if channels == 1:
        return kernel.sum(axis=-2, keepdims=True).astype(dtype)
    repeats = math.ceil(channels / SOURCE_CHANNELS)
    tiled = np.concatenate([kernel] * repeats, axis=-2)[..., :channels, :]
    return (tiled * (SOURCE_CHANNELS / channels)).astype(dtype)


def input_convolutions(model: keras.Model) -> dict[str, int]:
    """{kernel path: input channels} of the convolutions that read the model's input (directly
    or through layers without weights, e.g. padding); empty when the input has 3 channels."""
    channels = model.inputs[0].shape[-1]
    if channels == SOURCE_CHANNELS:
        return {}
    found, frontier = {}, {id(model.inputs[0])}
    for layer in model.layers:  # in running order: a layer's inputs come before it
        node = layer._inbound_nodes[0] if layer._inbound_nodes else None
        if node is None or not any(id(t) in frontier for t in node.input_tensors):
            continue
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and len(kernel.shape) >= 4 and kernel.shape[-2] == channels:
            found[kernel.path] = channels
        elif not layer.weights:
            frontier |= {id(t) for t in node.output_tensors}
    return found


def adapt(path: str, value: np.ndarray, shape: tuple, adaptable: dict[str, int]) -> np.ndarray:
    """`value` adapted when `path` is an input convolution whose source kernel has 3 input
    channels and which has `adaptable[path]` here; `value` itself otherwise (the shape check
    that follows then reports any other misfit)."""
    value = np.asarray(value)
    if (
        path in adaptable
        and value.ndim == len(shape)
        and value.shape[-2] == SOURCE_CHANNELS
        and tuple(value.shape[:-2]) + (adaptable[path], value.shape[-1]) == tuple(shape)
    ):
        return adapt_input_conv(value, adaptable[path])
    return value


def three_channel_twin(model: keras.Model) -> keras.Model:
    """The same functional network with a 3-channel input: what a 3-channel `.weights.h5` file
    loads into, its weights then copied over by layer name (load_weights_adapted)."""
    config = model.get_config()
    for layer in config["layers"]:
        layer.pop("build_config", None)  # built again on the 3-channel tensors
        if layer["class_name"] == "InputLayer":
            shape = list(layer["config"]["batch_shape"])
            layer["config"]["batch_shape"] = [*shape[:-1], SOURCE_CHANNELS]
    return model.__class__.from_config(config)


def load_weights_adapted(model: keras.Model, path: str) -> None:
    """model.load_weights(path) for a model with C != 3 input channels and a file written from
    the 3-channel network: the file fills a 3-channel twin, whose weights then fill `model`, the
    input convolutions adapted (adapt_input_conv)."""
    adaptable = input_convolutions(model)
    twin = three_channel_twin(model)
    with warnings.catch_warnings():
        # The rebuilt network tracks one more (weightless) container than the file's: Keras
        # warns about it; every layer's weights still load by name (tests/weights/ compare
        # the logits with the source's).
        warnings.filterwarnings("ignore", message="Skipping nested container")
        twin.load_weights(path)
    values = {}
    for target, source in zip(model.weights, twin.weights, strict=True):
        value = keras.ops.convert_to_numpy(source)
        values[target.path] = adapt(target.path, value, tuple(target.shape), adaptable)
        if tuple(values[target.path].shape) != tuple(target.shape):
            raise ValueError(f"{path}: {target.path!r} does not fit (shape {tuple(target.shape)}).")
    for target in model.weights:
        target.assign(values[target.path].astype(target.dtype))


def load_weights(model: keras.Model, path: str) -> None:
    """model.load_weights(path); where that fails on a model with C != 3 input channels,
    load_weights_adapted (a file of the 3-channel network). The failed attempt's warnings are
    dropped (they describe that attempt only)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
            failed = None
        except ValueError as error:
            failed = error
    if failed is None or not input_convolutions(model):
        for warning in caught:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        if failed is not None:
            raise failed
        return
    load_weights_adapted(model, path)
