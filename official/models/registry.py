"""Model names -> builders. Each family registers its named variants with one line per name;
`get(name, features_only=True)` and `feature_info(name)` give the backbone features
(official/models/features.py)."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import keras

from official.models import features, pretrained
from official.models.counting import count_parameters, shapes_only
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


def get(
    name: str,
    weights=None,
    *,
    features_only: bool = False,
    out_indices=None,
    **overrides,
) -> keras.Model:
    """Builds the registered model `name`; keyword overrides replace its defaults. `weights`:
    None (fresh initialization) or a source official/weights reads (docs/weights.md).
    features_only: the backbone without its head, returning {"P1": stride-2 map, ..., "P5"}
    (`feature_info`); out_indices picks some of them (1..5 or "P1".."P5").

    >>> model = get("resnetrs50", num_classes=10, input_shape=(160, 160, 3))
    >>> backbone = get("resnetrs50", features_only=True, out_indices=(3, 4, 5))
    """
    model_entry = entry(name)
    if features_only:
        for key, value in (("include_top", False), ("pooling", None)):
            if overrides.get(key, value) != value:
                raise ValueError(f"features_only=True builds {key}={value!r}; drop {key}=.")
        overrides.update(include_top=False, pooling=None)
    elif out_indices is not None:
        raise ValueError("out_indices selects backbone features: pass features_only=True too.")
    kwargs = {"name": name, **model_entry.defaults, **overrides}
    if weights is None:
        model = model_entry.builder(**kwargs)
    else:
        family_of = {n: e.family for n, e in _REGISTRY.items()}
        model = pretrained.build(
            model_entry.builder, model_entry.family, weights, kwargs, family_of
        )
    if not features_only:
        return model
    with shapes_only():  # read at the probe size, from the model as built (its conventions)
        info = features.describe(features.probe_of(model), model_entry.family)
    return features.cut(model, features.select(info, out_indices, name))


def feature_info(name_or_model: str | keras.Model, **overrides) -> list[dict]:
    """The backbone features of a registered name built with `overrides` (or of a model built by
    `get`, a features model included), without computing any weight: a list of
    {"key": "P2", "layer": ..., "channels": ..., "reduction": 4} (and "temporal_reduction" for
    video models), in key order. The rule per family: official/models/features.py."""
    with shapes_only():
        if isinstance(name_or_model, keras.Model):
            if overrides:
                raise ValueError("feature_info(model) reads the model as built: no overrides.")
            model = name_or_model
            family = None
            if not isinstance(model.output, dict):
                family = entry(model.name).family
            return features.describe(features.probe_of(model), family)
        model_entry = entry(name_or_model)
        kwargs = {"name": name_or_model, **model_entry.defaults, **overrides}
        kwargs.update(include_top=False, pooling=None)
        kwargs.pop("input_tensor", None)
        shape = pretrained.builder_arguments(model_entry.builder, kwargs).get(
            "input_shape", (None, None, 3)
        )
        kwargs["input_shape"] = features.probe_shape(shape)
        return features.describe(model_entry.builder(**kwargs), model_entry.family)


def parameter_count(name: str, **overrides) -> int:
    """count_parameters(get(name, **overrides)), built without computing any weight (fast even
    for nfnet_f6's 438M parameters)."""
    if overrides.get("weights") is not None:
        raise ValueError("parameter_count counts a fresh build: weights= does not apply.")
    with shapes_only():
        return count_parameters(get(name, **overrides))


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


def forwards_to(target: Callable[..., keras.Model]):
    """Declares that a builder's **kwargs go on to `target` (a decorator): the arguments a
    registered name accepts are then the builder's and the target's (`accepted_arguments`)."""

    def declare(builder):
        builder.forwards_to = target
        return builder

    return declare


def accepted_arguments(name: str) -> set[str]:
    """Every keyword `get(name, **overrides)` accepts: the builder's parameters, and for a
    builder taking **kwargs those of the builder it forwards them to (`forwards_to`)."""
    accepted, builder = set(), entry(name).builder
    while builder is not None:
        parameters = inspect.signature(builder).parameters
        accepted |= {
            n for n, p in parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD
        }
        forwards = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        target = getattr(builder, "forwards_to", None)
        if forwards and target is None:
            raise TypeError(f"{builder.__qualname__} takes **kwargs but declares no forwards_to")
        builder = target if forwards else None
    return accepted


def list_models(family: str | None = None) -> list[str]:
    """Registered names in registration order, optionally of one family."""
    return [n for n, e in _REGISTRY.items() if family is None or e.family == family]
