"""The `weights=` argument of every model builder.

`weights=None` builds a freshly initialized model. Anything else (a weights file, a TF checkpoint
prefix, or 'imagenet') goes to official/weights, which builds the model with the conventions the
source was trained with and fills it strictly (docs/weights.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable


def accepts_weights(family: str) -> Callable:
    """Decorates a builder of `family` ('resnet', 'mbconv', ...) with the `weights` argument."""

    def decorate(builder: Callable) -> Callable:
        @functools.wraps(builder)
        def build(*args, weights=None, **kwargs):
            if weights is None:
                return builder(*args, **kwargs)
            # Imported here: official.weights imports the model families.
            from official.weights import loading

            return loading.build_with_weights(builder, family, weights, args, kwargs)

        build.family = family
        return build

    return decorate
