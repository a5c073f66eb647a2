"""SavedModel export of an image classifier for TF Serving (docs/REFERENCE.md §4), on the shared
export base (official/serving/saved_model.py).

Writes <export_dir>/<version>/ with two signatures:
  serving_default  image_bytes: tf.string [N] (encoded JPEG/PNG/GIF/BMP), eval preprocessing in
                   the graph (official/data/preprocess.py, the same function the pipeline runs);
  serving_images   images: float32 [N, H, W, 3] in 0..255, any H and W (cropped and resized inside);
both returning probabilities [N, C], classes [N, k], scores [N, k] and class_names [N, k]; an
empty batch is an InvalidArgument error that says so.
Weights are float32 whatever the training precision. assets.extra/tf_serving_warmup_requests
holds real PredictRequests so the first request is fast; assets.extra/preprocessing.json the eval
preprocessing in the graph (official/data/eval_preprocessing.py).
"""

from __future__ import annotations

import os
import shlex

import keras
import numpy as np
import tensorflow as tf

from official.data import preprocess, tfrecord
from official.data.eval_preprocessing import FILE_NAME, EvalPreprocessing
from official.serving import keras_file
from official.serving.saved_model import (
    ClassifierModule,
    checked_class_names,
    float32_copy,
    not_empty,
    predict_url,
    serving_commands,
    write_version,
)

RECORD_PATH = os.path.join("assets.extra", FILE_NAME)  # in an export version


class ServingModule(ClassifierModule):
    def __init__(self, model, preprocessing: EvalPreprocessing, class_names, top_k: int):
        super().__init__(model, class_names, top_k)
        self.preprocessing = preprocessing
        self.image_size = preprocessing.image_size

    def _outputs(self, images):
        return self.outputs(tf.nn.softmax(tf.cast(self.model(images, training=False), tf.float32)))

    def _each(self, fn, batch):
        spec = tf.TensorSpec([self.image_size, self.image_size, 3], tf.float32)
        return tf.map_fn(fn, batch, fn_output_signature=spec)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(self, image_bytes):
        with tf.control_dependencies([not_empty(image_bytes, "image_bytes")]):
            images = self._each(self.preprocessing, image_bytes)
        return self._outputs(images)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_images(self, images):
        with tf.control_dependencies([not_empty(images, "images")]):
            images = self._each(self.preprocessing.decoded, images)
        return self._outputs(images)


def warmup_images(image_size: int) -> list[bytes]:
    """A few real-looking encoded images: smooth gradients with noise, as JPEG and PNG."""
    rng = np.random.default_rng(0)
    out = []
    for height, width, fmt in (
        (image_size, image_size, "jpeg"),
        (375, 500, "jpeg"),
        (image_size + 17, image_size, "png"),
    ):
        ramp = np.linspace(0, 255, width)[None, :, None] * np.ones((height, 1, 3))
        image = np.clip(ramp + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)
        encode = tf.io.encode_jpeg if fmt == "jpeg" else tf.io.encode_png
        out.append(encode(image).numpy())
    return out


def export_model(
    model: keras.Model,
    export_dir: str,
    image_size: int,
    class_names: list[str] | None = None,
    top_k: int = 5,
    crop_padding: int = preprocess.CROP_PADDING,
    version: int | None = None,
    preprocessing: EvalPreprocessing | None = None,
) -> str:
    """Writes <export_dir>/<version>/ (next free integer by default) and returns its path.

    `preprocessing` (default: image_size with crop_padding, ImageNet mean/std, bicubic) is the
    eval preprocessing put in the graph and stored in assets.extra/preprocessing.json.
    """
    preprocessing = preprocessing or EvalPreprocessing(image_size, crop_padding)
    class_names = checked_class_names(model, class_names)
    module = ServingModule(float32_copy(model), preprocessing, class_names, top_k)
    signatures = {
        "serving_default": module.serve_bytes.get_concrete_function(),
        "serving_images": module.serve_images.get_concrete_function(),
    }
    warmup = [{"image_bytes": [data]} for data in warmup_images(preprocessing.image_size)]
    extra = {RECORD_PATH: preprocessing.to_json()}
    return write_version(export_dir, module, signatures, warmup, extra, version)


def read_record(version_dir: str) -> EvalPreprocessing | None:
    """The eval preprocessing record an export version stores (None where it has none)."""
    path = os.path.join(version_dir, RECORD_PATH)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return EvalPreprocessing.from_json(f.read(), path)


def export_keras_file(
    path: str,
    export_dir: str,
    image_size: int | None = None,
    labels: str | None = None,
    top_k: int = 5,
) -> str:
    """Exports a `.keras` file with the preprocessing and class names it stores
    (official/serving/keras_file.py); image_size and a labels.json file replace them when given."""
    model, stored, names = keras_file.load(path)
    preprocessing = keras_file.serving_settings(path, model, stored, image_size)
    names = tfrecord.read_labels(labels) if labels else names
    version = export_model(
        model, export_dir, preprocessing.image_size, names, top_k, preprocessing=preprocessing
    )
    print(usage_lines(version))
    return version


def usage_lines(version_dir: str) -> str:
    """Commands to paste: inspect the signatures, serve, and a REST request with base64 bytes."""
    request = """'{"instances": [{"image_bytes": {"b64": "'"$(base64 -w0 cat.jpg)"'"}}]}'"""
    return "\n".join(
        [
            *serving_commands(version_dir),
            f"echo {request} | curl -s -d @- {shlex.quote(predict_url(version_dir))}",
        ]
    )
