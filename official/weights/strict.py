"""Strict filling of a model from a source's tensors: the one check every converter goes through.

A converter describes, for each variable of the target model, which source tensors make it and
how (`Entry`: names + a NumPy function for the layout change). `fill` then requires that every
target variable has an entry, every named source tensor exists, every source tensor is used
exactly once (apart from the ones the converter lists as carrying no weights), and every result
has the variable's shape. Everything is computed before anything is assigned, so a failed
conversion leaves the model as it was.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping

import keras
import numpy as np

from official.weights import stem_channels


@dataclasses.dataclass(frozen=True)
class Entry:
    """A target variable = transform(*source tensors named in `sources`)."""

    sources: tuple[str, ...]
    transform: Callable[..., np.ndarray]


class ConversionError(ValueError):
    """The source does not fit the target model; the message names the first misfit."""


def owned_variables(model: keras.Model) -> Iterator[tuple[keras.layers.Layer, str, keras.Variable]]:
    """(layer that owns it, variable name, variable) for every weight of `model`, sublayers
    (e.g. the Dense layers inside SqueezeExcite) resolved to themselves."""
    for top in model.layers:
        for layer in top._flatten_layers(include_self=True):
            if not layer.weights:
                continue
            prefix = (layer.path or layer.name) + "/"
            for variable in layer.weights:
                rest = variable.path[len(prefix) :] if variable.path.startswith(prefix) else ""
                if rest and "/" not in rest:
                    yield layer, rest, variable


def head_tensors(tensors: Collection[str], head_layers: Collection[str]) -> list[str]:
    """The source tensors that belong to the layers named `head_layers` (a variable's path
    starts with its layer's name: 'classifier/kernel'): the ones a target built with
    include_top=False leaves unused, and only those."""
    return [name for name in tensors if name.split("/", 1)[0] in head_layers]


def match(
    model: keras.Model,
    tensors: Mapping[str, np.ndarray],
    plan: Mapping[str, Entry],
    *,
    source: str,
    ignored: Collection[str] = (),
) -> dict[str, np.ndarray]:
    """{variable path: value} for every variable of `model` from `tensors` following `plan`
    (variable path -> Entry), after every check; assigns nothing. `ignored`: source tensors that
    carry no weights (e.g. BN batch counters)."""
    variables = {v.path: v for _, _, v in owned_variables(model)}
    targets_without = [p for p in variables if p not in plan]
    missing = [
        (path, name)
        for path, entry in plan.items()
        if path in variables
        for name in entry.sources
        if name not in tensors
    ]
    uses = Counter(name for entry in plan.values() for name in entry.sources)
    unused = [n for n in tensors if n not in uses and n not in ignored]
    twice = [n for n, count in uses.items() if count > 1]
    extra_plan = [p for p in plan if p not in variables]
    if twice:
        raise ConversionError(f"{source}: source tensor {twice[0]!r} would fill two variables.")
    if extra_plan:
        raise ConversionError(
            f"{source}: the converter expects a variable {extra_plan[0]!r} that {model.name} "
            "does not have (a different variant or width?)."
        )
    if targets_without or missing or unused:
        target = (
            f"{targets_without[0]!r} (no source tensor)"
            if targets_without
            else f"{missing[0][0]!r} (needs {missing[0][1]!r}, not in the source)"
            if missing
            else "none"
        )
        count = len(targets_without) + len(missing)
        raise ConversionError(
            f"{source} does not fit {model.name}: {count} target variable(s) unmatched, first "
            f"{target}; {len(unused)} source tensor(s) unused, first "
            f"{repr(unused[0]) if unused else 'none'}."
        )
    values = {}
    adaptable = stem_channels.input_convolutions(model)  # a 3-channel stem into C != 3
    for path, entry in plan.items():
        variable = variables[path]
        inputs = [np.asarray(tensors[name]) for name in entry.sources]
        value = np.asarray(entry.transform(*inputs))
        value = stem_channels.adapt(path, value, tuple(variable.shape), adaptable)
        if tuple(value.shape) != tuple(variable.shape):
            pairs = zip(entry.sources, inputs, strict=True)
            shapes = ", ".join(f"{n!r} {tuple(a.shape)}" for n, a in pairs)
            hint = (
                "build with the source's class count, or include_top=False"
                if path.startswith("classifier/")
                else "a different variant or width?"
            )
            raise ConversionError(
                f"{source}: {shapes} gives shape {tuple(value.shape)} for {path!r}, which has "
                f"shape {tuple(variable.shape)} in {model.name} ({hint})."
            )
        values[path] = value
    return values


def fill(
    model: keras.Model,
    tensors: Mapping[str, np.ndarray],
    plan: Mapping[str, Entry],
    *,
    source: str,
    ignored: Collection[str] = (),
) -> None:
    """Assigns every variable of `model` from `tensors` following `plan` (see `match`), all or
    nothing."""
    values = match(model, tensors, plan, source=source, ignored=ignored)
    variables = {v.path: v for _, _, v in owned_variables(model)}
    for path, value in values.items():
        variables[path].assign(value.astype(variables[path].dtype))
