"""Do two builds of a network compute the same function of the same weights?

Weights copied layer by layer only mean the same thing when the conventions match: the padding
of strided windows (official/layers/padding.py), BN epsilon, where the stride sits, the WS eps
and the GELU form. They live in the layers' configs, so a `.keras` file or a network rebuilt
from a converter's metadata carries them; this compares two models on exactly those keys.
"""

from __future__ import annotations

import keras

KEYS = ("padding", "strides", "pool_size", "epsilon", "eps", "eps_mode", "activation")
HEAD = ("classifier", "predictions", "top_dropout")


def first_difference(source: keras.Model, target: keras.Model) -> str | None:
    """A one-line description of the first convention in which `target` differs from `source`
    (same-named layers; a padding layer that only one of them has), or None."""
    theirs = {layer.name: layer for layer in source.layers}
    ours = {layer.name: layer for layer in target.layers}
    for name in sorted(set(theirs) ^ set(ours)):
        layer = theirs.get(name) or ours.get(name)
        if isinstance(layer, keras.layers.ZeroPadding2D):
            where = source.name if name in theirs else target.name
            return f"layer {name!r} (explicit padding) is only in {where}"
    for name, layer in ours.items():
        if name not in theirs or name in HEAD:
            continue
        a, b = theirs[name].get_config(), layer.get_config()
        for key in KEYS:
            if key in a and key in b and a[key] != b[key]:
                return f"layer {name!r} has {key}={a[key]!r} in {source.name}, {b[key]!r} here"
    return None
