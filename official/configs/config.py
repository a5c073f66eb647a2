"""Typed configuration: plain dataclasses with defaults, one per concern. What values are
allowed is official/configs/validation.py's alone: each group checks itself there when it is
built (and official/configs/overrides.py re-checks it after every override)."""

from __future__ import annotations

import dataclasses
import math

from official.configs import validation
from official.configs.validation import (  # noqa: F401 (the choices, where readers look for them)
    AUGMENTATIONS,
    DATA_KINDS,
    ONE_OF,
    OPTIMIZERS,
    PREPROCESSINGS,
    RANDAUGMENT_VARIANTS,
    SCHEDULES,
    WEIGHT_DECAY_TYPES,
)


class Checked:
    """A config group that checks its values against official/configs/validation.py."""

    GROUP = ""

    def __post_init__(self):
        validation.check_group(self.GROUP, self)


@dataclasses.dataclass
class DataConfig(Checked):
    """Where the images come from and how they are prepared (docs/REFERENCE.md §2.1, 2.2, 3)."""

    GROUP = "data"

    kind: str = "image"
    # 'tfrecord': ImageNet-format shards in data_dir. 'tfds:<name>': a prepared TFDS dataset.
    # 'synthetic': random images in memory, for speed measurements (official/data/synthetic.py).
    source: str = "tfrecord"
    data_dir: str = ""
    train_split: str = "train"
    eval_split: str = "validation"
    num_classes: int = 1000
    # Subtracted from the stored label: ImageNet TFRecords store 1..1000 (tfds sources: ignored).
    label_offset: int = 1
    image_size: int = 224
    eval_image_size: int = 0  # 0: same as image_size
    # Random-resized crop area range (docs/REFERENCE.md §2.1: 8%-100%) and the eval crop's padding:
    # the center crop keeps image_size / (image_size + padding) of the shorter side
    # (docs/REFERENCE.md §2.2: 32).
    crop_area_min: float = 0.08
    eval_crop_padding: int = 32
    # Evaluate on the first num_eval_images images of eval_split (tensorflow/tpu's
    # --num_eval_images); 0: all of them.
    num_eval_images: int = 0
    # Global batch sizes: split evenly over replicas.
    train_batch_size: int = 4096
    eval_batch_size: int = 1024
    augmentation: str = "randaugment"
    randaugment_layers: int = 2
    randaugment_magnitude: float = 10.0
    # 'official_tpu': bit-exact to tensorflow/tpu's autoaugment.py, quirks included; 'pil': the
    # ops as PIL defines them; 'model_garden': tensorflow/models' augment.py.
    randaugment_variant: str = "official_tpu"
    # Crop/resize/mean-std: 'tf2' (TF2 bicubic resize, mean 123.68, ...) or 'official_tpu'
    # (tensorflow/tpu resnet_preprocessing.py: TF1 resize_bicubic, mean 255 x 0.485, ...).
    preprocessing: str = "tf2"
    # The normalization's mean and std per RGB channel in pixel units (0..255) when they are not
    # the preprocessing's: weights trained with other statistics. Empty: the preprocessing's.
    # train.init_weights fills both from its source when they differ (docs/training.md).
    mean_rgb: list | None = None
    stddev_rgb: list | None = None
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    shuffle_buffer: int = 16384
    cache: bool = False
    # The dtype of the images the model receives: 'float32' or 'bfloat16'.
    dtype: str = "float32"
    # Pseudo-labeled shards (official/pseudo_label.py) trained on together with the train
    # split (tfrecord sources); train.num_train_images should count both.
    pseudo_label_dir: str = ""
    # Allow TFDS to download and prepare a dataset that is not in data_dir yet.
    tfds_download: bool = False
    # Seeds the file order, the shuffle and every image's augmentation (stateless): two runs
    # with the same seed give the same batches, unless mixup/CutMix is on (Keras' layers draw
    # from a stateful generator). None: the shuffles follow TF's global seed and the
    # augmentation seed is drawn from Python's `random`.
    seed: int | None = None

    @property
    def resolved_eval_image_size(self) -> int:
        return self.eval_image_size or self.image_size

    @property
    def given_mean_std(self) -> tuple[tuple, tuple] | None:
        """(mean, std) when data.mean_rgb and data.stddev_rgb are set, else None."""
        if self.mean_rgb is None:
            return None
        return tuple(float(m) for m in self.mean_rgb), tuple(float(s) for s in self.stddev_rgb)


