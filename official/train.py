"""Train, evaluate and export an image classifier: flags -> config -> strategy -> data -> model ->
loop -> export.

    python official/train.py                       # the default job: bundled digits, CPU
    python official/train.py --config=resnetrs50_i160 --strategy=tpu --tpu=$TPU_NAME \\
        --data_dir=gs://bucket/imagenet --model_dir=gs://bucket/runs/rs50

Rerunning with the same --model_dir resumes from its latest checkpoint.
"""

from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string(
    "config",
    None,
    "A recipe name (official/configs/recipes.py) or a YAML file. Default: sample, or "
    "resnet_main when --tpu, --use_tpu or --resnet_depth is given (docs/tpu.md).",
)
flags.DEFINE_string("params_override", "", "YAML/JSON mapping of (dotted) config keys to values.")
flags.DEFINE_string("strategy", None, "tpu | mirrored | multi_worker | one_device | cpu.")
flags.DEFINE_string("tpu", None, "TPU name or address; 'local' on a TPU VM.")
flags.DEFINE_string(
    "model_dir", None, "Checkpoints, summaries, params.yaml (default runs/<config>)."
)
flags.DEFINE_string("data_dir", None, "TFRecord shards (or the TFDS data_dir).")
flags.DEFINE_string(
    "mode",
    "train_and_eval",
    "train | eval | train_and_eval | export | continuous_eval (--mode=eval with --eval_timeout "
    "too): evaluate each new checkpoint of --model_dir as training writes them.",
)
flags.DEFINE_string("export_dir", None, "Where to export (default <model_dir>/export).")
flags.DEFINE_integer(
    "num_cpu_devices",
    1,
    "Split the host CPU into this many logical devices (to try "
    "--strategy=mirrored without accelerators).",
)
FLAGS = flags.FLAGS

from official.configs import tpu_flags  # noqa: E402  (resnet_main.py's flags)

MODES = ("train", "eval", "train_and_eval", "export", "continuous_eval")
log = logging.getLogger("official.train")


def config_name() -> str:
    return FLAGS.config or tpu_flags.base_recipe(FLAGS) or "sample"


def mode() -> str:
    """--mode, with resnet_main.py's `--mode=eval --eval_timeout=N` meaning continuous_eval."""
    if FLAGS.mode == "eval" and FLAGS.eval_timeout is not None:
        return "continuous_eval"
    return FLAGS.mode


def resolve_config(config=None):
    """The recipe or YAML file (or `config`: a run's own), then --config_file,
    --params_override and the flags that name config fields (official/configs/tpu_flags.py)."""
    from official.configs import overrides, recipes
    from official.data import samples, video_samples

    name = config_name() if config is None else None
    if name and name.endswith((".yaml", ".yml")):
        if not os.path.exists(name):
            raise FileNotFoundError(f"--config={name}: no such file.")
        config = overrides.load_config(name)
    elif name:
        config = recipes.get(name)
    tpu_flags.apply(config, FLAGS)
    if FLAGS.mode not in MODES:
        raise ValueError(f"--mode={FLAGS.mode!r} is not known; use one of {', '.join(MODES)}.")
    from official.training.strategy import STRATEGIES

    if config.runtime.strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {config.runtime.strategy!r}; use one of {', '.join(STRATEGIES)}."
        )
    from official.training import precision

    if config.runtime.precision not in precision.CHOICES:
        raise ValueError(
            f"runtime.precision={config.runtime.precision!r}; use {', '.join(precision.CHOICES)}."
        )
    if not config.data.data_dir and name == "sample":
        config.data.data_dir = samples.build()  # the bundled digits, written once
    if not config.data.data_dir and FLAGS.config == "sample_video":
        config.data.data_dir = video_samples.build()  # the bundled moving digits
    if config.data.source == "tfrecord":
        if not config.data.data_dir:
            raise ValueError("--data_dir is required: a folder of TFRecord shards.")
        from official.data.pipeline import list_shards

        if mode() in ("train", "train_and_eval"):
            list_shards(config.data.data_dir, config.data.train_split)
        if mode() in ("eval", "train_and_eval", "continuous_eval"):
            list_shards(config.data.data_dir, config.data.eval_split)
    from official import models

    models.entry(config.model.name)  # an unknown model name fails here, before any work
    return config


