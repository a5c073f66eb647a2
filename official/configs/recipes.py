"""Named training recipes: functions returning a filled ExperimentConfig.

    python official/train.py --config=resnetrs50_i160 --strategy=tpu --tpu=$TPU_NAME \
        --data_dir=gs://bucket/imagenet --model_dir=gs://bucket/runs/rs50

A recipe starts from one of two bases, `tpu_imagenet()` (the published ImageNet recipes) and
`cpu_sample()` (the jobs on the bundled samples), and states only what differs from it; the
Bag-of-Tricks and Kinetics recipes share their setup with nothing else and are written out.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable

from official.configs.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    OptimizerConfig,
    RuntimeConfig,
    TrainConfig,
    VideoConfig,
)
from official.models.efficientnet import COEFFICIENTS

_RECIPES: dict[str, Callable[[], ExperimentConfig]] = {}
# The TPU recipes feed bfloat16 images, as the official TPU ResNet/EfficientNet input pipelines
# do: half the infeed bytes of float32, and the model computes in bfloat16 there anyway.
TPU_IMAGE_DTYPE = "bfloat16"
EFFICIENTNET_RS_NAME = re.compile(r"efficientnet_rs_(?P<variant>b\d+)_i(?P<size>\d+)")


def register(name: str):
    def wrap(fn):
        _RECIPES[name] = fn
        return fn

    return wrap


def get(name: str) -> ExperimentConfig:
    if name in _RECIPES:
        return _RECIPES[name]()
    rs = EFFICIENTNET_RS_NAME.fullmatch(name)
    if rs:
        return efficientnet_rs(rs["variant"], int(rs["size"]))
    close = difflib.get_close_matches(name, _RECIPES, n=4, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"Unknown recipe {name!r}.{hint} Recipes: {', '.join(list_recipes())}.")


def list_recipes() -> list[str]:
    """The registered names, and the EfficientNet-RS pattern (any reduced resolution)."""
    return [*_RECIPES, "efficientnet_rs_b<0-7>_i<size>"]


def derive(base: ExperimentConfig, **changes: dict) -> ExperimentConfig:
    """`base` with some fields of some groups replaced: derive(c, data=dict(image_size=160)).
    Each changed group is built anew, so it checks its values as one written out in full does."""
    groups = {name: dataclasses.replace(getattr(base, name), **f) for name, f in changes.items()}
    return dataclasses.replace(base, **groups)


# ---- The published ImageNet recipes on a TPU ------------------------------------------------
# The published ResNet-RS and EfficientNet numbers came from tensorflow/tpu's data ops as of the
# ResNet-RS release (9e57561, 2021-03-10): its RandAugment and its crop/resize/normalization,
# eval crop size / (size + 32) at every size (docs/data_ops.md).
OFFICIAL_DATA_OPS = dict(
    randaugment_variant="official_tpu", preprocessing="official_tpu", eval_crop_padding=32
)


def tpu_imagenet() -> ExperimentConfig:
    """What the ResNet-RS, EfficientNet, NFNet and resnet_main recipes share: ImageNet at batch
    4096 (eval 1024), RandAugment N=2, tensorflow/tpu's data ops, bfloat16 images; SGD with
    Nesterov momentum 0.9 at lr 0.1 * batch / 256 after 5 warmup epochs, then cosine; label
    smoothing 0.1, EMA 0.9999; 350 epochs on a TPU. The model, image size, RandAugment
    magnitude and weight decay are each recipe's own."""
    return ExperimentConfig(
        data=DataConfig(
            train_batch_size=4096,
            eval_batch_size=1024,
            augmentation="randaugment",
            randaugment_layers=2,
            dtype=TPU_IMAGE_DTYPE,
            **OFFICIAL_DATA_OPS,
        ),
        optimizer=OptimizerConfig(
            base_learning_rate=0.1,
            momentum=0.9,
            nesterov=True,
            warmup_epochs=5,
            label_smoothing=0.1,
            ema_decay=0.9999,
        ),
        train=TrainConfig(epochs=350),
        runtime=RuntimeConfig(strategy="tpu"),
    )


