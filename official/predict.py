"""Classify image files with an exported SavedModel or a .keras model.

    python -m official.predict --model=runs/sample/export/1 photos/ cat.jpg
    python -m official.predict --model=runs/sample/model.keras --json a.jpg
    python -m official.predict --model=runs/sample photos/      # a run: its model.keras

Prints, per image, the top-k class names and probabilities (or one JSON object per line with
--json): the names training stored from the data's labels.json (a .keras model without them
gets one note line and its class indices). Files that are not decodable images are reported
and skipped. A `.keras` file is fed the eval preprocessing stored in it
(official/serving/keras_file.py); one without it gets the recipe
default and a warning. A video file (.mp4, .avi, ...; official/data/video_files.py) is decoded
with PyAV and classified by a video export (official/serving/video.py), which samples its clips
and crops as evaluation does:

    python -m official.predict --model=runs/sample_video/export/1 clip.mp4
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402


def define_flags() -> None:
    """Defined only when run as a program, so importing this module (tests, train.py) cannot
    clash with the training flags of the same name (--image_size)."""
    flags.DEFINE_string(
        "model",
        None,
        "A SavedModel version directory, a .keras file, or a training run's directory.",
    )
    flags.DEFINE_integer("top_k", 5, "Classes to print per image.")
    flags.DEFINE_integer(
        "image_size", None, ".keras models: the eval input size (default: what the file stores)."
    )
    flags.DEFINE_string(
        "labels", None, ".keras models: labels.json (default: the class names the file stores)."
    )
    flags.DEFINE_bool("json", False, "One JSON object per image instead of text.")
    flags.DEFINE_float("fps", 0.0, "Video files: frames per second fed to the model (0: source's).")


def run(args: dict, paths: list[str]) -> int:
    """Classifies `paths` with the model `args` (the flag values) names; prints one line (or
    JSON object) per file and the skipped ones; returns the exit status (2: bad usage)."""
    if not args["model"] or not paths:
        print(
            "error: usage: python -m official.predict --model=PATH IMAGE_OR_FOLDER...",
            file=sys.stderr,
        )
        return 2
    if not os.path.exists(args["model"]):
        print(
            f"error: --model={args['model']}: no such SavedModel or .keras file.", file=sys.stderr
        )
        return 2
    if args["top_k"] < 1:
        print(f"error: --top_k={args['top_k']}: give 1 or more classes.", file=sys.stderr)
        return 2
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    from official.console import errors, quiet_start

    tf = quiet_start.import_tensorflow()
    from official.serving import predictor
    from official.training import run_dir

    try:
        model_path = run_dir.model_file_of(predictor.resolve_model_path(args["model"]))
        classify = predictor.Classifier(
            model_path, args["top_k"], args["image_size"], args["labels"]
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if classify.missing_names:
        print(f"note: {classify.missing_names}", file=sys.stderr)
    skipped = []
    for path in predictor.list_files(paths):
        try:
            top = predictor.classify_file(classify, path, args["fps"])
        except (OSError, ValueError, tf.errors.InvalidArgumentError) as e:
            skipped.append((path, errors.one_line(e)))
            continue
        if args["json"]:
            record = {
                "file": path,
                "top": [{"class": n, "probability": round(p, 6)} for n, p in top],
            }
            print(json.dumps(record))
        else:
            print(f"{path}: " + ", ".join(f"{n} {p:.4f}" for n, p in top))
    for path, reason in skipped:
        print(f"skipped {path}: not a decodable image or video ({reason[:160]})", file=sys.stderr)
    return 0


def main(argv):
    sys.exit(run(flags.FLAGS.flag_values_dict(), argv[1:]))


if __name__ == "__main__":
    define_flags()
    from official.console import program

    program.run(main)
