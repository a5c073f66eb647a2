"""Overriding a config from YAML files and `--params_override`, strictly.

Keys are nested mappings or dotted paths (`optimizer.base_learning_rate: 0.2`); a key below a
mapping field merges into it (`model.kwargs.width_multiplier: 0.5`). An unknown key or a value of
the wrong type is an error that names the key and what would be right.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import types
import typing

import yaml

from official.configs.config import ExperimentConfig
from official.configs.validation import ONE_OF, ConfigError  # noqa: F401 (ConfigError: its face)

# What official/train.py writes into every model_dir: the run's resolved config.
RUN_CONFIG_FILE = "params.yaml"


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 (and JSON) floats: PyYAML implements YAML 1.1, where
    a float needs a dot, so `1e-3` and `1E6` would be strings."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def flatten(mapping: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise ConfigError(f"Config keys must be strings, got {key!r}.")
        path = f"{prefix}{key}"
        # A nested mapping is descended into, unless it is the value of a dict-typed field.
        if isinstance(value, dict) and value and not path.endswith("kwargs"):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _check_type(path: str, value, annotation):
    """Returns `value` converted to the field's type, or raises ConfigError."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        others = [option for option in options if option is not type(None)]
        if len(others) == 1:  # `float | None`: the message of `float`
            return _check_type(path, value, others[0])
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(path, value, option)
            except ConfigError:
                continue
        raise ConfigError(f"{path}: {value!r} is not one of {annotation}.")
    expected = origin or annotation
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is bool and not isinstance(value, bool):
        raise ConfigError(f"{path} must be true or false, got {value!r}.")
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{path} must be an integer, got {value!r}.")
    if not isinstance(value, expected):
        raise ConfigError(
            f"{path} must be a {expected.__name__}, got {type(value).__name__} {value!r}."
        )
    return value


def with_partners_cleared(flat: dict) -> dict:
    """Setting one key of a config.ONE_OF pair (epochs / train_steps ...) clears the other,
    unless the same mapping sets both (then the config's check names them)."""
    flat = dict(flat)
    for a, b in ONE_OF:
        if (a in flat) != (b in flat):
            flat.setdefault(b if a in flat else a, None)
    return flat


def apply_overrides(config, overrides: dict):
    """Sets every (possibly dotted) key of `overrides` on the dataclass `config`, in place; on
    an error `config` is left as it was."""
    flat = flatten(overrides)
    if isinstance(config, ExperimentConfig):
        flat = with_partners_cleared(flat)
    work = copy.deepcopy(config)
    for path, value in flat.items():
        target = work
        parts = path.split(".")
        for depth, part in enumerate(parts):
            fields = {f.name: f for f in dataclasses.fields(target)}
            if part not in fields:
                where = ".".join(parts[:depth]) or "the top level"
                raise ConfigError(
                    f"Unknown config key {path!r}: {where} has {', '.join(sorted(fields))}."
                )
            hints = typing.get_type_hints(type(target))
            if depth == len(parts) - 1:
                checked = _check_type(path, value, hints[part])
                if isinstance(checked, dict) and isinstance(getattr(target, part), dict):
                    checked = {**getattr(target, part), **checked}
                setattr(target, part, checked)
                break
            field_path = ".".join(parts[: depth + 1])
            current = getattr(target, part)
            if isinstance(current, dict) and depth == len(parts) - 2:
                # `model.kwargs.width_multiplier: 0.5` merges into the dict, as the nested form
                setattr(target, part, {**current, parts[-1]: value})
                break
            if isinstance(current, dict):
                raise ConfigError(
                    f"Config key {path!r}: {field_path} takes one key below it "
                    f"({field_path}.{parts[depth + 1]}: ...); give deeper values nested."
                )
            if not dataclasses.is_dataclass(current):
                raise ConfigError(f"Config key {path!r}: {field_path} is a value.")
            target = current
    # Each group checks its values again (official/configs/validation.py, via __post_init__).
    for field in dataclasses.fields(work):
        group = getattr(work, field.name)
        if hasattr(group, "__post_init__"):
            group.__post_init__()
    for field in dataclasses.fields(work):
        setattr(config, field.name, getattr(work, field.name))
    return config


def yaml_load(text: str):
    """YAML (1.2 numbers) or JSON text as Python values."""
    return yaml.load(text, Loader=_Yaml12Loader)


def yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's complaint in one line, where it found it first: `line L, column C: problem`."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return where + problem + (f" ({context})" if context else "")


def parse_override_text(text: str, source: str = "--params_override") -> dict:
    """A YAML or JSON mapping (`{"train.epochs": 10}` or `train: {epochs: 10}`); `source` names
    the text in an error."""
    try:
        value = yaml_load(text)
    except yaml.YAMLError as e:
        kind = "YAML/JSON" if source.startswith("--") else "YAML"  # a flag's text or a file
        raise ConfigError(f"{source} is not valid {kind}: {yaml_problem(e)}.") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{source} must be a mapping of keys to values, got {value!r}.")
    return value


def load_yaml(path: str) -> dict:
    """The mapping of a YAML file (a recipe file, --config_file, a run's params.yaml); a file
    that is empty (or only comments) is an error naming it, and a run's record says what to do."""
    import tensorflow as tf  # gfile: model_dir may be on GCS

    with tf.io.gfile.GFile(path) as f:
        text = f.read()
    mapping = parse_override_text(text, path)
    if not mapping:
        if os.path.basename(path) == RUN_CONFIG_FILE:
            raise ConfigError(
                f"{path} is empty: the run's record was lost; put it back or use a new --model_dir."
            )
        raise ConfigError(f"{path} is empty: a config file maps config keys to values.")
    return mapping


def load_config(path: str) -> ExperimentConfig:
    """The defaults overridden by a YAML file of config keys: a user's recipe file, or a run's
    params.yaml."""
    return apply_overrides(ExperimentConfig(), load_yaml(path))


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def to_yaml(config) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)


def save_yaml(config, path: str) -> None:
    """Writes the config under a temporary name and renames it: a reader never sees half a
    file. A run's params.yaml is written by official/training/run_dir.py (once)."""
    import tensorflow as tf  # gfile: model_dir may be on GCS

    tmp = f"{path}.tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
        f.write(to_yaml(config))
    tf.io.gfile.rename(tmp, path, overwrite=True)
