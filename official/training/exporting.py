"""A training run to its exports: the SavedModel (image or video, official/serving/), the final
`.keras` file, and a run directory restored for export (official/export.py, export_litert.py).

Every export takes the EMA weights when the run has EMA, in float32. A run directory is only
read here (official/training/run_dir.py).
"""

from __future__ import annotations

import os

import tensorflow as tf

from official.data import tfrecord
from official.data.eval_preprocessing import EvalPreprocessing
from official.serving import image, keras_file, litert, saved_model
from official.serving import video as video_export
from official.training import checkpoints, loop, run_dir


def export_trainer(trainer, export_dir: str, top_k: int = 5) -> str:
    """Exports a training run's model: the image export, or for data.kind 'video' the video
    export (clips in, multi-view evaluation inside the graph). Prints the commands to paste."""
    config = trainer.config
    names = tfrecord.read_class_names(config.data.data_dir, config.data.num_classes)
    with trainer.averaged_weights():
        if config.data.kind == "video":
            path = video_export.export_video_model(
                trainer.model,
                export_dir,
                config.video,
                config.data.resolved_eval_image_size,
                names,
                top_k,
            )
            print(video_export.usage_lines(path))
            return path
        preprocessing = EvalPreprocessing.from_config(config.data)
        path = image.export_model(
            trainer.model,
            export_dir,
            preprocessing.image_size,
            names,
            top_k,
            preprocessing=preprocessing,
        )
    print(image.usage_lines(path))
    return path


def save_model_file(trainer, path: str) -> None:
    """The run's final model as a `.keras` file with its eval preprocessing and class names
    (float32, EMA weights when the run has EMA), for official/predict.py."""
    data = trainer.config.data
    names = tfrecord.read_class_names(data.data_dir, data.num_classes)
    with trainer.averaged_weights():
        model = saved_model.float32_copy(trainer.model)
    preprocessing = EvalPreprocessing.from_config(data)
    run_dir.write_atomically(path, lambda tmp: keras_file.save(model, tmp, preprocessing, names))


def restore_run(model_dir: str, checkpoint: str | None = None) -> loop.Trainer:
    """A training run's Trainer on the default strategy, restored from `checkpoint` or else the
    newest checkpoint that restores (official/training/checkpoints.py walks back over corrupt
    ones); its `averaged_weights()` gives the EMA weights. The directory is only read."""
    run = run_dir.RunDirectory(model_dir)
    config = run.record()
    if config is None:
        raise FileNotFoundError(f"{run.record_path} not found: --model_dir must be a training run.")
    if checkpoint and not tf.io.gfile.exists(f"{checkpoint}.index"):
        paths = checkpoints.checkpoint_paths(model_dir)
        names = [os.path.basename(p) for p in reversed(paths)]
        raise FileNotFoundError(
            f"--checkpoint={checkpoint}: no such checkpoint; {model_dir} has "
            f"{', '.join(names) or 'none'}."
        )
    trainer = loop.Trainer(run_dir.reader_config(config), tf.distribute.get_strategy(), model_dir)
    if checkpoint:
        checkpoints.restore(trainer.checkpoint, checkpoint)
    elif trainer.restore() == 0:
        raise FileNotFoundError(f"no checkpoint in {model_dir}.")
    return trainer


def export_run(
    model_dir: str, export_dir: str | None = None, checkpoint: str | None = None, top_k: int = 5
) -> str:
    """Exports a training run, reading its directory only: its params.yaml, and `checkpoint` or
    else the newest checkpoint that restores. export_dir defaults to <model_dir>/export."""
    trainer = restore_run(model_dir, checkpoint)
    return export_trainer(trainer, export_dir or os.path.join(model_dir, "export"), top_k)


