"""What official/train.py runs for its flags: the config settled against the run directory
(official/training/run_dir.py), then train, eval, train_and_eval, export or continuous_eval.

    python official/train.py --mode=export --model_dir=runs/x   # no --config: the run's own

A command's config is the run's params.yaml when the run exists and no --config is given, else
the recipe or YAML file of --config (default: sample, or resnet_main for resnet_main.py-style
TPU flags); then --config_file, --params_override and the flags that set config keys
(official/configs/tpu_flags.py). It must agree with the run's params.yaml except in the keys
run_dir.SAFE_TO_CHANGE lists. Only training writes into the run directory, holding its lock.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import logging
import os
import sys
from collections.abc import Mapping

import keras
import tensorflow as tf

from official import models
from official.configs import overrides, recipes, tpu_flags, tpu_hparams, validation
from official.configs.overrides import ConfigError
from official.console import errors
from official.data import checks, dataset_record, pipeline, samples, shard_check, video_samples
from official.serving import saved_model
from official.training import (
    checkpoints,
    evaluate,
    exporting,
    finetune,
    loop,
    run_dir,
    worker_failures,
)
from official.training import continuous_eval as watcher
from official.training.divergence import TrainingDiverged
from official.training.runtime import POLICIES, device_kind, get_strategy, resolve_precision

MODES = ("train", "eval", "train_and_eval", "export", "continuous_eval")
TRAINING_MODES = ("train", "train_and_eval")
EVAL_MODES = ("eval", "train_and_eval", "continuous_eval")
log = logging.getLogger("official.train")


# ---- The config ----
# `args` below: official/train.py's flags as a plain mapping (flag name -> value; None: not given).
def config_name(args: Mapping) -> str:
    return args.get("config") or tpu_flags.base_recipe(args) or "sample"


def mode(args: Mapping) -> str:
    """--mode, with resnet_main.py's `--mode=eval --eval_timeout=N` meaning continuous_eval."""
    if args["mode"] == "eval" and args.get("eval_timeout") is not None:
        return "continuous_eval"
    return args["mode"]


def model_dir(args: Mapping) -> str:
    name = os.path.splitext(os.path.basename(config_name(args)))[0]
    return args.get("model_dir") or os.path.join("runs", name)


# tensorflow/tpu hparams that set a count a dataset record also states.
COUNT_HPARAMS = {
    "num_label_classes": "data.num_classes",
    "num_train_images": "train.num_train_images",
    "num_eval_images": "data.num_eval_images",
}


def _keys_of(mapping: dict) -> set[str]:
    """The config keys a YAML mapping sets (config keys, or tensorflow/tpu hparams' counts)."""
    if tpu_hparams.is_tpu_hparams(mapping):
        return {
            COUNT_HPARAMS[k] for k, v in mapping.items() if k in COUNT_HPARAMS and v is not None
        }
    return set(overrides.flatten(mapping))


def given_keys(args: Mapping, yaml_config: str | None = None) -> set[str]:
    """The config keys the user set: those of the --config YAML file, --config_file,
    --params_override and the resnet_main.py count flags; a recipe's values are not among them."""
    keys = _keys_of(overrides.load_yaml(yaml_config)) if yaml_config else set()
    if args.get("config_file"):
        keys |= _keys_of(overrides.load_yaml(args["config_file"]))
    if args.get("params_override"):
        keys |= _keys_of(tpu_hparams.parse_text(args["params_override"]))
    return keys | {key for flag, key in COUNT_HPARAMS.items() if args.get(flag) is not None}


def check_model_kwargs(config) -> None:
    """model.kwargs against the builder's arguments (and those of the builder its **kwargs go
    to): a misspelt one is refused in one line naming the valid ones."""
    builder = models.entry(config.model.name).builder
    accepted = models.accepted_arguments(config.model.name)
    valid = sorted(accepted - {"name", "num_classes", "input_tensor"})
    for key in config.model.kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"model.kwargs.{key}: {config.model.name}'s builder ({builder.__module__}."
                f"{builder.__name__}) has no argument {key!r}; {hint}it takes {', '.join(valid)}."
            )


