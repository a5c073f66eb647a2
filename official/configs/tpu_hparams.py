"""tensorflow/tpu's ResNet hyperparameters as config keys.

tensorflow/tpu `models/official/resnet` keeps its hyperparameters flat (`train_batch_size: 1024`)
in `configs/resnet_config.py`, in the YAML files of `configs/cloud/` and `resnet_rs/configs/`,
and in resnet_main.py's flags of the same names. `translate` turns such a mapping into this
library's dotted config keys with the same meaning; docs/tpu.md has the table and the reasons for
every key that is ignored or refused.
"""

from __future__ import annotations

import difflib
import re

from official import models
from official.configs import overrides
from official.configs.overrides import ConfigError

# hparam -> config key, one to one.
SIMPLE = {
    "train_batch_size": "data.train_batch_size",
    "eval_batch_size": "data.eval_batch_size",
    "num_train_images": "train.num_train_images",
    "num_eval_images": "data.num_eval_images",
    "image_size": "data.image_size",
    "use_cache": "data.cache",
    "randaug_num_layers": "data.randaugment_layers",
    "randaug_magnitude": "data.randaugment_magnitude",
    "base_learning_rate": "optimizer.base_learning_rate",
    "momentum": "optimizer.momentum",
    "weight_decay": "optimizer.weight_decay",
    "label_smoothing": "optimizer.label_smoothing",
    "moving_average_decay": "optimizer.ema_decay",
    "iterations_per_loop": "train.steps_per_loop",
    "tpu": "runtime.tpu",
    "tpu_zone": "runtime.tpu_zone",
    "gcp_project": "runtime.gcp_project",
    "data_dir": "data.data_dir",
}
# hparam -> keyword of official/models/resnet.py::resnet, and how its value converts.
MODEL_KWARGS = {
    "se_ratio": ("se_ratio", lambda v: float(v or 0.0)),
    "use_resnetd_stem": ("stem", lambda v: "deep" if v else "basic"),
    "resnetd_shortcut": ("avg_down", bool),
    "replace_stem_max_pool": ("stem_pool", lambda v: "conv" if v else "max"),
    "dropout_rate": ("dropout_rate", lambda v: float(v or 0.0)),
    "drop_connect_rate": ("stochastic_depth_rate", lambda v: float(v or 0.0)),
    "bn_momentum": ("bn_momentum", float),
}
# Keys with no effect here, and why (accepted so that tensorflow/tpu's files read unchanged).
IGNORED = {
    "num_cores": "TPUStrategy uses every core of the TPU it connects to",
    "transpose_input": "a TPUEstimator input-layout trick; XLA chooses layouts itself",
    "skip_host_call": "summaries are written on the host once per loop, never per step",
    "num_parallel_calls": "the input pipeline uses tf.data.AUTOTUNE",
    "use_async_checkpointing": "checkpoints are written once per loop",
    "poly_rate": "used only by LARS (enable_lars), which is refused",
    "dropblock_keep_prob": "used only with dropblock_groups, which is refused",
    "dropblock_size": "used only with dropblock_groups, which is refused",
}
# Keys accepted only with the value that leaves the model and recipe unchanged.
NEUTRAL = {
    "enable_lars": ((False, None), "LARS is not implemented"),
    "dropblock_groups": (("", None), "DropBlock is not implemented"),
    "pre_activation": ((False, None), "pre-activation ResNet (v2) is not implemented"),
    "norm_act_layer": (("bn_relu", None), "EvoNorm is not implemented; bn_relu is"),
    "data_format": (("channels_last", None), "models are channels-last"),
}
SPECIAL = ("resnet_depth", "use_tpu", "num_label_classes", "augment_name", "train_steps")
SPECIAL += ("steps_per_eval", "precision")
KNOWN = {*SIMPLE, *MODEL_KWARGS, *IGNORED, *NEUTRAL, *SPECIAL}
GROUPS = ("model", "data", "optimizer", "train", "runtime")  # the config's own top-level keys
RESNET_NAME = re.compile(r"(?P<family>resnet|resnetrs|seresnet)(?P<depth>\d+)(?P<suffix>d?)")


def is_tpu_hparams(mapping: dict) -> bool:
    """True when `mapping` is in tensorflow/tpu's flat form; a mix of that form and config keys
    is an error naming one of each."""
    theirs = [k for k in mapping if k in KNOWN]
    ours = [k for k in mapping if "." in str(k) or k in GROUPS]
    if theirs and ours:
        raise ConfigError(
            f"{theirs[0]!r} is a tensorflow/tpu hparam and {ours[0]!r} a config key: "
            "one mapping must use one form."
        )
    return bool(theirs)


