"""Write LiteRT (TensorFlow Lite) files for phones: float32, float16, dynamic-range int8 and
full-integer int8 (docs/litert.md; the files' inputs and outputs: official/serving/litert.py).

    python -m official.export_litert --model_dir=runs/sample
    python -m official.export_litert --keras_file=model.keras --image_size=224 \\
        --data_dir=/data/imagenet --out_dir=/tmp/litert

Writes <out_dir>/<model name>_<quantization>.tflite (default out_dir <model_dir>/litert). A
training run gives its EMA weights; `int8` is calibrated on --calibration_images images of the
run's own training TFRecords (eval crop), taken from every shard in turn.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402


def define_flags() -> None:
    """Defined only when run as a program (train.py defines flags of the same names)."""
    from official.console import quiet_start

    quiet_start.import_tensorflow()
    from official.serving.litert import CALIBRATION_IMAGES, QUANTIZATIONS

    flags.DEFINE_string("model_dir", None, "A training run's directory (uses its params.yaml).")
    flags.DEFINE_string("checkpoint", None, "With --model_dir: this checkpoint, not the latest.")
    flags.DEFINE_string("keras_file", None, "Or a .keras model file.")
    flags.DEFINE_integer(
        "image_size", None, "--keras_file: input size (default: what the file stores, or 224)."
    )
    flags.DEFINE_string("data_dir", None, "TFRecords for int8 calibration (default: the run's).")
    flags.DEFINE_string("out_dir", None, "Where the .tflite files go (default <model_dir>/litert).")
    flags.DEFINE_string("quantizations", ",".join(QUANTIZATIONS), "Comma-separated subset.")
    flags.DEFINE_integer("calibration_images", CALIBRATION_IMAGES, "Images int8 calibrates on.")


def run(args: dict) -> int:
    """Writes the files `args` (the flag values) ask for and lists them; an error is one line
    and exit status 2."""
    from official.console import quiet_start

    tf = quiet_start.import_tensorflow()
    from official.serving import litert
    from official.training import exporting

    try:
        quantizations = litert.parse_quantizations(args["quantizations"])
        if bool(args["model_dir"]) == bool(args["keras_file"]):
            raise ValueError("give exactly one of --model_dir (a training run) or --keras_file.")
        if args["keras_file"]:
            paths = litert.export_keras_file(
                args["keras_file"],
                args["out_dir"],
                args["image_size"],
                quantizations,
                args["data_dir"],
                args["calibration_images"],
            )
        else:
            paths = exporting.export_run_litert(
                args["model_dir"],
                args["checkpoint"],
                args["out_dir"],
                args["data_dir"],
                quantizations,
                args["calibration_images"],
            )
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for quantization, path in paths.items():
        size = tf.io.gfile.stat(path).length / 2**20
        print(f"{quantization:13s} {size:8.2f} MiB  {path}")
    print(
        "run one: from ai_edge_litert.interpreter import Interpreter; "
        f"Interpreter(model_path='{paths[quantizations[-1]]}')"
    )
    return 0


def main(argv):
    del argv
    sys.exit(run(flags.FLAGS.flag_values_dict()))


if __name__ == "__main__":
    define_flags()
    from official.console import program

    program.run(main)
