"""Typed configuration: plain dataclasses with defaults, one per concern."""

from __future__ import annotations

import dataclasses

AUGMENTATIONS = ("none", "randaugment", "bag_of_tricks")


@dataclasses.dataclass
class DataConfig:
    """Where the images come from and how they are prepared (SPEC 2.1, 2.2, 3)."""

    # 'tfrecord': ImageNet-format shards in data_dir. 'tfds:<name>': a prepared TFDS dataset.
    source: str = "tfrecord"
    data_dir: str = ""
    train_split: str = "train"
    eval_split: str = "validation"
    num_classes: int = 1000
    # Subtracted from the stored label: ImageNet TFRecords store 1..1000 (tfds sources: ignored).
    label_offset: int = 1
    image_size: int = 224
    eval_image_size: int = 0  # 0: same as image_size
    # Global batch sizes: split evenly over replicas.
    train_batch_size: int = 4096
    eval_batch_size: int = 1024
    augmentation: str = "randaugment"
    randaugment_layers: int = 2
    randaugment_magnitude: float = 10.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    shuffle_buffer: int = 16384
    cache: bool = False
    # The dtype of the images the model receives: 'float32' or 'bfloat16'.
    dtype: str = "float32"
    # Allow TFDS to download and prepare a dataset that is not in data_dir yet.
    tfds_download: bool = False
    seed: int | None = None

    def __post_init__(self):
        if self.augmentation not in AUGMENTATIONS:
            raise ValueError(
                f"data.augmentation={self.augmentation!r} is not known; use one of {AUGMENTATIONS}."
            )
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"data.dtype={self.dtype!r}; use 'float32' or 'bfloat16'.")

    @property
    def resolved_eval_image_size(self) -> int:
        return self.eval_image_size or self.image_size
