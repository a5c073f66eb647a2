"""Parameter counts as the papers report them."""

from __future__ import annotations

import math

import keras


def count_parameters(model: keras.Model) -> int:
    """Learned weights only: BN moving statistics and random-generator state are not parameters.

    Every learned weight of these models is trainable when built, so this counts
    `model.trainable_weights`; call it before freezing any layer.
    """
    return sum(math.prod(w.shape) for w in model.trainable_weights)
