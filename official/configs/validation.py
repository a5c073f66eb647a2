"""Every rule a config value must meet, in one place: choices, ranges and the few rules that
tie two fields together, checked before any work starts.

    validate(config)                  # all of them; train.py calls it on the resolved config
    validate(config, num_replicas=8)  # and the batch sizes split evenly over 8 replicas
    check_group("data", config.data)  # one group: each config group runs it when built or changed

Three tables (`CHOICES`, `RANGES`, `RULES`) are the whole rule set; docs/run_directory.md lists
them. A value that breaks one is a ConfigError of one line naming the key, the value and what
would be right, which official/train.py prints and exits 2 on. Non-finite numbers (.nan, .inf)
fail every range. This module imports nothing of the config schema (official/configs/config.py
imports it), so the rules cannot depend on anything but the values.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable


class ConfigError(ValueError):
    """A config key or value that does not fit the config's schema or its rules."""


@dataclasses.dataclass(frozen=True)
class Range:
    """low <= value (low < value when low_open) and value <= high (< when high_open)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = self.low is None or value > self.low or (value == self.low and not self.low_open)
        below = (
            self.high is None or value < self.high or (value == self.high and not self.high_open)
        )
        return above and below

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{_number(self.low)}, {_number(self.high)}{right}"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


POSITIVE = Range(0, low_open=True)
AT_LEAST_ONE = Range(1)
NON_NEGATIVE = Range(0)
PROBABILITY = Range(0, 1)
FRACTION_BELOW_ONE = Range(0, 1, high_open=True)  # momenta, decays: 1 would freeze the value
SEED = Range(0, 2**32 - 1)  # NumPy's seeds (keras.utils.set_random_seed)

RANGES: dict[str, Range] = {
    # data
    "data.num_classes": Range(2),
    "data.label_offset": NON_NEGATIVE,
    "data.image_size": AT_LEAST_ONE,
    "data.eval_image_size": NON_NEGATIVE,  # 0: the same as image_size
    "data.crop_area_min": Range(0, 1, low_open=True),
    "data.eval_crop_padding": NON_NEGATIVE,
    "data.train_batch_size": AT_LEAST_ONE,
    "data.eval_batch_size": AT_LEAST_ONE,
    "data.num_eval_images": NON_NEGATIVE,  # 0: all of them
    "data.randaugment_layers": NON_NEGATIVE,
    "data.randaugment_magnitude": NON_NEGATIVE,
    "data.mixup_alpha": NON_NEGATIVE,
    "data.cutmix_alpha": NON_NEGATIVE,
    "data.shuffle_buffer": AT_LEAST_ONE,
    "data.seed": SEED,  # or null: unseeded augmentation
    # optimizer
    "optimizer.base_learning_rate": POSITIVE,
    "optimizer.momentum": FRACTION_BELOW_ONE,
    "optimizer.rmsprop_rho": FRACTION_BELOW_ONE,
    "optimizer.epsilon": POSITIVE,
    "optimizer.warmup_epochs": NON_NEGATIVE,
    "optimizer.decay_rate": Range(0, 1, low_open=True),
    "optimizer.decay_epochs": POSITIVE,
    "optimizer.weight_decay": NON_NEGATIVE,
    "optimizer.label_smoothing": FRACTION_BELOW_ONE,
    "optimizer.ema_decay": FRACTION_BELOW_ONE,  # 0: no EMA
    "optimizer.agc_clip": NON_NEGATIVE,  # 0: no clipping
    "optimizer.layer_decay": Range(0, 1, low_open=True),  # 1: off
    # train
    "train.epochs": POSITIVE,  # or null, with train.train_steps set
    "train.train_steps": AT_LEAST_ONE,
    "train.num_train_images": AT_LEAST_ONE,
    "train.steps_per_loop": AT_LEAST_ONE,
    "train.max_checkpoints": AT_LEAST_ONE,
    "train.eval_every_epochs": POSITIVE,
    "train.eval_every_steps": AT_LEAST_ONE,
    "train.distillation_weight": PROBABILITY,
    "train.distillation_temperature": POSITIVE,
    "train.divergence_factor": NON_NEGATIVE,  # 0: no guard
    "train.divergence_loops": AT_LEAST_ONE,
    "train.head_only_epochs": NON_NEGATIVE,  # 0: off
    "runtime.seed": SEED,
    "runtime.collective_timeout_seconds": NON_NEGATIVE,  # 0: off
    # clips (data.kind: video; CHOICES has num_test_crops, RULES the aspect-ratio order)
    "video.num_frames": AT_LEAST_ONE,
    "video.temporal_stride": AT_LEAST_ONE,
    "video.min_image_size": AT_LEAST_ONE,
    "video.aspect_ratio_min": POSITIVE,
    "video.aspect_ratio_max": POSITIVE,
    "video.num_test_clips": AT_LEAST_ONE,
    # the model builders' common keyword arguments, where a config sets them
    "model.kwargs.dropout_rate": FRACTION_BELOW_ONE,
    "model.kwargs.stochastic_depth_rate": FRACTION_BELOW_ONE,
    "model.kwargs.bn_momentum": PROBABILITY,
    "model.kwargs.width_multiplier": POSITIVE,
    "model.kwargs.se_ratio": PROBABILITY,
}

# ---- Choices ----
# 'image': tf.train.Example images (official/data/pipeline.py). 'video': SequenceExample clips
# (official/data/video.py) with the `video` group's sampling, multi-view evaluation and export.
DATA_KINDS = ("image", "video")
AUGMENTATIONS = ("none", "randaugment", "bag_of_tricks")
# RandAugment arithmetic (official/data/randaugment.py) and the crop/resize/normalization
# (official/data/preprocess.py); docs/data_ops.md describes each setting.
RANDAUGMENT_VARIANTS = ("official_tpu", "pil", "model_garden")
PREPROCESSINGS = ("tf2", "official_tpu")
IMAGE_DTYPES = ("float32", "bfloat16")
OPTIMIZERS = ("sgd", "rmsprop")
SCHEDULES = ("cosine", "exponential")
WEIGHT_DECAY_TYPES = ("decoupled", "l2")
# official/training/remat.py: 'stages' recomputes each stage's activations in the backward pass.
REMAT_MODES = ("none", "stages")
# official/training/runtime.py builds each (get_strategy) and resolves 'auto' (resolve_precision).
STRATEGIES = ("tpu", "mirrored", "multi_worker", "one_device", "cpu")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")

CHOICES: dict[str, tuple] = {
    "data.kind": DATA_KINDS,
    "data.augmentation": AUGMENTATIONS,
    "data.randaugment_variant": RANDAUGMENT_VARIANTS,
    "data.preprocessing": PREPROCESSINGS,
    "data.dtype": IMAGE_DTYPES,
    "optimizer.name": OPTIMIZERS,
    "optimizer.schedule": SCHEDULES,
    "optimizer.weight_decay_type": WEIGHT_DECAY_TYPES,
    "train.remat": REMAT_MODES,
    "runtime.strategy": STRATEGIES,
    "runtime.precision": PRECISIONS,
    # 1: the centre crop; 3: left, centre and right along the long side (docs/video.md).
    "video.num_test_crops": (1, 3),
}


def check_choice(name: str, value, allowed: tuple) -> None:
    """A ConfigError unless `value` is one of `allowed`; `name` is the key or flag shown."""
    if value not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise ConfigError(f"{name}={value!r} is not known; use one of {shown}.")


# ---- Rules that tie fields together: (group, rule); a rule returns the error or None ----
def _video_data(data) -> str | None:
    if data.kind != "video":
        return None
    unsupported = {
        "source": data.source != "tfrecord",
        "augmentation": data.augmentation != "none",
        "mixup_alpha": bool(data.mixup_alpha),
        "cutmix_alpha": bool(data.cutmix_alpha),
        "pseudo_label_dir": bool(data.pseudo_label_dir),
        "mean_rgb": data.mean_rgb is not None,
    }
    for field, bad in unsupported.items():
        if bad:
            return (
                f"data.{field}={getattr(data, field)!r} is not available for data.kind='video' "
                "(clip TFRecords, no RandAugment, mixup, CutMix, pseudo labels or own "
                "normalization): use source 'tfrecord', augmentation 'none', 0, '', null."
            )
    return None


def _normalization(data) -> str | None:
    if (data.mean_rgb is None) != (data.stddev_rgb is None):
        return (
            f"data.mean_rgb={data.mean_rgb} and data.stddev_rgb={data.stddev_rgb}: set both "
            "(three values each, pixel units) or neither."
        )
    for key, values, low in (("mean_rgb", data.mean_rgb, None), ("stddev_rgb", data.stddev_rgb, 0)):
        if values is None:
            continue
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        good = len(values) == 3 and len(numbers) == 3 and all(math.isfinite(v) for v in numbers)
        if not good or (low is not None and min(numbers) <= low):
            rule = "three numbers > 0" if low is not None else "three numbers"
            return f"data.{key}={values!r}: use {rule}, one per RGB channel in pixel units."
    return None


def _pseudo_labels(data) -> str | None:
    if data.pseudo_label_dir and data.source != "tfrecord":
        return f"data.pseudo_label_dir needs data.source='tfrecord', not {data.source!r}."
    return None


def _aspect_ratios(video) -> str | None:
    if video.aspect_ratio_min > video.aspect_ratio_max:
        return (
            f"video.aspect_ratio_min={video.aspect_ratio_min}, aspect_ratio_max="
            f"{video.aspect_ratio_max}: need 0 < min <= max."
        )
    return None


# Pairs of config keys of which exactly one is set (the other null): the run length and the
# evaluation interval, each in epochs or in steps. An override that sets one clears the other
# (official/configs/overrides.py).
ONE_OF = (
    ("train.epochs", "train.train_steps"),
    ("train.eval_every_epochs", "train.eval_every_steps"),
)


def _one_of(train) -> str | None:
    for a, b in ONE_OF:
        a, b = a.split(".")[1], b.split(".")[1]
        if (getattr(train, a) is None) == (getattr(train, b) is None):
            return (
                f"train.{a}={getattr(train, a)} and train.{b}={getattr(train, b)}: set exactly "
                "one of the two (the other null)."
            )
    return None


def _divergence_guard(train) -> str | None:
    if train.divergence_factor and train.divergence_factor <= 1:
        return (
            f"train.divergence_factor={train.divergence_factor!r} is out of range: it must be > 1 "
            "(a loss that grew past that many times its first value), or 0 for off."
        )
    return None


FREEZE_PART = re.compile(r"^(|stem|backbone|stage\d+)$")
LR_PART = re.compile(r"^(stem|neck|head|stage\d+)$")


def _freeze_part(train) -> str | None:
    # Whether the model has that stage is known once it is built (official/models/freezing.py).
    if not FREEZE_PART.match(train.freeze):
        return (
            f"train.freeze={train.freeze!r} is not a part: use '', 'stem', 'stage<S>' (the stem "
            "and the stages up to S) or 'backbone'."
        )
    return None


def _lr_multipliers(optimizer) -> str | None:
    for key, value in optimizer.lr_multipliers.items():
        if not isinstance(key, str) or not LR_PART.match(key):
            return (
                f"optimizer.lr_multipliers: {key!r} is not a part; use 'stem', 'stage<S>', "
                "'neck' or 'head'."
            )
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and value > 0):
            return f"optimizer.lr_multipliers.{key}={value!r} is out of range: it must be > 0."
    if optimizer.lr_multipliers and optimizer.layer_decay != 1:
        return (
            f"optimizer.layer_decay={optimizer.layer_decay} and optimizer.lr_multipliers: set one "
            "of the two (layer_decay 1 or lr_multipliers {})."
        )
    return None


# official/training/exporting.py writes each at the end of a training run.
EXPORT_FORMATS = ("timm",)


def _export_formats(export) -> str | None:
    formats = export.formats
    if not isinstance(formats, list | tuple):
        return f"export.formats={formats!r} is not a list; use e.g. ['timm']."
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        return f"export.formats entry {unknown[0]!r} is not known; use {', '.join(EXPORT_FORMATS)}."
    return None


RULES: tuple[tuple[str, Callable], ...] = (
    ("data", _video_data),
    ("data", _normalization),
    ("data", _pseudo_labels),
    ("video", _aspect_ratios),
    ("export", _export_formats),
    ("train", _one_of),
    ("train", _divergence_guard),
    ("train", _freeze_part),
    ("optimizer", _lr_multipliers),
)


# ---- Checking ----
def _value(group, field: str):
    if field.startswith("kwargs."):
        return group.kwargs.get(field[len("kwargs.") :])
    return getattr(group, field)


def _check_range(key: str, group) -> None:
    value = _value(group, key.partition(".")[2])
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return  # unset (model kwargs, the other of epochs / train_steps); types: overrides
    if not RANGES[key].contains(value):
        raise ConfigError(f"{key}={value!r} is out of range: it must be {RANGES[key]}.")


def check_group(name: str, group) -> None:
    """Every range, choice and rule of the config group `name` ('data', 'train', ...) on
    `group`, in that order; the first broken one is a ConfigError."""
    for key in RANGES:
        if key.partition(".")[0] == name:
            _check_range(key, group)
    for key, allowed in CHOICES.items():
        prefix, _, field = key.partition(".")
        if prefix == name:
            check_choice(key, getattr(group, field), allowed)
    for prefix, rule in RULES:
        message = rule(group) if prefix == name else None
        if message:
            raise ConfigError(message)


# Split over the replicas: each replica gets batch / replicas examples.
PER_REPLICA = ("data.train_batch_size", "data.eval_batch_size")


def validate(config, num_replicas: int = 1, split_batches: tuple[str, ...] = PER_REPLICA) -> None:
    """Raises ConfigError for the first broken rule: every value's range first (table order),
    then the choices and rules of each group, then a batch size among `split_batches` (the ones
    the job uses) that does not split evenly over `num_replicas`."""
    for key in RANGES:
        _check_range(key, getattr(config, key.partition(".")[0]))
    for field in dataclasses.fields(config):
        check_group(field.name, getattr(config, field.name))
    for key in split_batches:
        group, _, field = key.partition(".")
        value = getattr(getattr(config, group), field)
        if value % num_replicas:
            raise ConfigError(
                f"{key}={value} does not split over {num_replicas} replicas: use a multiple "
                f"of {num_replicas}."
            )