# ---- ResNet-RS, 350 epochs (Bello et al. 2021, table 7 / docs/REFERENCE.md §1.2 and 2.2) ---------
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
    RandAugment N=2, bfloat16 on TPU, 350 epochs = 109,475 steps; tensorflow/tpu's data ops."""
    return derive(
        tpu_imagenet(),
        model=dict(
            name=f"resnetrs{depth}",
            kwargs=dict(dropout_rate=dropout, stochastic_depth_rate=drop_path, bn_momentum=0.0),
        ),
        data=dict(image_size=image_size, randaugment_magnitude=magnitude),
        optimizer=dict(weight_decay=4e-5),
    )


for _name, _row in RESNET_RS.items():
    register(_name)(lambda row=_row: resnet_rs(*row))


@register("resnet50d_bag_of_tricks")
def resnet50d_bag_of_tricks() -> ExperimentConfig:
    """He et al. 2019 (docs/REFERENCE.md §2.1): ResNet-50-D, 120 epochs, batch 256 at lr 0.1, 5
    warmup epochs, cosine, Nesterov 0.9, weight decay 1e-4 on kernels, label smoothing 0.1,
    zero-gamma, mixed precision, colour jitter + PCA lighting; mixup (alpha 0.2) is
    `data.mixup_alpha=0.2`."""
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
    """Brock et al. 2021 (docs/REFERENCE.md §2.3): NFNet-F0 at 192 (test 256), 360 epochs, batch
    4096, Nesterov 0.9, lr 0.1 * batch / 256, cosine after 5 warmup epochs, weight decay 2e-5, AGC
    0.01, label smoothing 0.1, EMA 0.99999, RandAugment + mixup/CutMix. AGC's lambda 0.01 is the
    paper's value at batch 4096; smaller batches want a larger one (NFNets, figure 3)."""
    return derive(
        tpu_imagenet(),
        model=dict(name="nfnet_f0"),
        data=dict(
            image_size=192,
            eval_image_size=256,
            randaugment_magnitude=10,
            mixup_alpha=0.2,
            cutmix_alpha=1.0,
            # DeepMind's JAX pipeline, not tensorflow/tpu's, trained NFNets (docs/data_ops.md).
            preprocessing="tf2",
        ),
        optimizer=dict(weight_decay=2e-5, ema_decay=0.99999, agc_clip=0.01),
        train=dict(epochs=360),
    )


# ---- EfficientNet (Tan & Le 2019) and EfficientNet-RS (Bello et al. 2021, section 7.2) ---------
def efficientnet_randaugment_magnitude(image_size: int) -> int:
    """ResNet-RS paper, 7.2: magnitude 10 up to 224 pixels, 20 above 320, 15 in between."""
    if image_size <= 224:
        return 10
    return 20 if image_size > 320 else 15


def efficientnet_recipe(variant: str, image_size: int | None = None) -> ExperimentConfig:
    """EfficientNet-`variant` as its authors trained it: RMSProp (decay 0.9, momentum 0.9,
    epsilon 1e-3), lr 0.016 * batch / 256 (0.256 at 4096) after 5 warmup epochs, x0.97 every 2.4
    epochs, L2 weight decay 1e-5 in the loss, BN momentum 0.99, drop connect 0.2, the variant's
    dropout, label smoothing 0.1, EMA 0.9999, 350 epochs. Augmentation is RandAugment with the
    magnitude rule of the ResNet-RS paper (7.2), so that EfficientNet and EfficientNet-RS runs
    differ only in resolution; the 2019 paper used AutoAugment, which this library does not have.
    Data ops are tensorflow/tpu's (its efficientnet/preprocessing.py computes as resnet's).
    """
    if variant not in COEFFICIENTS:
        raise ValueError(f"EfficientNet variant {variant!r}; use one of {', '.join(COEFFICIENTS)}.")
    size = image_size or COEFFICIENTS[variant][2]
    return derive(
        tpu_imagenet(),
        model=dict(name=f"efficientnet_{variant}"),
        data=dict(image_size=size, randaugment_magnitude=efficientnet_randaugment_magnitude(size)),
        optimizer=dict(
            name="rmsprop",
            base_learning_rate=0.016,
            rmsprop_rho=0.9,
            epsilon=1e-3,
            schedule="exponential",
            decay_rate=0.97,
            decay_epochs=2.4,
            weight_decay=1e-5,
            weight_decay_type="l2",
        ),
    )


