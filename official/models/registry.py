"""Model names -> builders. Each family registers its named variants with one line per name."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import keras


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., keras.Model]
    family: str
    defaults: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelEntry] = {}


def register(name: str, builder: Callable[..., keras.Model], *, family: str, **defaults) -> None:
    """Registers `name` as `builder(**defaults)`; a name can be registered only once."""
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = ModelEntry(name, builder, family, dict(defaults))


def entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} `official.models.list_models()` lists all "
            f"{len(_REGISTRY)} names."
        )
    return _REGISTRY[name]


def get(name: str, **overrides) -> keras.Model:
    """Builds the registered model `name`; keyword overrides replace its defaults.

    >>> model = get("resnetrs50", num_classes=10, input_shape=(160, 160, 3))
    """
    model_entry = entry(name)
    kwargs = {"name": name, **model_entry.defaults, **overrides}
    return model_entry.builder(**kwargs)


def list_models(family: str | None = None) -> list[str]:
    """Registered names in registration order, optionally of one family."""
    return [n for n, e in _REGISTRY.items() if family is None or e.family == family]
