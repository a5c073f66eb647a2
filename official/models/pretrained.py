"""`official.models.get(name, weights=...)`: the registry's side of pretrained weights.

`weights=None` builds a freshly initialized model. Anything else (a weights file, a TF checkpoint
prefix, a keras.applications model or 'imagenet') is read by official/weights, which says which
builder conventions the source needs; this module builds the model with them, says so when they
are not the registry's defaults, and lets official/weights fill it strictly (docs/weights.md).
Imports run one way: models -> weights, never back.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable

import keras

from official.weights import loading

log = logging.getLogger(__name__)


def builder_arguments(builder: Callable, kwargs: dict) -> dict:
    """The arguments `builder(**kwargs)` runs with: its defaults applied, **kwargs of the
    builder flattened into them."""
    signature = inspect.signature(builder)
    bound = signature.bind(**kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(parameter.name, {}))
    return arguments


def build(
    builder: Callable, family: str, weights, kwargs: dict, family_of: dict[str, str]
) -> keras.Model:
    """`builder(**kwargs)` (a `family` builder) built with the conventions `weights` needs and
    filled from it; family_of: every registered name -> its family."""
    arguments = builder_arguments(builder, kwargs)
    prepared = loading.prepare(weights, family, arguments, kwargs, family_of)
    label = repr(weights) if isinstance(weights, str) else "a keras.applications model"
    for key, value in prepared.conventions.items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(
                f"weights={label} ({prepared.description}) needs {key}={value!r}; "
                f"{key}={kwargs[key]!r} was passed."
            )
    added = {k: v for k, v in prepared.conventions.items() if k not in kwargs}
    if added:
        log.warning(
            "%s with %s: built with %s, as the source computes (not the registry default).",
            kwargs.get("name") or builder.__name__,
            prepared.description,
            ", ".join(f"{k}={v!r}" for k, v in added.items()),
        )
    model = builder(**{**kwargs, **added})
    prepared.fill(model)
    return model
