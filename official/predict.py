"""Classify image files with an exported SavedModel or a .keras model.

    python -m official.predict --model=runs/sample/export/1 photos/ cat.jpg
    python -m official.predict --model=runs/sample/model.keras --json a.jpg
    python -m official.predict --model=runs/sample photos/      # a run: its model.keras

Prints, per image, the top-k class names and probabilities (or one JSON object per line with
--json). Files that are not decodable images are reported and skipped. A `.keras` file is fed
the eval preprocessing stored in it (official/keras_file.py); one without it gets the recipe
default and a warning. A video file (.mp4, .avi, ...; official/data/video_files.py) is decoded
with PyAV and classified by a video export (official/export_video.py), which samples its clips
and crops as evaluation does:

    python -m official.predict --model=runs/sample_video/export/1 clip.mp4
"""

from __future__ import annotations

import json
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402


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


FLAGS = flags.FLAGS


def list_files(paths: list[str]) -> list[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(
                os.path.join(path, f)
                for f in os.listdir(path)
                if os.path.isfile(os.path.join(path, f))
            )
        else:
            files.append(path)
    return files


def plain_reason(error: Exception) -> str:
    """The sentence of a TensorFlow error that says what is wrong ("Unknown image file format.
    One of JPEG, PNG, GIF, BMP required.", "Invalid PNG data, size 300"), without the graph
    execution preamble, node names and op tags around it."""
    message = getattr(error, "message", None) or str(error)
    lines = [
        re.sub(r"\s*\[\[.*?\]\]|\s*\[Op:[^\]]*\]", "", line).strip()
        for line in message.splitlines()
    ]
    lines = [
        line
        for line in lines
        if line
        and line != "Graph execution error:"
        and not line.startswith("Detected at node")
        and line != "<stack traces unavailable>"
    ]
    return lines[-1] if lines else type(error).__name__


def resolve_model_path(path: str) -> str:
    """A .keras file, a SavedModel directory, a training run (its model.keras, read by
    Classifier), or an export base directory (its newest version, as TF Serving would load).
    Raises ValueError in plain words for anything else."""
    if path.endswith(".keras") or any(
        os.path.exists(os.path.join(path, name)) for name in ("saved_model.pb", "params.yaml")
    ):
        return path
    if os.path.isdir(path):
        versions = [
            int(name)
            for name in os.listdir(path)
            if name.isdigit() and os.path.exists(os.path.join(path, name, "saved_model.pb"))
        ]
        if versions:
            return os.path.join(path, str(max(versions)))
    raise ValueError(
        f"--model={path} is neither a .keras file nor a SavedModel (a folder with "
        "saved_model.pb, such as runs/sample/export/1, or the export folder above it)."
    )


class Classifier:
    """One interface over a SavedModel's serving_default and a .keras model + eval preprocessing."""

    def __init__(self, path: str, top_k: int, image_size: int | None, labels: str | None):
        import tensorflow as tf

        from official import run_dir

        self.tf = tf
        self.top_k = top_k
        run = run_dir.RunDirectory(path)
        if tf.io.gfile.exists(run.record_path):  # a training run: the model it ended with
            if not tf.io.gfile.exists(run.model_file):
                raise FileNotFoundError(
                    f"{path} is a training run without {run_dir.MODEL_FILE} (written when "
                    "training ends); give --model=<its export version directory>."
                )
            path = run.model_file
        if path.endswith(".keras"):
            from official import keras_file
            from official.data import tfrecord

            self.model, stored, names = keras_file.load(path)
            self.preprocess = keras_file.serving_settings(path, self.model, stored, image_size)
            self.signature = None
            num_classes = self.model.output.shape[-1]
            self.names = (
                tfrecord.read_labels(labels)
                if labels
                else names or [str(i) for i in range(num_classes)]
            )
        else:
            self.signature = tf.saved_model.load(path).signatures["serving_default"]

    def clip(self, frames: list[bytes]) -> list[tuple[str, float]]:
        """The top classes of one video's encoded frames, from a video export."""
        inputs = self.signature.structured_input_signature[1] if self.signature else {}
        if "frames" not in inputs:
            raise ValueError("a video file needs a video export (official/export_video.py)")
        out = self.signature(frames=self.tf.constant([frames]))
        names = [n.decode() for n in out["class_names"][0].numpy()]
        return list(zip(names, out["scores"][0].numpy().tolist(), strict=True))[: self.top_k]

    def __call__(self, data: bytes) -> list[tuple[str, float]]:
        tf = self.tf
        if self.signature is not None:
            out = self.signature(image_bytes=tf.constant([data]))
            names = [n.decode() for n in out["class_names"][0].numpy()]
            scores = out["scores"][0].numpy().tolist()
            return list(zip(names, scores, strict=True))[: self.top_k]
        image = self.preprocess(tf.constant(data))
        probabilities = tf.nn.softmax(self.model(image[None], training=False))[0].numpy()
        order = probabilities.argsort()[::-1][: self.top_k]
        return [(self.names[i], float(probabilities[i])) for i in order]


def classify_file(classify: Classifier, path: str, fps: float = 0.0) -> list[tuple[str, float]]:
    """The top classes of an image file, or of a video file (decoded with PyAV at `fps`, 0: every
    frame, and classified by a video export)."""
    from official.data import video_files

    if video_files.is_video_path(path):
        return classify.clip(video_files.read_video(path, fps)[0])
    with open(path, "rb") as f:
        return classify(f.read())


def main(argv):
    paths = argv[1:]
    if not FLAGS.model or not paths:
        print(
            "error: usage: python -m official.predict --model=PATH IMAGE_OR_FOLDER...",
            file=sys.stderr,
        )
        sys.exit(2)
    if not os.path.exists(FLAGS.model):
        print(f"error: --model={FLAGS.model}: no such SavedModel or .keras file.", file=sys.stderr)
        sys.exit(2)
    try:
        model_path = resolve_model_path(FLAGS.model)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    from official import quiet_start

    tf = quiet_start.import_tensorflow()
    try:
        classify = Classifier(model_path, FLAGS.top_k, FLAGS.image_size, FLAGS.labels)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    skipped = []
    for path in list_files(paths):
        try:
            top = classify_file(classify, path, FLAGS.fps)
        except (OSError, ValueError, tf.errors.InvalidArgumentError) as e:
            skipped.append((path, plain_reason(e)))
            continue
        if FLAGS.json:
            print(
                json.dumps(
                    {
                        "file": path,
                        "top": [{"class": n, "probability": round(p, 6)} for n, p in top],
                    }
                )
            )
        else:
            print(f"{path}: " + ", ".join(f"{n} {p:.4f}" for n, p in top))
    for path, reason in skipped:
        print(f"skipped {path}: not a decodable image or video ({reason[:160]})", file=sys.stderr)


if __name__ == "__main__":
    define_flags()
    app.run(main)