@dataclasses.dataclass
class VideoConfig(Checked):
    """Clip sampling and multi-view evaluation when data.kind == 'video' (docs/video.md).

    Training: one clip of num_frames frames every temporal_stride frames from a random start
    (short videos loop), one random crop (data.crop_area_min..1 of the area, aspect ratio in
    [aspect_ratio_min, aspect_ratio_max]) resized to data.image_size, and one flip for the
    whole clip. Evaluation: num_test_clips evenly spaced clips x num_test_crops crops of
    data.eval_image_size (left/centre/right along the long side) after resizing the short side
    to min_image_size; the softmax is averaged over those views.
    """

    GROUP = "video"

    num_frames: int = 32
    temporal_stride: int = 2
    min_image_size: int = 256
    aspect_ratio_min: float = 0.5
    aspect_ratio_max: float = 2.0
    # Off for data whose label a mirror image changes (the sample set's motion directions).
    random_flip: bool = True
    num_test_clips: int = 10
    num_test_crops: int = 3

    @property
    def num_test_views(self) -> int:
        return self.num_test_clips * self.num_test_crops


@dataclasses.dataclass
class ModelConfig(Checked):
    """A registered model name and keyword overrides for its builder (checked against it)."""

    GROUP = "model"

    name: str = "resnetrs50"
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class OptimizerConfig(Checked):
    """SGD with Nesterov momentum on a warmup + cosine schedule (docs/REFERENCE.md §2.1-2.3), or the
    original EfficientNet's RMSProp on a warmup + staircase exponential decay."""

    GROUP = "optimizer"

    # 'sgd' (momentum, nesterov) or 'rmsprop' (rmsprop_rho, momentum, epsilon).
    name: str = "sgd"
    # Peak learning rate = base_learning_rate * global batch / 256.
    base_learning_rate: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    rmsprop_rho: float = 0.9
    epsilon: float = 1e-3
    warmup_epochs: float = 5.0
    # 'cosine': down to 0 at the last step. 'exponential': x decay_rate every decay_epochs.
    schedule: str = "cosine"
    decay_rate: float = 0.97
    decay_epochs: float = 2.4
    # On conv and dense kernels only. 'decoupled': Keras optimizers' `weight_decay`
    # (w -= lr * wd * w); 'l2': wd * ||w||^2 / 2 added to the loss, as the official TF code does.
    weight_decay: float = 4e-5
    weight_decay_type: str = "decoupled"
    label_smoothing: float = 0.1
    # Exponential moving average of the weights and BN statistics; 0 turns it off.
    ema_decay: float = 0.0
    # Adaptive gradient clipping (NFNets): unit-wise clip factor lambda; 0 turns it off.
    agc_clip: float = 0.0
    # Per-variable learning rates (official/training/layer_decay.py; docs/training.md,
    # "Fine-tuning controls"): layer-wise decay, the layer at depth d of D at lr * decay^(D - d)
    # (1: off); or one multiplier per part, e.g. {"stem": 0.1, "stage2": 0.1, "stage3": 0.5}
    # ('stem', 'stage<S>', 'neck', 'head'; 1 where absent). Not both.
    layer_decay: float = 1.0
    lr_multipliers: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainConfig(Checked):
    """The run's length and cadence. The length is `epochs` (of num_train_images) or
    `train_steps` (tensorflow/tpu's --train_steps), exactly one of them; the learning-rate
    schedule ends at that step either way (docs/tpu.md)."""

    GROUP = "train"

    epochs: float | None = 350.0
    train_steps: int | None = None
    num_train_images: int = 1_281_167
    # Steps run on the device between returns to the host (tensorflow/tpu's
    # --iterations_per_loop); every loop ends with a NaN check, a log line, summaries and a
    # checkpoint.
    steps_per_loop: int = 1000
    max_checkpoints: int = 3
    # train_and_eval evaluates every this many epochs, or steps (tensorflow/tpu's
    # --steps_per_eval), exactly one of them; and always at the end.
    eval_every_epochs: float | None = 10.0
    eval_every_steps: int | None = None
    # Fine-tuning: start from a training run's directory or a .keras file (a new classifier if
    # the class count differs). A checkpoint already in model_dir takes precedence (resume).
    init_weights: str = ""
    # Knowledge distillation: a teacher (SavedModel dir or .keras file) and its loss weight.
    teacher: str = ""
    distillation_weight: float = 0.0
    distillation_temperature: float = 1.0
    # Divergence guard (official/training/divergence.py): a loop loss above divergence_factor x
    # the first loop's for divergence_loops loops in a row stops the run like a NaN loss does;
    # those loops are not checkpointed. divergence_factor 0 turns it off.
    divergence_factor: float = 10.0
    divergence_loops: int = 3
    # Fine-tuning controls (official/models/freezing.py; docs/training.md, "Fine-tuning
    # controls"). freeze: '' (nothing), 'stem', 'stage<S>' (the stem and the stages up to S, in
    # the family's numbering) or 'backbone' (all but the head); frozen BN runs in inference mode.
    freeze: str = ""
    # Every BN in inference mode (moving statistics fixed) while gamma and beta still train.
    frozen_bn_statistics: bool = False
    # The first head_only_epochs train the head alone (the backbone frozen), then everything
    # that `freeze` leaves trainable.
    head_only_epochs: float = 0.0
    # Gradient checkpointing: 'stages' runs each stage again in the backward pass instead of
    # keeping its activations (official/training/remat.py); 'none'.
    remat: str = "none"

    def steps_per_epoch(self, global_batch: int) -> float:
        return self.num_train_images / global_batch

    def total_steps(self, global_batch: int) -> int:
        """train_steps, or ceil(epochs * images / batch): 109,475 for 350 ImageNet epochs at
        4096 (docs/REFERENCE.md §2.2)."""
        if self.train_steps is not None:
            return self.train_steps
        return math.ceil(self.epochs * self.num_train_images / global_batch)

    def eval_interval(self, global_batch: int) -> int:
        """Steps between evaluations in train_and_eval."""
        if self.eval_every_steps is not None:
            return max(1, self.eval_every_steps)
        return max(1, round(self.eval_every_epochs * self.steps_per_epoch(global_batch)))


