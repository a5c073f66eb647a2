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
    "config", "sample", "A recipe name (official/configs/recipes.py) or a YAML file."
)
flags.DEFINE_string("params_override", "", "YAML/JSON mapping of (dotted) config keys to values.")
flags.DEFINE_string("strategy", None, "tpu | mirrored | multi_worker | one_device | cpu.")
flags.DEFINE_string("tpu", None, "TPU name or address; 'local' on a TPU VM.")
flags.DEFINE_string(
    "model_dir", None, "Checkpoints, summaries, params.yaml (default runs/<config>)."
)
flags.DEFINE_string("data_dir", None, "TFRecord shards (or the TFDS data_dir).")
flags.DEFINE_string("mode", "train_and_eval", "train | eval | train_and_eval | export.")
flags.DEFINE_string("export_dir", None, "Where to export (default <model_dir>/export).")
flags.DEFINE_integer(
    "num_cpu_devices",
    1,
    "Split the host CPU into this many logical devices (to try "
    "--strategy=mirrored without accelerators).",
)
FLAGS = flags.FLAGS

MODES = ("train", "eval", "train_and_eval", "export")
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
log = logging.getLogger("official.train")


def resolve_config():
    """The recipe or YAML file, then --params_override, then the flags that name config fields."""
    from official.configs import overrides, recipes
    from official.data import samples

    if FLAGS.config.endswith((".yaml", ".yml")):
        if not os.path.exists(FLAGS.config):
            raise FileNotFoundError(f"--config={FLAGS.config}: no such file.")
        config = overrides.load_config(FLAGS.config)
    else:
        config = recipes.get(FLAGS.config)
    if FLAGS.params_override:
        overrides.apply_overrides(config, overrides.parse_override_text(FLAGS.params_override))
    if FLAGS.strategy:
        config.runtime.strategy = FLAGS.strategy
    if FLAGS.tpu:
        config.runtime.tpu = FLAGS.tpu
    if FLAGS.data_dir:
        config.data.data_dir = FLAGS.data_dir
    if FLAGS.mode not in MODES:
        raise ValueError(f"--mode={FLAGS.mode!r} is not known; use one of {', '.join(MODES)}.")
    from official.training.strategy import STRATEGIES

    if config.runtime.strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {config.runtime.strategy!r}; use one of {', '.join(STRATEGIES)}."
        )
    if config.runtime.precision not in ("auto", *POLICIES):
        raise ValueError(
            f"runtime.precision={config.runtime.precision!r}; use auto, {', '.join(POLICIES)}."
        )
    if not config.data.data_dir and FLAGS.config == "sample":
        config.data.data_dir = samples.build()  # the bundled digits, written once
    if config.data.source == "tfrecord":
        if not config.data.data_dir:
            raise ValueError("--data_dir is required: a folder of TFRecord shards.")
        from official.data.pipeline import list_shards

        if FLAGS.mode in ("train", "train_and_eval"):
            list_shards(config.data.data_dir, config.data.train_split)
        if FLAGS.mode in ("eval", "train_and_eval"):
            list_shards(config.data.data_dir, config.data.eval_split)
    from official import models

    models.entry(config.model.name)  # an unknown model name fails here, before any work
    return config


def worker_dir(strategy, model_dir: str) -> str:
    """Multi-worker: every worker saves, only the chief into model_dir (TF's rule)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if task_type in (None, "chief") or (task_type == "worker" and resolver.task_id == 0):
        return model_dir
    return os.path.join(model_dir, f"tmp_{task_type}_{resolver.task_id}")


def run(config, model_dir: str, mode: str, export_dir: str | None) -> dict:
    import keras
    import tensorflow as tf

    from official.configs import overrides
    from official.training import loop
    from official.training.strategy import device_kind, get_strategy

    if FLAGS.num_cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * FLAGS.num_cpu_devices
        )
    keras.utils.set_random_seed(config.runtime.seed)
    strategy = get_strategy(config.runtime.strategy, config.runtime.tpu)
    precision = config.runtime.precision
    if precision == "auto":
        precision = {"tpu": "bfloat16", "gpu": "float16", "cpu": "float32"}[device_kind(strategy)]
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    directory = worker_dir(strategy, model_dir)
    tf.io.gfile.makedirs(directory)
    overrides.save_yaml(config, os.path.join(directory, overrides.RUN_CONFIG_FILE))
    log.info(
        "%s on %d replica(s), %s; writing to %s",
        config.model.name,
        strategy.num_replicas_in_sync,
        precision,
        directory,
    )

    trainer = loop.Trainer(config, strategy, directory, loss_scale=precision == "float16")
    results = {}
    if mode in ("train", "train_and_eval"):
        every = config.train.eval_every_epochs if mode == "train_and_eval" else None
        results = loop.train(trainer, every)
        if mode == "train_and_eval" and "top1" not in results:
            results.update(trainer.evaluate(loop.distributed_datasets(trainer, False)))
    elif trainer.restore() == 0:
        raise FileNotFoundError(f"--mode={mode} needs a checkpoint in {directory}; none found.")
    elif mode == "eval":
        results = trainer.evaluate(loop.distributed_datasets(trainer, False))
    if mode in ("export", "train_and_eval") and directory == model_dir:
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
        config = resolve_config()
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    name = os.path.splitext(os.path.basename(FLAGS.config))[0]
    model_dir = FLAGS.model_dir or os.path.join("runs", name)
    from official.training.loop import TrainingDiverged

    try:
        results = run(config, model_dir, FLAGS.mode, FLAGS.export_dir)
    except (TrainingDiverged, RuntimeError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    if "top1" in results:
        print(
            f"validation top-1 {results['top1']:.4f}, top-5 {results['top5']:.4f} "
            f"on {results['examples']} images ({config.model.name}, {model_dir})"
        )
    if "export" in results:
        print(f"exported SavedModel: {results['export']}")


if __name__ == "__main__":
    app.run(main)