def start(config):
    """The devices, strategy and precision policy of a run: (strategy, precision). The Trainer
    seeds everything from runtime.seed before it builds the model."""
    import keras
    import tensorflow as tf

    from official.training.precision import POLICIES
    from official.training.precision import resolve as resolve_precision
    from official.training.strategy import device_kind, get_strategy

    if FLAGS.num_cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * FLAGS.num_cpu_devices
        )
    runtime = config.runtime
    strategy = get_strategy(runtime.strategy, runtime.tpu, runtime.tpu_zone, runtime.gcp_project)
    precision = resolve_precision(runtime.precision, device_kind(strategy))
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    return strategy, precision


def run(config, model_dir: str, mode: str, export_dir: str | None) -> dict:
    import tensorflow as tf

    from official.configs import overrides
    from official.training import loop, multi_worker

    strategy, precision = start(config)
    tf.io.gfile.makedirs(model_dir)
    chief = multi_worker.is_chief(strategy)
    if chief:
        overrides.save_yaml(config, os.path.join(model_dir, overrides.RUN_CONFIG_FILE))
    log.info(
        "%s on %d replica(s), %s; writing to %s",
        config.model.name,
        strategy.num_replicas_in_sync,
        precision,
        multi_worker.worker_dir(strategy, model_dir),
    )

    trainer = loop.Trainer(config, strategy, model_dir, loss_scale=precision == "float16")
    results = {}
    if mode in ("train", "train_and_eval"):
        results = loop.train(trainer, mode == "train_and_eval")
        if mode == "train_and_eval" and "top1" not in results:
            results.update(trainer.evaluate(loop.distributed_datasets(trainer, False)))
    elif trainer.restore() == 0:
        raise FileNotFoundError(f"--mode={mode} needs a checkpoint in {model_dir}; none found.")
    elif mode == "eval":
        results = trainer.evaluate(loop.distributed_datasets(trainer, False))
    if mode in ("export", "train_and_eval") and chief:
        from official import export

        results["export"] = export.export_trainer(trainer, export_dir or f"{model_dir}/export")
    return results


def main(argv):
    del argv
    logging.getLogger("official").setLevel(logging.INFO)
    # TensorFlow's own INFO lines (checkpoint sharding, SavedModel assets) drown the progress.
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    logging.getLogger("absl").setLevel(logging.WARNING)
    from official.configs.overrides import ConfigError

    try:
        name = os.path.splitext(os.path.basename(config_name()))[0]
        model_dir = FLAGS.model_dir or os.path.join("runs", name)
        config = resolve_config() if mode() != "continuous_eval" else None
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if config is None:
        return continuous_eval(model_dir)
    from official.training.loop import TrainingDiverged
    from official.training.preemption import Preempted

    try:
        results = run(config, model_dir, FLAGS.mode, FLAGS.export_dir)
    except (TrainingDiverged, RuntimeError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except Preempted as e:  # checkpoint saved: exit now, not after TensorFlow's teardown
        logging.shutdown()
        sys.stdout.flush()
        os._exit(e.code)
    if "top1" in results:
        print(
            f"validation top-1 {results['top1']:.4f}, top-5 {results['top5']:.4f} "
            f"on {results['examples']} images ({config.model.name}, {model_dir})"
        )
    if "export" in results:
        print(f"exported SavedModel: {results['export']}")


def continuous_eval(model_dir: str) -> None:
    """--mode=continuous_eval: the run's params.yaml with this command's flags over it, then
    official/training/continuous_eval.py until the final step or --eval_timeout."""
    from official.configs.overrides import ConfigError
    from official.training import continuous_eval as watcher

    try:
        run_config = watcher.wait_for_run_config(model_dir, FLAGS.eval_timeout)
        config = resolve_config(run_config)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except watcher.NothingToEvaluate as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    try:
        strategy, precision = start(config)
        results = watcher.watch(
            config, strategy, model_dir, FLAGS.eval_timeout, loss_scale=precision == "float16"
        )
    except (RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    steps = ", ".join(map(str, results["evaluated"])) or "none"
    line = f"continuous eval of {model_dir}: evaluated step(s) {steps}"
    if results["best"]:
        step, best = results["best"]
        line += f"; best top-1 {best['top1']:.4f} at step {step} ({model_dir}/best)"
    final = results["final"]
    if final and "top1" in final:
        line += f"; final top-1 {final['top1']:.4f}, top-5 {final['top5']:.4f}"
    print(line)


if __name__ == "__main__":
    app.run(main)