def resolve_config(args: Mapping, config=None):
    """The recipe or YAML file (or `config`: a run's own), then --config_file,
    --params_override and the flags that name config fields; data.num_classes and
    train.num_train_images from the data's dataset record where the user set neither, and
    data.mean_rgb / data.stddev_rgb from train.init_weights' source likewise (a run's own
    config is kept as it is); checked: every rule of
    official/configs/validation.py, the model and its kwargs, the data it reads."""
    name = config_name(args) if config is None else None
    yaml_config = name if name and name.endswith((".yaml", ".yml")) else None
    if yaml_config:
        if not os.path.exists(name):
            raise FileNotFoundError(f"--config={name}: no such file.")
        config = overrides.load_config(name)
    elif name:
        config = recipes.get(name)
    tpu_flags.apply(config, args)
    record = None
    if config.data.source == "tfrecord":
        record = dataset_record.read(config.data.data_dir)
    if name and record is not None:
        dataset_record.settle(config, record, given_keys(args, yaml_config))
    if name and config.train.init_weights:
        finetune.settle_normalization(config, given_keys(args, yaml_config))
    validation.check_choice("--mode", args["mode"], MODES)
    validation.validate(config)
    if not config.data.data_dir and name == "sample":
        config.data.data_dir = samples.build()  # the bundled digits, written once
    if not config.data.data_dir and args.get("config") == "sample_video":
        config.data.data_dir = video_samples.build()  # the bundled moving digits
    if config.data.source == "tfrecord":
        if not config.data.data_dir:
            raise ValueError("--data_dir is required: a folder of TFRecord shards.")
        splits = [config.data.train_split] if mode(args) in TRAINING_MODES else []
        splits += [config.data.eval_split] if mode(args) in EVAL_MODES else []
        files = [f for split in splits for f in pipeline.list_shards(config.data.data_dir, split)]
        if record is not None:
            dataset_record.check_shards(record, files)  # a truncated copy, before any work
    check_model_kwargs(config)  # an unknown model or argument fails here, before any work
    return config


def settle_config(args: Mapping, run: run_dir.RunDirectory, record=None, over_record=None):
    """This command's config: over the run's record when the run exists and no --config is
    given (`over_record`: whatever --config says); refused (ConfigError) where it changes the
    record in a key that is not safe."""
    record = run.record() if record is None else record
    if over_record is None:
        over_record = not args.get("config")
    base = copy.deepcopy(record) if record is not None and over_record else None
    if base is not None:
        log.info("config: %s", run.record_path)
    config = resolve_config(args, base)
    run.check_changes(config, record)
    return config


# ---- The run ----
def start(config, num_cpu_devices: int = 1):
    """The devices, strategy and precision policy of a run: (strategy, precision). The Trainer
    seeds everything from runtime.seed before it builds the model."""
    if num_cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * num_cpu_devices
        )
    runtime = config.runtime
    strategy = get_strategy(
        runtime.strategy,
        runtime.tpu,
        runtime.tpu_zone,
        runtime.gcp_project,
        runtime.collective_timeout_seconds,
    )
    family = models.entry(config.model.name).family
    precision = resolve_precision(runtime.precision, device_kind(strategy), family=family)
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    return strategy, precision


def export_trainer(trainer, export_dir: str | None, model_dir: str) -> str:
    return exporting.export_trainer(trainer, export_dir or f"{model_dir}/export")


def run(config, model_dir: str, mode: str, export_dir: str | None, num_cpu_devices=1) -> dict:
    """Trains (holding the run's lock; params.yaml written once), evaluates or exports (reading
    the run only)."""
    run_directory = run_dir.RunDirectory(model_dir)
    training = mode in TRAINING_MODES
    strategy, precision = start(config, num_cpu_devices)  # before any TensorFlow op
    batches = (("data.train_batch_size",) if training else ()) + (
        ("data.eval_batch_size",) if mode in EVAL_MODES else ()
    )
    validation.validate(config, strategy.num_replicas_in_sync, batches)
    checks.check_data(config.data, training, mode in EVAL_MODES)
    chief = checkpoints.is_chief(strategy)
    directory = checkpoints.worker_dir(strategy, model_dir)
    log.info(
        "%s on %d replica(s), %s; %s %s",
        config.model.name,
        strategy.num_replicas_in_sync,
        precision,
        "writing to" if training else "reading",
        directory,
    )
    results = {}
    if training:
        # The chief holds the run's lock; another worker saves only into its own scratch
        # directory (official/training/checkpoints.py), removed after every save.
        writing = run_directory.writing(config) if chief else contextlib.nullcontext()
        with writing as handle:
            trainer = loop.Trainer(config, strategy, model_dir, loss_scale=precision == "float16")
            exporting.check_export_formats(config, trainer.model)  # before the record
            if handle is not None:
                handle.started()  # model built, weights initialized: params.yaml now
            try:
                results = loop.train(trainer, mode == "train_and_eval")
            except tf.errors.OpError as e:
                several_workers = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                timeout = config.runtime.collective_timeout_seconds
                if not (several_workers and worker_failures.is_worker_failure(e, timeout)):
                    raise
                log.error("TensorFlow's report: %s", e)  # the line below replaces it
                line = worker_failures.explain(e, timeout, tf.train.latest_checkpoint(model_dir))
                raise RuntimeError(line) from None
            if mode == "train_and_eval" and "top1" not in results:
                results.update(trainer.evaluate(loop.distributed_datasets(trainer, False)))
            if chief:
                if config.data.kind == "image":  # a video model is served by its export
                    exporting.save_model_file(trainer, run_directory.model_file)
                if "timm" in config.export.formats:
                    results["timm"] = exporting.write_timm(model_dir, f"{model_dir}/timm")
                if mode == "train_and_eval":
                    previous = saved_model.newest_version(export_dir or f"{model_dir}/export")
                    if previous and results.get("start_step", 0) >= trainer.total_steps:
                        # A rerun of a finished run trains nothing: its export would be a copy.
                        log.info(
                            "%s already exports this finished run; --mode=export adds a version",
                            previous,
                        )
                        results["export"] = previous
                    else:
                        results["export"] = export_trainer(trainer, export_dir, model_dir)
        return results
    trainer = loop.Trainer(run_dir.reader_config(config), strategy, model_dir)
    if trainer.restore() == 0:
        raise FileNotFoundError(f"--mode={mode} needs a checkpoint in {model_dir}; none found.")
    if mode == "eval":
        results = trainer.evaluate(loop.distributed_datasets(trainer, False))
    elif chief:
        results["export"] = export_trainer(trainer, export_dir, model_dir)
    return results