def export_run_litert(
    model_dir: str,
    checkpoint: str | None,
    out_dir: str | None,
    data_dir: str | None,
    quantizations,
    calibration_count: int,
) -> dict[str, str]:
    """The LiteRT files of a training run (EMA weights when it has EMA) at its eval size,
    calibrated on its own training TFRecords unless data_dir is given; default out_dir
    <model_dir>/litert."""
    trainer = restore_run(model_dir, checkpoint)
    data = trainer.config.data
    with trainer.averaged_weights():
        return litert.export_classifier(
            trainer.model,
            out_dir or os.path.join(model_dir, "litert"),
            EvalPreprocessing.from_config(data),
            quantizations,
            data_dir or data.data_dir,
            data.train_split,
            calibration_count,
        )


def timm_twin(model, timm_name: str | None = None, source: str = "the model") -> tuple[str, str]:
    """(timm name, official/weights/timm.py mapping) that `model` (built by official.models)
    writes as: its registered name's timm twin whose conventions its layers have, or
    `timm_name`. A ValueError in one line where there is none."""
    from official import models
    from official.models.counting import shapes_only
    from official.weights import conventions, timm_names

    name = model.name
    try:
        entry = models.entry(name)
    except ValueError:
        raise ValueError(f"{source}: its model {name!r} is not a registered name.") from None
    pairs = timm_names.TIMM_NAMES.get(name)
    if not pairs:
        raise ValueError(f"{name} has no timm twin (docs/weights.md lists the names).")
    matching = []
    for candidate, needed in pairs:
        with shapes_only():
            reference = models.get(name, num_classes=int(model.output_shape[-1]), **needed)
        if conventions.first_difference(reference, model) is None:
            matching.append(candidate)
    if timm_name and timm_name not in [t for t, _ in pairs]:
        raise ValueError(f"--timm_name={timm_name!r}: {name} writes as {[t for t, _ in pairs]}.")
    chosen = timm_name or (matching[0] if matching else None)
    if chosen is None or chosen not in matching:
        wanted = chosen or ", ".join(t for t, _ in pairs)
        raise ValueError(
            f"{name}'s layers compute none of {wanted} (their padding / BN epsilon conventions "
            "differ from this model's): build it with those conventions (docs/weights.md)."
        )
    return chosen, timm_names.TIMM_MAPPING[entry.family]


def check_export_formats(config, model) -> None:
    """At the start of a run, before its record: a ValueError in one line for an export.formats
    entry the run's model cannot be written as at its end (timm: no twin, other conventions,
    or another width than timm's model, whose tensors timm could not load)."""
    if "timm" not in config.export.formats:
        return
    from official.weights import to_timm

    try:
        chosen, mapping = timm_twin(model)
        to_timm.state_dict(model, mapping, chosen)
    except ValueError as e:
        raise ValueError(f"export.formats 'timm': {e}") from None


def write_timm(source: str, out: str, timm_name: str | None = None) -> str:
    """`python -m official.weights export --to=timm`: a training run's directory, a `.keras`
    file or a converter's `.weights.h5` written as timm's hub snapshot layout (model.safetensors
    + config.json, its pretrained_cfg from the eval preprocessing the model was made for:
    official/weights/to_timm.py). The timm twin is the one whose conventions the model's layers
    have (or `timm_name`). Returns a one-line summary."""
    from official import models
    from official.training import finetune
    from official.weights import to_timm

    if source.endswith(".weights.h5"):
        model = models.get_converted(source)
        preprocessing = finetune.converted_preprocessing(source)
    else:
        path = run_dir.model_file_of(source)
        if not path.endswith(".keras"):
            raise ValueError(f"{source}: give a run directory, a .keras or a .weights.h5 file.")
        model, preprocessing, _ = keras_file.load(path)
    preprocessing = preprocessing or EvalPreprocessing(224)
    chosen, mapping = timm_twin(model, timm_name, source)
    to_timm.write(out, model, mapping, chosen, preprocessing.to_pretrained_cfg())
    return f"wrote {out}/model.safetensors and config.json: {model.name} as timm's {chosen}"
