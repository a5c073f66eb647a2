"""Parameter counts and multiply-adds as the papers report them, counted from a built model.

Multiply-adds are those of convolutions (any rank, grouped, depthwise) and dense layers,
including those inside SqueezeExcite, read from the layers' shapes (not typed in); elementwise
ops (norms, activations, adds, pooling) are not counted, as in the papers' FLOPs figures
(ResNet-50 at 224: 4.09 G multiply-adds).
"""

from __future__ import annotations

import contextlib
import math

import keras
from keras.src.backend.common import global_state  # Keras' list of variables left unset

from official.layers import SqueezeExcite


def count_parameters(model: keras.Model) -> int:
    """Learned weights only: BN moving statistics and random-generator state are not parameters.

    Every learned weight of these models is trainable when built, so this counts
    `model.trainable_weights`; call it before freezing any layer.
    """
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def _conv_macs(layer, output_shape) -> int:
    spatial = math.prod(output_shape[1:-1])
    kernel = math.prod(layer.kernel.shape[:-1])  # kh * kw (* kt) * in / groups
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return spatial * math.prod(layer.kernel.shape)  # kh * kw * C * multiplier
    return spatial * kernel * layer.filters


def count_macs(model: keras.Model) -> int:
    """Multiply-adds for ONE example. The model must have a static input shape."""
    if any(d is None for d in model.input.shape[1:]):
        raise ValueError(
            "count_macs needs a static input shape: build the model with input_shape=(H, W, 3)."
        )
    total = 0
    for layer in model._flatten_layers(include_self=False, recursive=False):
        if isinstance(
            layer, (keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.DepthwiseConv2D)
        ):
            total += _conv_macs(layer, layer.output.shape)
        elif isinstance(layer, keras.layers.Dense):
            total += math.prod(layer.kernel.shape) * math.prod(layer.output.shape[1:-1] or [1])
        elif isinstance(layer, SqueezeExcite):
            total += math.prod(layer.reduce.kernel.shape) + math.prod(layer.expand.kernel.shape)
        elif isinstance(layer, keras.Model):
            total += count_macs(layer)
    return total


@contextlib.contextmanager
def shapes_only():
    """Models built inside get variables without values: a count needs only their shapes, and
    nfnet_f6's 438M values would take most of the time. Keras keeps such variables on a list to
    fill when a later stateless scope closes; they are taken off it, as nothing reads them."""
    pending = global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True)
    before = list(pending)
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", before)
