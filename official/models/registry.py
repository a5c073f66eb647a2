"""Model names -> builders. Each family registers its named variants with one line per name."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import keras

from official.models import pretrained
from official.weights import converted


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


def get(name: str, weights=None, **overrides) -> keras.Model:
    """Builds the registered model `name`; keyword overrides replace its defaults. `weights`:
    None (fresh initialization) or a source official/weights reads (docs/weights.md).

    >>> model = get("resnetrs50", num_classes=10, input_shape=(160, 160, 3))
    """
    model_entry = entry(name)
    kwargs = {"name": name, **model_entry.defaults, **overrides}
    if weights is None:
        return model_entry.builder(**kwargs)
    family_of = {n: e.family for n, e in _REGISTRY.items()}
    return pretrained.build(model_entry.builder, model_entry.family, weights, kwargs, family_of)


def get_converted(path: str) -> keras.Model:
    """The model a converted `.weights.h5` file names (`python -m official.weights convert`),
    built with the class count and conventions it records and filled with its weights."""
    metadata = converted.read_metadata(path)
    if metadata is None:
        raise ValueError(
            f"{path} has no converter metadata (model name, conventions): pass a training run's "
            "directory or a file written by `python -m official.weights convert`."
        )
    model = get(
        metadata["model"],
        num_classes=metadata["num_classes"],
        include_top=metadata["include_top"],
        **metadata["conventions"],
    )
    model.load_weights(path)
    return model


def list_models(family: str | None = None) -> list[str]:
    """Registered names in registration order, optionally of one family."""
    return [n for n, e in _REGISTRY.items() if family is None or e.family == family]
