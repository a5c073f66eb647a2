"""What every SavedModel export shares (the image and the video exports build on it): float32
weights, versioned directories written whole or not at all, warm-up requests, the outputs of a
classification signature, and the commands to paste.

    version_dir = write_version(export_dir, module, signatures, warmup_inputs, extra_files)

A version is staged under `<export_dir>/.tmp-<version>` and renamed when complete, so a failed
export never leaves a half-written version that TF Serving would try to load; an existing
version is never overwritten (TF Serving versions are immutable).
"""

from __future__ import annotations

import os
import re
import shlex

import keras
import tensorflow as tf

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def float32_copy(model: keras.Model) -> keras.Model:
    """The same model with every layer in float32 (a bfloat16 graph does not run on CPU
    Serving) and the same weights."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        clone = keras.models.clone_model(
            model,
            clone_function=lambda layer: layer.__class__.from_config(
                {**layer.get_config(), "dtype": "float32"}
            ),
        )
    finally:
        keras.mixed_precision.set_global_policy(previous)
    clone.set_weights(model.get_weights())
    return clone


def not_empty(batch, name: str, what: str = "image"):
    """An empty batch is refused with a message saying so (not a shape error deep inside)."""
    return tf.debugging.assert_positive(
        tf.shape(batch)[0], message=f"{name}: the batch is empty; send at least one {what}"
    )


def checked_class_names(model: keras.Model, class_names: list[str] | None) -> list[str]:
    """`class_names`, or the class indices as names; an error when their count is not the
    model's class count."""
    num_classes = model.output.shape[-1]
    class_names = class_names or [str(i) for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {num_classes} classes.")
    return class_names


class ClassifierModule(tf.Module):
    """A tf.Module around a float32 classifier; subclasses add the signatures, which return
    `self.outputs(probabilities)`."""

    def __init__(self, model: keras.Model, class_names: list[str], top_k: int):
        super().__init__()
        self.model = model
        self.top_k = min(top_k, len(class_names))
        self.class_names = tf.constant(class_names)

    def outputs(self, probabilities):
        """probabilities [N, C], classes [N, k], scores [N, k] and class_names [N, k]."""
        scores, classes = tf.math.top_k(probabilities, k=self.top_k)
        return {
            "probabilities": probabilities,
            "classes": classes,
            "scores": scores,
            "class_names": tf.gather(self.class_names, classes),
        }


def next_version(export_dir: str) -> int:
    """One more than the highest version directory under export_dir (1 for a new one)."""
    versions = (
        [int(n) for n in tf.io.gfile.listdir(export_dir) if n.strip("/").isdigit()]
        if tf.io.gfile.exists(export_dir)
        else []
    )
    return max(versions, default=0) + 1


def newest_version(export_dir: str) -> str | None:
    """The highest version directory under export_dir, if there is one."""
    if not tf.io.gfile.isdir(export_dir):
        return None
    names = [n.strip("/") for n in tf.io.gfile.listdir(export_dir)]
    versions = [int(n) for n in names if n.isdigit()]
    return f"{export_dir}/{max(versions)}" if versions else None


def write_warmup_requests(version_dir: str, requests: list[dict]) -> str:
    """assets.extra/tf_serving_warmup_requests: one PredictionLog per request, each a mapping of
    serving_default's input names to the tensors to send."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = os.path.join(version_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(signature_name="serving_default")
            )
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value, tf.string))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def write_version(
    export_dir: str,
    module: tf.Module,
    signatures: dict,
    warmup_requests: list[dict],
    extra_files: dict[str, str] | None = None,
    version: int | None = None,
) -> str:
    """Writes <export_dir>/<version>/ (next free integer by default): the SavedModel of `module`
    with `signatures`, its warm-up requests and `extra_files` ({path in the version: text}),
    staged and renamed into place. Returns the version's path."""
    version = version or next_version(export_dir)
    final = os.path.join(export_dir, str(version))
    if tf.io.gfile.exists(final):
        raise FileExistsError(f"{final} exists; TF Serving versions are immutable.")
    staging = os.path.join(export_dir, f".tmp-{version}")
    if tf.io.gfile.exists(staging):
        tf.io.gfile.rmtree(staging)
    tf.saved_model.save(module, staging, signatures=signatures)
    write_warmup_requests(staging, warmup_requests)
    for name, text in (extra_files or {}).items():
        path = os.path.join(staging, name)
        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(text)
    tf.io.gfile.rename(staging, final)
    return final


def model_name(version_dir: str) -> str:
    """The name TF Serving serves the export folder under: its own name with every character
    but letters, digits, `.`, `_` and `-` replaced by `_`. TF Serving's image passes MODEL_NAME
    to the server unquoted, and the name is part of the request URL, so a space would break
    both; the folder itself is mounted under this name, whatever its own."""
    name = os.path.basename(os.path.dirname(os.path.abspath(version_dir)))
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "model"


def serving_commands(version_dir: str) -> list[str]:
    """Commands to paste: inspect the signatures and serve the export with TF Serving. Every
    path is shell-quoted (a path with spaces arrives whole)."""
    model_base = os.path.dirname(os.path.abspath(version_dir))
    name = model_name(version_dir)
    return [
        f"saved_model_cli show --dir {shlex.quote(version_dir)} --all",
        f"docker run -p 8501:8501 -v {shlex.quote(f'{model_base}:/models/{name}')} "
        f"-e MODEL_NAME={name} tensorflow/serving",
    ]


def predict_url(version_dir: str) -> str:
    return f"http://localhost:8501/v1/models/{model_name(version_dir)}:predict"