def translate(hparams: dict, config) -> dict:
    """Dotted config keys -> values for the tensorflow/tpu hparams `hparams`, applied to
    `config` (resnet_depth keeps the config's ResNet family)."""
    keys: dict = {}
    kwargs: dict = {}
    for name, value in hparams.items():
        if name in SIMPLE:
            keys[SIMPLE[name]] = value
        elif name in MODEL_KWARGS:
            keyword, convert = MODEL_KWARGS[name]
            kwargs[keyword] = convert(value)
        elif name in NEUTRAL:
            allowed, reason = NEUTRAL[name]
            if value not in allowed:
                raise ConfigError(f"{name}={value!r} is not supported: {reason}.")
        elif name in IGNORED:
            continue
        elif name == "train_steps":
            keys.update({"train.train_steps": value, "train.epochs": None})
        elif name == "steps_per_eval":
            keys.update({"train.eval_every_steps": value, "train.eval_every_epochs": None})
        elif name == "precision":
            # resnet_main.py: use_bfloat16 = precision == 'bfloat16' sets the images' dtype too.
            keys["runtime.precision"] = value
            keys["data.dtype"] = "bfloat16" if value == "bfloat16" else "float32"
        elif name == "use_tpu":
            keys["runtime.strategy"] = "tpu" if value else "one_device"
        elif name == "num_label_classes":
            keys["data.num_classes"] = value
            if value == 1001:  # tensorflow/tpu: 1001 keeps label 0 as the background class
                keys["data.label_offset"] = 0
        elif name == "augment_name":
            if value not in (None, "", "randaugment"):
                raise ConfigError(
                    f"augment_name={value!r} is not supported: RandAugment is ('randaugment'); "
                    "AutoAugment is not implemented."
                )
            keys["data.augmentation"] = value or "none"
        elif name != "resnet_depth":
            close = difflib.get_close_matches(name, KNOWN, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ConfigError(f"{name!r} is not a tensorflow/tpu ResNet hparam.{hint}")
    if "resnet_depth" in hparams and hparams["resnet_depth"] is not None:
        keys["model.name"] = _model_name(int(hparams["resnet_depth"]), kwargs, config)
    if kwargs:
        keys["model.kwargs"] = kwargs
    return keys


def _model_name(depth: int, kwargs: dict, config) -> str:
    """The registered ResNet of `depth` in the config's family (resnet50 -> resnet101,
    resnetrs50 -> resnetrs101), or ResNet-RS when the hparams ask for all of its changes."""
    ask_rs = kwargs.get("stem") == "deep" and kwargs.get("stem_pool") == "conv"
    ask_rs = ask_rs and kwargs.get("avg_down") and kwargs.get("se_ratio") == 0.25
    match = RESNET_NAME.fullmatch(config.model.name)
    if not match and not ask_rs:
        raise ConfigError(
            f"resnet_depth={depth}: the config's model {config.model.name!r} is not a ResNet; "
            "give a ResNet recipe with --config (or none: the resnet_main recipe)."
        )
    for key in ("depth", "block_repeats"):
        if key in config.model.kwargs:
            raise ConfigError(
                f"resnet_depth={depth} and model.kwargs.{key}={config.model.kwargs[key]} both "
                "set the depth; give one."
            )
    family, suffix = ("resnetrs", "") if ask_rs else (match["family"], match["suffix"])
    name = f"{family}{depth}{suffix}"
    if name not in models.list_models():
        matches = [RESNET_NAME.fullmatch(n) for n in models.list_models()]
        depths = sorted(
            int(m["depth"]) for m in matches if m and (m["family"], m["suffix"]) == (family, suffix)
        )
        raise ConfigError(
            f"resnet_depth={depth}: no model {name!r}; the {family}{suffix} depths are "
            f"{', '.join(map(str, depths))}."
        )
    return name


def parse_text(text: str) -> dict:
    """A --params_override value as tensorflow/tpu reads it: a YAML/JSON mapping, the
    comma-separated form `train_batch_size=512,iterations_per_loop=100`, or a YAML file."""
    if re.fullmatch(r"\s*[\w.]+\s*=.*", text, flags=re.S) and not text.lstrip().startswith("{"):
        mapping = {}
        for part in text.split(","):
            if "=" not in part:
                raise ConfigError(f"--params_override: {part.strip()!r} is not key=value.")
            key, value = part.split("=", 1)
            mapping[key.strip()] = overrides.yaml_load(value.strip())
        return mapping
    if text.strip().endswith((".yaml", ".yml")) and "\n" not in text.strip():
        return overrides.load_yaml(text.strip())
    return overrides.parse_override_text(text)