def continuous_eval(args: Mapping, config, directory: str) -> str:
    """--mode=continuous_eval: official/training/continuous_eval.py until the run's final step or
    --eval_timeout; returns the summary line."""
    strategy, precision = start(config, args.get("num_cpu_devices", 1))
    results = watcher.watch(
        config, strategy, directory, args.get("eval_timeout"), loss_scale=precision == "float16"
    )
    steps = ", ".join(map(str, results["evaluated"])) or "none"
    line = f"continuous eval of {directory}: evaluated step(s) {steps}"
    if results["best"]:
        step, best = results["best"]
        line += f"; best top-1 {best['top1']:.4f} at step {step} ({directory}/best)"
    final = results["final"]
    if final and "top1" in final:
        line += f"; final top-1 {final['top1']:.4f}, top-5 {final['top5']:.4f}"
    return line


# ---- The command line ----
def main(args: Mapping) -> int:
    """Runs the command official/train.py parsed (`args`: its flags); prints any error as one
    line and returns the exit status: 0; 2 for a bad flag, config value or data (nothing was
    written); 1 when the run failed."""
    failures = (
        TrainingDiverged,
        run_dir.RunLocked,
        checkpoints.CheckpointError,
        watcher.NothingToEvaluate,
        RuntimeError,
        FileNotFoundError,
        OSError,
        tf.errors.OpError,
    )
    watching = mode(args) == "continuous_eval"
    try:
        directory = model_dir(args)
        run_directory = run_dir.RunDirectory(directory)
        # continuous eval waits for the run's params.yaml: it may start before training
        record = (
            watcher.wait_for_run_config(directory, args.get("eval_timeout")) if watching else None
        )
        # continuous eval evaluates the run as it is: --config is not used (docs/tpu.md)
        config = settle_config(args, run_directory, record, over_record=watching or None)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"error: {errors.one_line(e)}", file=sys.stderr)
        return 2
    except failures as e:
        print(f"error: {errors.one_line(e)}", file=sys.stderr)
        return 1
    try:
        if watching:
            print(continuous_eval(args, config, directory))
            return 0
        cpus = args.get("num_cpu_devices", 1)
        results = run(config, directory, args["mode"], args.get("export_dir"), cpus)
    except evaluate.UndecodableRecord as e:
        print(f"error: {shard_check.name_undecodable(str(e), config.data)}", file=sys.stderr)
        return 1 if watching else 2
    except (ConfigError, ValueError) as e:  # ranges per replica, data checks
        print(f"error: {errors.one_line(e)}", file=sys.stderr)
        return 1 if watching else 2
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as e:  # a read in the graph
        line = shard_check.explain(errors.one_line(e), config.data, args["mode"] in TRAINING_MODES)
        print(f"error: {line}", file=sys.stderr)
        return 1
    except failures as e:
        print(f"error: {errors.one_line(e)}", file=sys.stderr)
        return 1
    if "top1" in results:
        print(
            f"validation top-1 {results['top1']:.4f}, top-5 {results['top5']:.4f} "
            f"on {results['examples']} {'videos' if config.data.kind == 'video' else 'images'} "
            f"({config.model.name}, {directory})"
        )
    if "export" in results:
        print(f"exported SavedModel: {results['export']}")
    if "timm" in results:
        print(results["timm"])
    return 0