@dataclasses.dataclass
class RuntimeConfig(Checked):
    GROUP = "runtime"

    strategy: str = "cpu"
    tpu: str = ""
    # Where the TPU named by `tpu` is, when this machine is not in its zone / project
    # (tensorflow/tpu's --tpu_zone, --gcp_project); empty: found from the VM's metadata.
    tpu_zone: str = ""
    gcp_project: str = ""
    # 'auto': bfloat16 on TPU, float16 on GPU, bfloat16 on a CPU with native bfloat16
    # (AVX512_BF16 or AMX), else float32 (training/runtime.py). Or float32/bfloat16/float16.
    precision: str = "auto"
    xla: bool = False
    seed: int = 0
    # multi_worker: a worker that stops sending heartbeats (killed, stopped, its VM gone) stops
    # the others through TensorFlow's coordination service, always. > 0: also a collective
    # that waits longer than this for a worker alive but stuck (training/worker_failures.py).
    # Off (0) by default: TensorFlow times each collective with a thread of its own that
    # sleeps the whole timeout, so threads pile up with the collectives run (a debugging aid).
    collective_timeout_seconds: float = 0.0


@dataclasses.dataclass
class ExportConfig(Checked):
    """What a training run writes at its end besides its checkpoints, model.keras and (in
    train_and_eval) its SavedModel (docs/training.md, "Exports at the end of a run")."""

    GROUP = "export"

    # 'timm': the model as timm's hub layout in <model_dir>/timm/ (model.safetensors +
    # config.json, official/weights/to_timm.py); checked when the run starts.
    formats: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ExperimentConfig:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)
    video: VideoConfig = dataclasses.field(default_factory=VideoConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
