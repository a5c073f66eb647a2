"""Fine-tuning (docs/REFERENCE.md §2.4): a run starts from another run's weights, with a new
classifier when its class count differs.

    python official/train.py --config=sample --model_dir=runs/digits_ft --params_override='{
        "train.init_weights": "runs/sample", "optimizer.base_learning_rate": 0.04}'

The source may also be converted pretrained weights (`python -m official.weights convert`, a
`.weights.h5` file that records its network and conventions; docs/weights.md); the run's
model.kwargs must then carry the same conventions, e.g. {"padding": "symmetric"}.

The run normalizes its images as the source's weights were trained (settle_normalization): a
source whose mean and std differ from the run's preprocessing (converted timm weights with
their pretrained_cfg, e.g. tf_efficientnet_b0's 0.5 / 0.5; a run with data.mean_rgb) fills
data.mean_rgb and data.stddev_rgb, unless the config sets them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import zipfile
from collections.abc import Collection

import keras
import numpy as np
import tensorflow as tf

from official import models
from official.configs.config import ExperimentConfig, TrainConfig
from official.data import preprocess
from official.data.eval_preprocessing import EvalPreprocessing
from official.models import freezing
from official.serving import keras_file
from official.training import checkpoints, run_dir
from official.weights import conventions, converted, stem_channels, storage

log = logging.getLogger(__name__)
HEAD = "classifier"


def load_source(source: str) -> keras.Model:
    """A `.keras` file, a converter's `.weights.h5` file, or a training run's directory
    (load_run)."""
    if source.endswith(".weights.h5"):
        return models.get_converted(source)
    if source.endswith(".keras"):
        return storage.load_keras_file(source, "train.init_weights", compile=False)
    return load_run(source)[0]


def load_run(source: str) -> tuple[keras.Model, ExperimentConfig]:
    """A training run's network and config: its params.yaml rebuilds the network and its
    model.weights.h5 (the EMA weights when the run had EMA) fills it, or else its newest
    checkpoint that restores (the raw weights; official/training/checkpoints.py walks back over
    corrupt ones). The run's directory is only read."""
    run = run_dir.RunDirectory(source)
    config = run.record()
    if config is None:
        raise FileNotFoundError(
            f"train.init_weights={source!r} is neither a .keras file nor a training run's "
            f"directory (it has no {run_dir.RECORD_FILE})."
        )
    model = models.get(
        config.model.name, num_classes=config.data.num_classes, **config.model.kwargs
    )
    weights = os.path.join(source, "model.weights.h5")
    if tf.io.gfile.exists(weights):
        model.load_weights(weights)
        return model, config
    restored = checkpoints.restore_latest(tf.train.Checkpoint(model=model), source, partial=True)
    if restored is None:
        raise FileNotFoundError(
            f"train.init_weights={source!r}: the run has neither model.weights.h5 nor a checkpoint."
        )
    return model, config


def converted_preprocessing(path: str) -> EvalPreprocessing | None:
    """The eval preprocessing a converter's `.weights.h5` file records: a timm source's
    `pretrained_cfg` record, or a keras.applications source's input mean (with the std the
    conversion folded in, official/weights/keras_apps.py); None for neither."""
    metadata = converted.read_metadata(path) or {}
    if metadata.get("preprocessing"):
        return EvalPreprocessing.from_json(json.dumps(metadata["preprocessing"]), path)
    if metadata.get("input_mean"):
        mean = tuple(float(m) for m in metadata["input_mean"])
        return EvalPreprocessing(224, mean_rgb=mean, stddev_rgb=tuple(preprocess.STDDEV_RGB))
    return None


def source_preprocessing(source: str) -> EvalPreprocessing | None:
    """The eval preprocessing `source` (train.init_weights) records: a converter's
    `.weights.h5` metadata, a `.keras` file's entry, or a run's config; None where it records
    none. A record that cannot be read is logged and taken as none (loading the weights names
    a missing or damaged file)."""
    try:
        if source.endswith(".weights.h5"):
            return converted_preprocessing(source)
        if source.endswith(".keras"):
            readable = storage.exists(source) and storage.is_zip(source)
            return keras_file.read_entries(source)[0] if readable else None
        config = run_dir.RunDirectory(source).record()
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        log.warning(
            "train.init_weights=%s: its preprocessing record is unreadable (%s)", source, error
        )
        return None
    return None if config is None else EvalPreprocessing.from_config(config.data)


