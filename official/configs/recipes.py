"""Named training recipes: functions returning a filled ExperimentConfig.

    python official/train.py --config=resnetrs50_i160 --strategy=tpu --tpu=$TPU_NAME \
        --data_dir=gs://bucket/imagenet --model_dir=gs://bucket/runs/rs50
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from official.configs.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    OptimizerConfig,
    RuntimeConfig,
    TrainConfig,
)

_RECIPES: dict[str, Callable[[], ExperimentConfig]] = {}


def register(name: str):
    def wrap(fn):
        _RECIPES[name] = fn
        return fn

    return wrap


def get(name: str) -> ExperimentConfig:
    if name not in _RECIPES:
        close = difflib.get_close_matches(name, _RECIPES, n=4, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown recipe {name!r}.{hint} Recipes: {', '.join(_RECIPES)}.")
    return _RECIPES[name]()


def list_recipes() -> list[str]:
    return list(_RECIPES)


# ---- ResNet-RS, 350 epochs (Bello et al. 2021, table 7 / SPEC 1.2 and 2.2) ----------------------
# name: (depth, image size, RandAugment magnitude, dropout, stochastic depth)
RESNET_RS = {
    "resnetrs50_i160": (50, 160, 10, 0.25, 0.0),
    "resnetrs101_i160": (101, 160, 10, 0.25, 0.0),
    "resnetrs101_i192": (101, 192, 15, 0.25, 0.0),
    "resnetrs152_i192": (152, 192, 15, 0.25, 0.0),
    "resnetrs152_i224": (152, 224, 15, 0.25, 0.0),
    "resnetrs152_i256": (152, 256, 15, 0.25, 0.0),
    "resnetrs200_i256": (200, 256, 15, 0.25, 0.1),
    "resnetrs270_i256": (270, 256, 15, 0.25, 0.1),
    "resnetrs350_i256": (350, 256, 15, 0.25, 0.1),
    "resnetrs350_i320": (350, 320, 15, 0.4, 0.1),
    "resnetrs420_i320": (420, 320, 15, 0.4, 0.1),
}


def resnet_rs(depth: int, image_size: int, magnitude: int, dropout: float, drop_path: float):
    """Batch 4096, lr 0.1 * 4096 / 256 = 1.6, 5 warmup epochs then cosine, Nesterov 0.9, weight
    decay 4e-5, label smoothing 0.1, EMA 0.9999 (BN statistics included, BN momentum 0),
    RandAugment N=2, bfloat16 on TPU, 350 epochs = 109,475 steps."""
    return ExperimentConfig(
        model=ModelConfig(
            name=f"resnetrs{depth}",
            kwargs=dict(dropout_rate=dropout, stochastic_depth_rate=drop_path, bn_momentum=0.0),
        ),
        data=DataConfig(
            image_size=image_size,
            train_batch_size=4096,
            eval_batch_size=1024,
            augmentation="randaugment",
            randaugment_layers=2,
            randaugment_magnitude=magnitude,
        ),
        optimizer=OptimizerConfig(
            base_learning_rate=0.1,
            momentum=0.9,
            nesterov=True,
            warmup_epochs=5,
            weight_decay=4e-5,
            label_smoothing=0.1,
            ema_decay=0.9999,
        ),
        train=TrainConfig(epochs=350),
        runtime=RuntimeConfig(strategy="tpu"),
    )


for _name, _row in RESNET_RS.items():
    register(_name)(lambda row=_row: resnet_rs(*row))


@register("resnet50d_bag_of_tricks")
def resnet50d_bag_of_tricks() -> ExperimentConfig:
    """He et al. 2019 (SPEC 2.1): ResNet-50-D, 120 epochs, batch 256 at lr 0.1, 5 warmup epochs,
    cosine, Nesterov 0.9, weight decay 1e-4 on kernels, label smoothing 0.1, zero-gamma, mixed
    precision, colour jitter + PCA lighting; mixup (alpha 0.2) is `data.mixup_alpha=0.2`."""
    return ExperimentConfig(
        model=ModelConfig(name="resnet50d"),
        data=DataConfig(
            image_size=224, train_batch_size=256, eval_batch_size=256, augmentation="bag_of_tricks"
        ),
        optimizer=OptimizerConfig(
            base_learning_rate=0.1, warmup_epochs=5, weight_decay=1e-4, label_smoothing=0.1
        ),
        train=TrainConfig(epochs=120),
        runtime=RuntimeConfig(strategy="mirrored"),
    )


@register("nfnet_f0")
def nfnet_f0() -> ExperimentConfig:
    """Brock et al. 2021 (SPEC 2.3): NFNet-F0 at 192 (test 256), 360 epochs, batch 4096, Nesterov
    0.9, lr 0.1 * batch / 256, cosine after 5 warmup epochs, weight decay 2e-5, AGC 0.01, label
    smoothing 0.1, EMA 0.99999, RandAugment + mixup/CutMix. AGC's lambda 0.01 is the paper's
    value at batch 4096; smaller batches want a larger one (NFNets, figure 3)."""
    return ExperimentConfig(
        model=ModelConfig(name="nfnet_f0"),
        data=DataConfig(
            image_size=192,
            eval_image_size=256,
            train_batch_size=4096,
            eval_batch_size=1024,
            augmentation="randaugment",
            randaugment_magnitude=10,
            mixup_alpha=0.2,
            cutmix_alpha=1.0,
        ),
        optimizer=OptimizerConfig(
            base_learning_rate=0.1,
            warmup_epochs=5,
            weight_decay=2e-5,
            label_smoothing=0.1,
            ema_decay=0.99999,
            agc_clip=0.01,
        ),
        train=TrainConfig(epochs=360),
        runtime=RuntimeConfig(strategy="tpu"),
    )


@register("sample")
def sample() -> ExperimentConfig:
    """The default job: a small ResNet-RS (width 0.25, one block per stage) on the bundled digits
    (official/data/samples.py) at 32x32 on this CPU, 12 epochs in a few minutes."""
    return ExperimentConfig(
        model=ModelConfig(
            name="resnetrs50",
            kwargs=dict(
                width_multiplier=0.25, block_repeats=[1, 1, 1, 1], dropout_rate=0.1, bn_momentum=0.9
            ),
        ),
        data=DataConfig(
            num_classes=10,
            image_size=32,
            train_batch_size=64,
            eval_batch_size=120,
            augmentation="none",
            crop_area_min=0.5,
            eval_crop_padding=0,
            shuffle_buffer=2048,
        ),
        optimizer=OptimizerConfig(
            base_learning_rate=0.4,
            warmup_epochs=1,
            weight_decay=5e-5,
            label_smoothing=0.1,
            ema_decay=0.99,
        ),
        train=TrainConfig(epochs=12, num_train_images=1437, steps_per_loop=45, eval_every_epochs=4),
        runtime=RuntimeConfig(strategy="cpu"),
    )
