"""The allowed range of every numeric config field, checked before any work starts.

    validate(config)                  # every range; train.py calls it on the resolved config
    validate(config, num_replicas=8)  # and the batch sizes split evenly over 8 replicas

One table (`RANGES`) is the whole rule set; docs/run_directory.md lists it. A value outside its
range is a ConfigError of one line naming the key, the value and the range, which
official/train.py prints and exits 2 on. Non-finite numbers (.nan, .inf) fail every range.
"""

from __future__ import annotations

import dataclasses
import math

from official.configs.overrides import ConfigError


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
    "runtime.seed": SEED,
    # clips (data.kind: video; config.py also checks num_test_crops and the aspect-ratio order)
    "video.num_frames": AT_LEAST_ONE,
    "video.temporal_stride": AT_LEAST_ONE,
    "video.min_image_size": AT_LEAST_ONE,
    "video.aspect_ratio_min": POSITIVE,
    "video.aspect_ratio_max": POSITIVE,
    "video.num_test_clips": AT_LEAST_ONE,
    "video.num_test_crops": AT_LEAST_ONE,
    # the model builders' common keyword arguments, where a config sets them
    "model.kwargs.dropout_rate": FRACTION_BELOW_ONE,
    "model.kwargs.stochastic_depth_rate": FRACTION_BELOW_ONE,
    "model.kwargs.bn_momentum": PROBABILITY,
    "model.kwargs.width_multiplier": POSITIVE,
    "model.kwargs.se_ratio": PROBABILITY,
}

# Split over the replicas: each replica gets batch / replicas examples.
PER_REPLICA = ("data.train_batch_size", "data.eval_batch_size")


def _value(config, key: str):
    group, _, rest = key.partition(".")
    target = getattr(config, group)
    if rest.startswith("kwargs."):
        return target.kwargs.get(rest[len("kwargs.") :])
    return getattr(target, rest)


def validate(config, num_replicas: int = 1, split_batches: tuple[str, ...] = PER_REPLICA) -> None:
    """Raises ConfigError for the first value outside its range in RANGES, or a batch size
    among `split_batches` (the ones the job uses) that does not split evenly over
    `num_replicas`."""
    for key, allowed in RANGES.items():
        value = _value(config, key)
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue  # unset (model kwargs, the other of epochs / train_steps); types: overrides
        if not allowed.contains(value):
            raise ConfigError(f"{key}={value!r} is out of range: it must be {allowed}.")
    if config.train.divergence_factor and config.train.divergence_factor <= 1:
        raise ConfigError(
            f"train.divergence_factor={config.train.divergence_factor!r} is out of range: it "
            "must be > 1 (a loss that grew past that many times its first value), or 0 for off."
        )
    for key in split_batches:
        value = _value(config, key)
        if value % num_replicas:
            raise ConfigError(
                f"{key}={value} does not split over {num_replicas} replicas: use a multiple "
                f"of {num_replicas}."
            )