def settle_normalization(config: ExperimentConfig, given: Collection[str]) -> None:
    """data.mean_rgb and data.stddev_rgb from train.init_weights' source (in place) where its
    statistics differ from the run's and the user set neither (`given`: the keys set); one log
    line says what was filled, or that the config's own setting differs from the source's.
    Clips (data.kind 'video') keep the pipeline's normalization."""
    if config.data.kind != "image":
        return
    stored = source_preprocessing(config.train.init_weights)
    if stored is None:
        return
    source = stored.mean_std()
    run = EvalPreprocessing.from_config(config.data).mean_std()
    if np.allclose(np.asarray(source), np.asarray(run), rtol=1e-3, atol=0):
        return
    shown = f"mean {list(source[0])}, std {list(source[1])}"
    if {"data.mean_rgb", "data.stddev_rgb"} & set(given):
        log.warning(
            "train.init_weights=%s was trained with %s; this run keeps the normalization its "
            "config sets (data.mean_rgb / data.stddev_rgb: %s).",
            config.train.init_weights,
            shown,
            config.data.given_mean_std or "the preprocessing's",
        )
        return
    config.data.mean_rgb, config.data.stddev_rgb = list(source[0]), list(source[1])
    log.info(
        "data.mean_rgb, data.stddev_rgb from train.init_weights=%s (%s, as its weights were "
        "trained)",
        config.train.init_weights,
        shown,
    )


def transfer_weights(source: keras.Model, target: keras.Model) -> list[str]:
    """Copies every layer's weights (BN moving statistics included) from source to target, by
    layer name. The classifier keeps its fresh initialization when its shape differs (a new
    class count); any other difference means the networks differ, and is an error naming the
    layer; so is a difference in the conventions the weights were computed with (padding, BN
    epsilon, ...: official/weights/conventions.py). Returns the names of the layers left as
    initialized."""
    difference = conventions.first_difference(source, target)
    if difference:
        raise ValueError(
            f"train.init_weights: {difference}; build the model with the source's conventions "
            "(model.kwargs)."
        )
    fresh = []
    adaptable = stem_channels.input_convolutions(target)  # a 3-channel source, C != 3 here
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            donor = source.get_layer(layer.name)
        except ValueError:
            raise ValueError(
                f"Layer {layer.name!r} of {target.name} is not in {source.name}: "
                "train.init_weights must come from the same network."
            ) from None
        shapes = [tuple(w.shape) for w in layer.weights]
        values = [
            stem_channels.adapt(w.path, np.asarray(d), tuple(w.shape), adaptable)
            for w, d in zip(layer.weights, donor.weights, strict=False)
        ]
        donor_shapes = [tuple(v.shape) for v in values]
        if shapes != donor_shapes:
            if layer.name == HEAD:
                fresh.append(layer.name)
                continue
            raise ValueError(
                f"Layer {layer.name!r}: weights of shapes {donor_shapes} in {source.name} but "
                f"{shapes} here: train.init_weights must come from the same network and width."
            )
        layer.set_weights(values)
    return fresh


def initialize_from(target: keras.Model, source: str) -> list[str]:
    """transfer_weights(load_source(source), target); logs what was left fresh."""
    try:
        fresh = transfer_weights(load_source(source), target)
    except ValueError as error:
        metadata = converted.read_metadata(source) if source.endswith(".weights.h5") else None
        if metadata and "conventions" in str(error):
            raise ValueError(
                f"{error} {source} needs model.kwargs to include {metadata['conventions']}."
            ) from None
        raise
    log.info(
        "initialized from %s%s", source, f"; new {', '.join(fresh)}" if fresh else " (all layers)"
    )
    return fresh


# ---- Fine-tuning controls (docs/training.md, "Fine-tuning controls") ----
def apply_freezing(model: keras.Model, train: TrainConfig, head_only: bool = False) -> list[str]:
    """train.freeze (or the whole backbone in the head-only phase) and
    train.frozen_bn_statistics on `model`; returns the frozen layer names. A one-line error for
    a part the model does not have."""
    try:
        frozen = freezing.freeze(model, freezing.BACKBONE if head_only else train.freeze)
    except ValueError as error:
        raise ValueError(f"train.{error}") from None
    freezing.fix_batch_norm_statistics(model, train.frozen_bn_statistics)
    return frozen


def head_only_steps(train: TrainConfig, steps_per_epoch: float) -> int:
    """The steps of train.head_only_epochs (rounded up): the head trains alone before them."""
    return math.ceil(train.head_only_epochs * steps_per_epoch)
