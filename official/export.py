"""Export a trained classifier as a SavedModel that TF Serving loads (docs/REFERENCE.md §4).

    python -m official.export --model_dir=runs/sample --export_dir=/tmp/serving/sample
    python -m official.export --keras_file=runs/sample/model.keras --export_dir=...

Writes <export_dir>/<version>/: for images the signatures of official/serving/image.py
(serving_default takes encoded image bytes, serving_images float pixels), for a video run those
of official/serving/video.py; float32 weights (EMA ones when the run had EMA), warm-up requests
and the eval preprocessing. A run directory is only read (official/training/run_dir.py).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402


def define_flags() -> None:
    """Defined only when run as a program (train.py defines flags of the same names)."""
    flags.DEFINE_string("model_dir", None, "A training run's directory (uses its params.yaml).")
    flags.DEFINE_string("checkpoint", None, "With --model_dir: this checkpoint, not the latest.")
    flags.DEFINE_string("keras_file", None, "Or a .keras model file.")
    flags.DEFINE_string(
        "labels", None, "--keras_file: labels.json (default: the class names the file stores)."
    )
    flags.DEFINE_integer(
        "image_size", None, "--keras_file: input size (default: what the file stores, or 224)."
    )
    flags.DEFINE_string("export_dir", None, "Export base directory (versions go below it).")
    flags.DEFINE_integer("top_k", 5, "How many classes the signatures return.")


def run(args: dict) -> int:
    """Exports what `args` (the flag values) name; prints an error as one line and returns the
    exit status: 0, 2 for a bad flag or file, 1 when a checkpoint or TensorFlow op failed."""
    if bool(args["model_dir"]) == bool(args["keras_file"]):
        print(
            "error: give exactly one of --model_dir (a training run) or --keras_file.",
            file=sys.stderr,
        )
        return 2
    from official.console import errors, quiet_start

    tf = quiet_start.import_tensorflow()
    from official.serving import image
    from official.training import checkpoints, exporting

    try:
        if args["keras_file"]:
            if not os.path.exists(args["keras_file"]):
                raise FileNotFoundError(f"--keras_file={args['keras_file']}: no such file.")
            if not args["export_dir"]:
                raise FileNotFoundError("--keras_file needs --export_dir.")
            image.export_keras_file(
                args["keras_file"],
                args["export_dir"],
                args["image_size"],
                args["labels"],
                args["top_k"],
            )
        else:
            exporting.export_run(
                args["model_dir"], args["export_dir"], args["checkpoint"], args["top_k"]
            )
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (checkpoints.CheckpointError, tf.errors.OpError) as e:
        print(f"error: {errors.one_line(e)}", file=sys.stderr)
        return 1
    return 0


def main(argv):
    del argv
    sys.exit(run(flags.FLAGS.flag_values_dict()))


if __name__ == "__main__":
    define_flags()
    from official.console import program

    program.run(main)
