"""Export a trained classifier as a SavedModel that TF Serving loads (docs/REFERENCE.md §4).

    python -m official.export --model_dir=runs/sample --export_dir=/tmp/serving/sample
    python -m official.export --keras_file=runs/sample/model.keras --export_dir=...

Writes <export_dir>/<version>/ with two signatures:
  serving_default  image_bytes: tf.string [N] (encoded JPEG/PNG/GIF/BMP), eval preprocessing in
                   the graph (official/data/preprocess.py, the same function the pipeline runs);
  serving_images   images: float32 [N, H, W, 3] in 0..255, any H and W (cropped and resized inside);
both returning probabilities [N, C], classes [N, k], scores [N, k] and class_names [N, k]; an
empty batch is an InvalidArgument error that says so.
Weights are float32 whatever the training precision, and the EMA weights when the run had EMA.
assets.extra/tf_serving_warmup_requests holds real PredictRequests so the first request is fast;
assets.extra/preprocessing.json the eval preprocessing in the graph
(official/data/eval_preprocessing.py). A run directory is only read (official/run_dir.py).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from official import quiet_start  # noqa: E402

quiet_start.import_tensorflow()
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from official.data import preprocess, tfrecord  # noqa: E402
from official.data.eval_preprocessing import FILE_NAME, EvalPreprocessing  # noqa: E402


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


class ServingModule(tf.Module):
    def __init__(self, model, preprocessing: EvalPreprocessing, class_names, top_k: int):
        super().__init__()
        self.model = model
        self.preprocessing = preprocessing
        self.image_size = preprocessing.image_size
        self.top_k = min(top_k, len(class_names))
        self.class_names = tf.constant(class_names)

    def _outputs(self, images):
        probabilities = tf.nn.softmax(tf.cast(self.model(images, training=False), tf.float32))
        scores, classes = tf.math.top_k(probabilities, k=self.top_k)
        return {
            "probabilities": probabilities,
            "classes": classes,
            "scores": scores,
            "class_names": tf.gather(self.class_names, classes),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_bytes(self, image_bytes):
        with tf.control_dependencies([not_empty(image_bytes, "image_bytes")]):
            images = tf.map_fn(
                self.preprocessing,
                image_bytes,
                fn_output_signature=tf.TensorSpec(
                    [self.image_size, self.image_size, 3], tf.float32
                ),
            )
        return self._outputs(images)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_images(self, images):
        with tf.control_dependencies([not_empty(images, "images")]):
            images = tf.map_fn(
                self.preprocessing.decoded,
                images,
                fn_output_signature=tf.TensorSpec(
                    [self.image_size, self.image_size, 3], tf.float32
                ),
            )
        return self._outputs(images)


def _warmup_images(image_size: int) -> list[bytes]:
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


def write_warmup_requests(version_dir: str, image_size: int, count: int = 3) -> str:
    """assets.extra/tf_serving_warmup_requests: PredictionLog records of real PredictRequests."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for data in _warmup_images(image_size)[:count]:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(signature_name="serving_default"),
            )
            request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([data], tf.string))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def _next_version(export_dir: str) -> int:
    versions = (
        [int(n) for n in tf.io.gfile.listdir(export_dir) if n.strip("/").isdigit()]
        if (tf.io.gfile.exists(export_dir))
        else []
    )
    return max(versions, default=0) + 1


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
    The SavedModel is written under a temporary name and renamed when complete, so a failed
    export never leaves a half-written version that TF Serving would try to load.
    """
    preprocessing = preprocessing or EvalPreprocessing(image_size, crop_padding)
    num_classes = model.output.shape[-1]
    class_names = class_names or [str(i) for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {num_classes} classes.")
    version = version or _next_version(export_dir)
    final = os.path.join(export_dir, str(version))
    if tf.io.gfile.exists(final):
        raise FileExistsError(f"{final} exists; TF Serving versions are immutable.")
    staging = os.path.join(export_dir, f".tmp-{version}")
    if tf.io.gfile.exists(staging):
        tf.io.gfile.rmtree(staging)
    module = ServingModule(float32_copy(model), preprocessing, class_names, top_k)
    signatures = {
        "serving_default": module.serve_bytes.get_concrete_function(),
        "serving_images": module.serve_images.get_concrete_function(),
    }
    tf.saved_model.save(module, staging, signatures=signatures)
    write_warmup_requests(staging, preprocessing.image_size)
    with tf.io.gfile.GFile(os.path.join(staging, "assets.extra", FILE_NAME), "w") as f:
        f.write(preprocessing.to_json())
    tf.io.gfile.rename(staging, final)
    return final


def read_class_names(data_dir: str, num_classes: int) -> list[str] | None:
    """The data set's labels.json names, when it has one for exactly num_classes classes."""
    path = os.path.join(data_dir, tfrecord.LABELS_FILE)
    if not data_dir or not tf.io.gfile.exists(path):
        return None
    names = tfrecord.read_labels(path)
    return names if len(names) == num_classes else None


