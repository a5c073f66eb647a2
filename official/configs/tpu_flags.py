"""The flags of tensorflow/tpu's resnet_main.py, for official/train.py.

A command written for `models/official/resnet/resnet_main.py` runs here: each of its flags below
sets config keys with the same meaning (through official/configs/tpu_hparams.py; the table is in
docs/tpu.md). official/train.py defines them from `FLAGS` (listed under their own heading in
`--helpfull`) and hands their values here as a plain mapping: nothing here knows absl. The order is
tensorflow/tpu's: the recipe, then --config_file, then --params_override, then the flags; a flag
and a --params_override key that set one config value differently are an error naming both.
"""

from __future__ import annotations

from collections.abc import Mapping

from official.configs import overrides, tpu_hparams
from official.configs.overrides import ConfigError

HEADING = "resnet_main.py flags (tensorflow/tpu models/official/resnet; docs/tpu.md)"
BASE_RECIPE = "resnet_main"


# name -> (absl kind, help): official/train.py defines each under HEADING; all default to None
# (not given). Every name but config_file and eval_timeout is an hparam: the names are
# tensorflow/tpu's keys (tpu_hparams.translate).
FLAGS = {
    "train_steps": ("integer", "Run length in steps (train.train_steps; clears train.epochs)."),
    "train_batch_size": ("integer", "Global training batch (data.train_batch_size)."),
    "eval_batch_size": ("integer", "Global evaluation batch (data.eval_batch_size)."),
    "iterations_per_loop": ("integer", "Device steps per host loop (train.steps_per_loop)."),
    "steps_per_eval": ("integer", "train_and_eval: steps between evaluations."),
    "num_train_images": ("integer", "Training images per epoch (train.num_train_images)."),
    "num_eval_images": ("integer", "Evaluate this many images (data.num_eval_images)."),
    "num_label_classes": ("integer", "Classes (data.num_classes; 1001: background class 0)."),
    "base_learning_rate": ("float", "Learning rate at batch 256, scaled linearly."),
    "momentum": ("float", "SGD momentum (optimizer.momentum)."),
    "weight_decay": ("float", "Weight decay (optimizer.weight_decay)."),
    "label_smoothing": ("float", "Label smoothing (optimizer.label_smoothing)."),
    "precision": ("string", "bfloat16 or float32 (runtime.precision)."),
    "resnet_depth": ("integer", "The ResNet of this depth in the config's family."),
    "image_size": ("integer", "Training and evaluation image size (data.image_size)."),
    "use_cache": ("bool", "Cache the training input in host memory (data.cache)."),
    "augment_name": ("string", "'randaugment' or none (data.augmentation)."),
    "randaug_num_layers": ("integer", "RandAugment layers (data.randaugment_layers)."),
    "randaug_magnitude": ("integer", "RandAugment magnitude (data.randaugment_magnitude)."),
    "use_tpu": ("bool", "true: --strategy=tpu; false: --strategy=one_device."),
    "tpu_zone": ("string", "The TPU's zone, from outside it (runtime.tpu_zone)."),
    "gcp_project": ("string", "The TPU's project, from outside it (runtime.gcp_project)."),
    "config_file": (
        "string",
        "YAML applied over the recipe: config keys, or tensorflow/tpu hparams (its configs/ "
        "files).",
    ),
    "eval_timeout": (
        "integer",
        "--mode=eval/continuous_eval: stop when no new checkpoint came for this many seconds.",
    ),
}
ALIASES = {"zone": "tpu_zone", "project": "gcp_project"}
HPARAM_FLAGS = tuple(name for name in FLAGS if name not in ("config_file", "eval_timeout"))
# official/train.py's own flags that set config keys (and conflict with --params_override too).
TRAIN_FLAGS = {"strategy": "runtime.strategy", "tpu": "runtime.tpu", "data_dir": "data.data_dir"}
# Without --config, these select the resnet_main recipe (resnet_main.py's defaults) as the base.
TPU_BASE_FLAGS = ("tpu", "use_tpu", "tpu_zone", "gcp_project", "resnet_depth")


def base_recipe(args: Mapping) -> str | None:
    """`resnet_main` when the command (`args`: flag name -> value, None when not given) names a
    TPU or a ResNet depth the way resnet_main.py does, or gives a tensorflow/tpu --config_file;
    None otherwise (the caller's default)."""
    if any(args.get(name) is not None for name in TPU_BASE_FLAGS):
        return BASE_RECIPE
    if args.get("config_file"):
        return BASE_RECIPE if tpu_hparams.is_tpu_hparams(_read(args["config_file"])) else None
    return None


def _read(path: str) -> dict:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"--config_file={path}: no such file.")
    return overrides.load_yaml(path)


def _to_config_keys(mapping: dict, config) -> dict:
    """A mapping in either form as flat dotted config keys."""
    if tpu_hparams.is_tpu_hparams(mapping):
        return tpu_hparams.translate(mapping, config)
    return overrides.flatten(mapping)


def _flag_settings(args: Mapping, config) -> list[tuple[str, dict]]:
    """[(the flag as typed, {config key: value})] for every flag given that sets config keys."""
    settings = []
    for name, key in TRAIN_FLAGS.items():
        value = args.get(name)
        if value:
            settings.append((f"--{name}={value}", {key: value}))
    for name in HPARAM_FLAGS:
        value = args.get(name)
        if value is not None:
            shown = str(value).lower() if isinstance(value, bool) else value
            settings.append((f"--{name}={shown}", tpu_hparams.translate({name: value}, config)))
    return settings


def _show(value) -> str:
    return "null" if value is None else repr(value)


def apply(config, args: Mapping):
    """--config_file, then --params_override, then every flag that sets config keys, on
    `config` (in place); returns it. `args`: flag name -> value (None or absent: not given)."""
    if args.get("config_file"):
        overrides.apply_overrides(config, _to_config_keys(_read(args["config_file"]), config))
    text = args.get("params_override")
    given = _to_config_keys(tpu_hparams.parse_text(text), config) if text else {}
    overrides.apply_overrides(config, given)
    settings = _flag_settings(args, config)
    set_by: dict[str, tuple[str, object]] = {}
    for flag, keys in settings:
        for key, value in keys.items():
            if key in given and given[key] != value:
                raise ConfigError(
                    f"{flag} sets {key}={_show(value)} but --params_override sets {key}="
                    f"{_show(given[key])}; give the value once."
                )
            if key in set_by and set_by[key][1] != value:
                raise ConfigError(
                    f"{set_by[key][0]} and {flag} set {key} differently "
                    f"({_show(set_by[key][1])} and {_show(value)}); give one."
                )
            set_by[key] = (flag, value)
    for _, keys in settings:
        overrides.apply_overrides(config, keys)
    return config
