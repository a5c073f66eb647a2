"""Classify image and video files with an exported SavedModel or a `.keras` model, for
official/predict.py.

A SavedModel is called through its serving_default signature (the eval preprocessing is in its
graph); a `.keras` file is fed the eval preprocessing stored in it (official/serving/keras_file.py),
or the recipe default with a warning. A video file is decoded with PyAV
(official/data/video_files.py) and classified by a video export (official/serving/video.py),
which samples its clips and crops as evaluation does.
"""

from __future__ import annotations

import os

import tensorflow as tf

from official.data import tfrecord, video_files
from official.serving import keras_file


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


def resolve_model_path(path: str) -> str:
    """A .keras file, a SavedModel directory, a training run (left to the caller, which reads its
    model.keras), or an export base directory (its newest version, as TF Serving would load).
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
        self.top_k = top_k
        # One line for the user when the model has no class names (indices are printed).
        self.missing_names: str | None = None
        if path.endswith(".keras"):
            self.model, stored, names = keras_file.load(path, "--model")
            self.preprocess = keras_file.serving_settings(path, self.model, stored, image_size)
            self.signature = None
            num_classes = self.model.output.shape[-1]
            names = tfrecord.read_labels(labels) if labels else names
            if names is not None and len(names) != num_classes:
                raise ValueError(
                    f"--labels={labels}: {len(names)} class names for a model with "
                    f"{num_classes} classes."
                )
            if names is None:
                self.missing_names = (
                    f"{path} stores no class names (its data had no labels.json for its "
                    f"{num_classes} classes): printing class indices; --labels=labels.json "
                    "names them"
                )
            self.names = names or [str(i) for i in range(num_classes)]
        else:
            self.signature = tf.saved_model.load(path).signatures["serving_default"]

    def clip(self, frames: list[bytes]) -> list[tuple[str, float]]:
        """The top classes of one video's encoded frames, from a video export."""
        inputs = self.signature.structured_input_signature[1] if self.signature else {}
        if "frames" not in inputs:
            raise ValueError("a video file needs a video export (official/serving/video.py)")
        out = self.signature(frames=tf.constant([frames]))
        names = [n.decode() for n in out["class_names"][0].numpy()]
        return list(zip(names, out["scores"][0].numpy().tolist(), strict=True))[: self.top_k]

    def __call__(self, data: bytes) -> list[tuple[str, float]]:
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
    if video_files.is_video_path(path):
        return classify.clip(video_files.read_video(path, fps)[0])
    with open(path, "rb") as f:
        return classify(f.read())
