"""Train, evaluate and export an image classifier. This file defines the flags and hands them to
official/training/jobs.py (config -> run directory -> strategy -> data -> model -> loop -> export).

    python official/train.py                       # the default job: bundled digits, CPU
    python official/train.py --config=resnetrs50_i160 --strategy=tpu --tpu=$TPU_NAME \\
        --data_dir=gs://bucket/imagenet --model_dir=gs://bucket/runs/rs50
    python official/train.py --mode=export --model_dir=gs://bucket/runs/rs50   # its params.yaml

Rerunning with the same --model_dir resumes from its newest checkpoint that restores; the rules
of a run directory are in docs/run_directory.md.
"""

from __future__ import annotations

import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

flags.DEFINE_string(
    "config",
    None,
    "A recipe name (official/configs/recipes.py) or a YAML file. Default: an existing run's own "
    "params.yaml; else sample, or resnet_main when --tpu, --use_tpu or --resnet_depth is given "
    "(docs/tpu.md).",
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
OWN_FLAGS = (
    "config",
    "params_override",
    "strategy",
    "tpu",
    "model_dir",
    "data_dir",
    "mode",
    "export_dir",
    "num_cpu_devices",
)

if __name__ == "__main__":  # a user's command: TensorFlow (imported by jobs) starts quietly
    from official.console import quiet_start

    quiet_start.import_tensorflow()

from official.configs import tpu_flags  # noqa: E402  (resnet_main.py's flag vocabulary)
from official.training import jobs  # noqa: E402

for _name, (_kind, _help) in tpu_flags.FLAGS.items():
    getattr(flags, f"DEFINE_{_kind}")(_name, None, _help, module_name=tpu_flags.HEADING)
for _alias, _name in tpu_flags.ALIASES.items():
    flags.DEFINE_alias(_alias, _name, module_name=tpu_flags.HEADING)

MODES = jobs.MODES


def arguments() -> dict:
    """The parsed flags as the plain mapping the library reads (flag name -> value)."""
    return {name: FLAGS[name].value for name in (*OWN_FLAGS, *tpu_flags.FLAGS)}


def mode() -> str:
    return jobs.mode(arguments())


def resolve_config(config=None):
    """This command's config (the recipe, or `config`: a run's own) with its flags applied."""
    return jobs.resolve_config(arguments(), config)


def run(config, model_dir: str, mode: str, export_dir: str | None) -> dict:
    return jobs.run(config, model_dir, mode, export_dir, FLAGS.num_cpu_devices)


def main(argv):
    del argv
    logging.getLogger("official").setLevel(logging.INFO)
    # TensorFlow's own INFO lines (checkpoint sharding, SavedModel assets) drown the progress.
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    logging.getLogger("absl").setLevel(logging.WARNING)
    from official.training.preemption import Preempted

    try:
        code = jobs.main(arguments())
    except Preempted as e:  # checkpoint saved: exit now, not after TensorFlow's teardown
        logging.shutdown()
        sys.stdout.flush()
        os._exit(e.code)
    sys.exit(code)


if __name__ == "__main__":
    from official.console import program

    program.run(main)