for _variant in ("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"):
    register(f"efficientnet_{_variant}")(lambda v=_variant: efficientnet_recipe(v))


def efficientnet_rs(variant: str, image_size: int) -> ExperimentConfig:
    """EfficientNet-RS (ResNet-RS paper, 7.2): the same network, width and depth, trained at a
    reduced resolution with everything else as the original recipe, RandAugment magnitude by the
    7.2 rule. The paper shows its chosen resolutions only in a figure (figure 5), so the
    resolution is the caller's: `efficientnet_rs_b4_i320` is B4 at 320 instead of 380."""
    if variant not in COEFFICIENTS:
        raise ValueError(
            f"Unknown recipe 'efficientnet_rs_{variant}_i{image_size}': EfficientNet variants "
            f"are {', '.join(COEFFICIENTS)}."
        )
    original = COEFFICIENTS[variant][2]
    if not 32 <= image_size < original:
        raise ValueError(
            f"Recipe 'efficientnet_rs_{variant}_i{image_size}': EfficientNet-RS trains at a "
            f"resolution below the original {original} of {variant} (and at least 32); "
            f"use efficientnet_{variant} for {original}."
        )
    return efficientnet_recipe(variant, image_size)


@register("resnet_main")
def resnet_main() -> ExperimentConfig:
    """The defaults of tensorflow/tpu's models/official/resnet/resnet_main.py (its
    configs/resnet_config.py), the base of `official/train.py --tpu=...` without --config
    (docs/tpu.md): ResNet-50 at 224, batch 1024, 112,590 steps (90 epochs), lr 0.1 * batch / 256
    after 5 warmup epochs, Nesterov momentum 0.9, L2 weight decay 1e-4 in the loss, no label
    smoothing, BN momentum 0.9, no EMA, crop and flip only (tensorflow/tpu's data ops), 1,251
    steps per loop and per evaluation, on a TPU. The decay after warmup is cosine here, where
    resnet_main.py divides the rate by 10 at 30, 60 and 80 of 90 epochs."""
    return derive(
        tpu_imagenet(),
        model=dict(name="resnet50"),
        data=dict(image_size=224, train_batch_size=1024, augmentation="none"),
        optimizer=dict(
            weight_decay=1e-4, weight_decay_type="l2", label_smoothing=0.0, ema_decay=0.0
        ),
        train=dict(
            epochs=None,
            train_steps=112_590,
            steps_per_loop=1251,
            eval_every_epochs=None,
            eval_every_steps=1251,
        ),
    )