def export_trainer(trainer, export_dir: str, top_k: int = 5) -> str:
    """Exports a training run's model (with its EMA weights when it has EMA)."""
    config = trainer.config
    if config.data.kind == "video":  # clips in, multi-view evaluation inside the graph
        from official import export_video

        return export_video.export_trainer(trainer, export_dir, top_k)
    names = read_class_names(config.data.data_dir, config.data.num_classes)
    preprocessing = EvalPreprocessing.from_config(config.data)
    with trainer.averaged_weights():
        path = export_model(
            trainer.model,
            export_dir,
            preprocessing.image_size,
            names,
            top_k,
            preprocessing=preprocessing,
        )
    print(usage_lines(path, preprocessing.image_size))
    return path


def export_run(
    model_dir: str, export_dir: str | None = None, checkpoint: str | None = None, top_k: int = 5
) -> str:
    """Exports a training run, reading its directory only: its params.yaml, and `checkpoint`
    or else the newest checkpoint that restores (official/checkpoint_fallback.py walks back over
    corrupt ones). export_dir defaults to <model_dir>/export."""
    from official import checkpoint_fallback, run_dir
    from official.training import loop

    run = run_dir.RunDirectory(model_dir)
    config = run.record()
    if config is None:
        raise FileNotFoundError(f"{run.record_path} not found: --model_dir must be a training run.")
    if checkpoint and not tf.io.gfile.exists(f"{checkpoint}.index"):
        paths = checkpoint_fallback.checkpoint_paths(model_dir)
        names = [os.path.basename(p) for p in reversed(paths)]
        raise FileNotFoundError(
            f"--checkpoint={checkpoint}: no such checkpoint; {model_dir} has "
            f"{', '.join(names) or 'none'}."
        )
    trainer = loop.Trainer(run_dir.reader_config(config), tf.distribute.get_strategy(), model_dir)
    if checkpoint:
        checkpoint_fallback.restore(trainer.checkpoint, checkpoint)
    elif trainer.restore() == 0:
        raise FileNotFoundError(f"no checkpoint in {model_dir}.")
    return export_trainer(trainer, export_dir or os.path.join(model_dir, "export"), top_k)


def export_keras_file(
    path: str,
    export_dir: str,
    image_size: int | None = None,
    labels: str | None = None,
    top_k: int = 5,
) -> str:
    """Exports a `.keras` file with the preprocessing and class names it stores
    (official/keras_file.py); image_size and a labels.json file replace them when given."""
    from official import keras_file

    model, stored, names = keras_file.load(path)
    preprocessing = keras_file.serving_settings(path, model, stored, image_size)
    names = tfrecord.read_labels(labels) if labels else names
    version = export_model(
        model, export_dir, preprocessing.image_size, names, top_k, preprocessing=preprocessing
    )
    print(usage_lines(version, preprocessing.image_size))
    return version


def usage_lines(version_dir: str, image_size: int) -> str:
    """Commands to paste: inspect the signatures, serve, and a REST request with base64 bytes."""
    del image_size
    model_base = os.path.dirname(os.path.abspath(version_dir))
    name = os.path.basename(model_base)
    url = f"http://localhost:8501/v1/models/{name}:predict"
    return "\n".join(
        [
            f"saved_model_cli show --dir {version_dir} --all",
            f"docker run -p 8501:8501 -v {model_base}:/models/{name} -e MODEL_NAME={name} "
            "tensorflow/serving",
            """echo '{"instances": [{"image_bytes": {"b64": "'"$(base64 -w0 cat.jpg)"'"}}]}' """
            f"| curl -s -d @- {url}",
        ]
    )


def main(argv):
    from absl import flags

    from official import checkpoint_fallback

    FLAGS = flags.FLAGS
    del argv
    if bool(FLAGS.model_dir) == bool(FLAGS.keras_file):
        print(
            "error: give exactly one of --model_dir (a training run) or --keras_file.",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        if FLAGS.keras_file:
            if not os.path.exists(FLAGS.keras_file):
                raise FileNotFoundError(f"--keras_file={FLAGS.keras_file}: no such file.")
            if not FLAGS.export_dir:
                raise FileNotFoundError("--keras_file needs --export_dir.")
            export_keras_file(
                FLAGS.keras_file, FLAGS.export_dir, FLAGS.image_size, FLAGS.labels, FLAGS.top_k
            )
        else:
            export_run(FLAGS.model_dir, FLAGS.export_dir, FLAGS.checkpoint, FLAGS.top_k)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (checkpoint_fallback.CheckpointError, tf.errors.OpError) as e:
        print(f"error: {getattr(e, 'message', e)}".splitlines()[0], file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    from absl import app, flags

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
    app.run(main)
