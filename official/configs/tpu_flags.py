"""The flags of tensorflow/tpu's resnet_main.py, for official/train.py.

A command written for `models/official/resnet/resnet_main.py` runs here: each of its flags below
sets config keys with the same meaning (through official/configs/tpu_hparams.py; the table is in
docs/tpu.md). They are listed under their own heading in `--helpfull`. The order is
tensorflow/tpu's: the recipe, then --config_file, then --params_override, then the flags; a flag
and a --params_override key that set one config value differently are an error naming both.
"""

from __future__ import annotations

from absl import flags

from official.configs import overrides, tpu_hparams
from official.configs.overrides import ConfigError

HEADING = "resnet_main.py flags (tensorflow/tpu models/official/resnet; docs/tpu.md)"
BASE_RECIPE = "resnet_main"


def _define(kind, name, help_text, **kwargs):
    getattr(flags, f"DEFINE_{kind}")(name, None, help_text, module_name=HEADING, **kwargs)


_define("integer", "train_steps", "Run length in steps (train.train_steps; clears train.epochs).")
_define("integer", "train_batch_size", "Global training batch (data.train_batch_size).")
_define("integer", "eval_batch_size", "Global evaluation batch (data.eval_batch_size).")
_define("integer", "iterations_per_loop", "Device steps per host loop (train.steps_per_loop).")
_define("integer", "steps_per_eval", "train_and_eval: steps between evaluations.")
_define("integer", "num_train_images", "Training images per epoch (train.num_train_images).")
_define("integer", "num_eval_images", "Evaluate this many images (data.num_eval_images).")
_define("integer", "num_label_classes", "Classes (data.num_classes; 1001: background class 0).")
_define("float", "base_learning_rate", "Learning rate at batch 256, scaled linearly.")
_define("float", "momentum", "SGD momentum (optimizer.momentum).")
_define("float", "weight_decay", "Weight decay (optimizer.weight_decay).")
_define("float", "label_smoothing", "Label smoothing (optimizer.label_smoothing).")
_define("string", "precision", "bfloat16 or float32 (runtime.precision).")
_define("integer", "resnet_depth", "The ResNet of this depth in the config's family.")
_define("integer", "image_size", "Training and evaluation image size (data.image_size).")
_define("bool", "use_cache", "Cache the training input in host memory (data.cache).")
_define("string", "augment_name", "'randaugment' or none (data.augmentation).")
_define("integer", "randaug_num_layers", "RandAugment layers (data.randaugment_layers).")
_define("integer", "randaug_magnitude", "RandAugment magnitude (data.randaugment_magnitude).")
_define("bool", "use_tpu", "true: --strategy=tpu; false: --strategy=one_device.")
_define("string", "tpu_zone", "The TPU's zone, from outside it (runtime.tpu_zone).")
_define("string", "gcp_project", "The TPU's project, from outside it (runtime.gcp_project).")
flags.DEFINE_alias("zone", "tpu_zone", module_name=HEADING)
flags.DEFINE_alias("project", "gcp_project", module_name=HEADING)
_define(
    "string",
    "config_file",
    "YAML applied over the recipe: config keys, or tensorflow/tpu hparams (its configs/ files).",
)
_define(
    "integer",
    "eval_timeout",
    "--mode=eval/continuous_eval: stop when no new checkpoint came for this many seconds.",
)

# Flags that are hparams: their names are tensorflow/tpu's keys (tpu_hparams.translate).
HPARAM_FLAGS = (
    "train_steps",
    "train_batch_size",
    "eval_batch_size",
    "iterations_per_loop",
    "steps_per_eval",
    "num_train_images",
    "num_eval_images",
    "num_label_classes",
    "base_learning_rate",
    "momentum",
    "weight_decay",
    "label_smoothing",
    "precision",
    "resnet_depth",
    "image_size",
    "use_cache",
    "augment_name",
    "randaug_num_layers",
    "randaug_magnitude",
    "use_tpu",
    "tpu_zone",
    "gcp_project",
)
# official/train.py's own flags that set config keys (and conflict with --params_override too).
TRAIN_FLAGS = {"strategy": "runtime.strategy", "tpu": "runtime.tpu", "data_dir": "data.data_dir"}
# Without --config, these select the resnet_main recipe (resnet_main.py's defaults) as the base.
TPU_BASE_FLAGS = ("tpu", "use_tpu", "tpu_zone", "gcp_project", "resnet_depth")


def base_recipe(flag_values) -> str | None:
    """`resnet_main` when the command names a TPU or a ResNet depth the way resnet_main.py
    does, or gives a tensorflow/tpu --config_file; None otherwise (the caller's default)."""
    if any(flag_values[name].value is not None for name in TPU_BASE_FLAGS):
        return BASE_RECIPE
    if flag_values.config_file:
        return BASE_RECIPE if tpu_hparams.is_tpu_hparams(_read(flag_values.config_file)) else None
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


def _flag_settings(flag_values, config) -> list[tuple[str, dict]]:
    """[(the flag as typed, {config key: value})] for every flag given that sets config keys."""
    settings = []
    for name, key in TRAIN_FLAGS.items():
        value = flag_values[name].value
        if value:
            settings.append((f"--{name}={value}", {key: value}))
    for name in HPARAM_FLAGS:
        value = flag_values[name].value
        if value is not None:
            shown = str(value).lower() if isinstance(value, bool) else value
            settings.append((f"--{name}={shown}", tpu_hparams.translate({name: value}, config)))
    return settings


def _show(value) -> str:
    return "null" if value is None else repr(value)


def apply(config, flag_values):
    """--config_file, then --params_override, then every flag that sets config keys, on
    `config` (in place); returns it."""
    if flag_values.config_file:
        overrides.apply_overrides(config, _to_config_keys(_read(flag_values.config_file), config))
    text = flag_values.params_override
    given = _to_config_keys(tpu_hparams.parse_text(text), config) if text else {}
    overrides.apply_overrides(config, given)
    settings = _flag_settings(flag_values, config)
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