# ---- The bundled samples, on this CPU (official/data/samples.py, video_samples.py) -----------
def cpu_sample() -> ExperimentConfig:
    """What the image and video samples share: a small ResNet-RS (width 0.25, one block per
    stage) at 32x32, crops of half the area or more, no augmentation; lr 0.4 * batch / 256 after
    1 warmup epoch, weight decay 5e-5, label smoothing 0.1, EMA 0.99; 12 epochs of 1,437 images
    (the clip set has as many videos as the digits set has images), evaluated every 4."""
    return ExperimentConfig(
        model=ModelConfig(
            name="resnetrs50",
            kwargs=dict(
                width_multiplier=0.25, block_repeats=[1, 1, 1, 1], dropout_rate=0.1, bn_momentum=0.9
            ),
        ),
        data=DataConfig(image_size=32, augmentation="none", crop_area_min=0.5, shuffle_buffer=2048),
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


@register("sample")
def sample() -> ExperimentConfig:
    """The default job: a small ResNet-RS (width 0.25, one block per stage) on the bundled digits
    (official/data/samples.py) at 32x32 on this CPU, 12 epochs in a few minutes."""
    return derive(
        cpu_sample(),
        data=dict(num_classes=10, train_batch_size=64, eval_batch_size=120, eval_crop_padding=0),
    )


# ---- Video: 3D ResNet-RS-50 on Kinetics-400 (ResNet-RS paper, section 8; docs/video.md) --------
K400_TRAIN_CLIPS = 215_570
K400_BATCH = 1024


@register("resnetrs50_3d_k400")
def resnetrs50_3d_k400() -> ExperimentConfig:
    """TF Model Garden's k400_resnet3drs_50_tpu.yaml ("expected accuracy 78.2%"): 32 frames at
    temporal stride 2, 224 crops (area 0.08-1, aspect 0.5-2) of 256-px frames, batch 1,024, SGD
    Nesterov 0.9 at lr 0.8 (0.2 * 1024 / 256) cosine over 73,682 steps after 1,050 linear warmup
    steps, L2 4e-5 in the loss, label smoothing 0.1, EMA 0.9999 of every weight, BN momentum 0
    and eps 1e-5, SE 0.25, stochastic depth 0.1, dropout 0.5, bfloat16; eval 10 clips x 3
    crops at 256. The warmup is given in epochs of the 215,570 clips: 1,050 steps exactly."""
    return ExperimentConfig(
        model=ModelConfig(
            name="resnetrs50_3d",
            kwargs=dict(
                stem_temporal_kernel=5,
                stem_temporal_stride=2,
                se_ratio=0.25,
                stochastic_depth_rate=0.1,
                dropout_rate=0.5,
                bn_momentum=0.0,
                bn_epsilon=1e-5,
                activation="relu",
            ),
        ),
        data=DataConfig(
            kind="video",
            num_classes=400,
            label_offset=0,
            image_size=224,
            eval_image_size=256,
            crop_area_min=0.08,
            train_batch_size=K400_BATCH,
            eval_batch_size=64,
            augmentation="none",
            # Model Garden's video default: a SequenceExample holds a whole video (megabytes).
            shuffle_buffer=64,
            dtype="bfloat16",
        ),
        video=VideoConfig(
            num_frames=32,
            temporal_stride=2,
            min_image_size=256,
            aspect_ratio_min=0.5,
            aspect_ratio_max=2.0,
            num_test_clips=10,
            num_test_crops=3,
        ),
        optimizer=OptimizerConfig(
            base_learning_rate=0.8 * 256 / K400_BATCH,
            momentum=0.9,
            nesterov=True,
            warmup_epochs=1050 * K400_BATCH / K400_TRAIN_CLIPS,
            schedule="cosine",
            weight_decay=4e-5,
            weight_decay_type="l2",
            label_smoothing=0.1,
            ema_decay=0.9999,
        ),
        train=TrainConfig(
            epochs=None,
            train_steps=73_682,
            num_train_images=K400_TRAIN_CLIPS,
            steps_per_loop=500,
            eval_every_epochs=None,
            eval_every_steps=500,
        ),
        runtime=RuntimeConfig(strategy="tpu", precision="bfloat16"),
    )


@register("sample_video")
def sample_video() -> ExperimentConfig:
    """The video job for this CPU: a small 3D ResNet-RS (width 0.25, one block per stage) on the
    bundled moving digits (official/data/video_samples.py: 8 motion directions, chance 0.125),
    8 frames at stride 2, 32x32 crops, no flip (a mirror image changes the direction);
    evaluation 2 clips x 3 crops."""
    return derive(
        cpu_sample(),
        model=dict(
            name="resnetrs50_3d",
            kwargs=dict(
                width_multiplier=0.25,
                block_repeats=[1, 1, 1, 1],
                dropout_rate=0.1,
                stochastic_depth_rate=0.0,
                bn_momentum=0.9,
            ),
        ),
        data=dict(
            kind="video",
            num_classes=8,
            label_offset=0,
            eval_image_size=32,
            train_batch_size=32,
            eval_batch_size=40,
        ),
        video=dict(
            num_frames=8,
            temporal_stride=2,
            min_image_size=32,
            random_flip=False,
            num_test_clips=2,
            num_test_crops=3,
        ),
    )
