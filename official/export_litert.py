"""LiteRT (TensorFlow Lite) files for phones: float32, float16, dynamic-range int8 and full-integer
int8 (docs/litert.md).

    python -m official.export_litert --model_dir=runs/sample
    python -m official.export_litert --keras_file=model.keras --image_size=224 \\
        --data_dir=/data/imagenet --out_dir=/tmp/litert

Writes <out_dir>/<model name>_<quantization>.tflite (default out_dir <model_dir>/litert), each
taking images [N, size, size, 3]: RGB pixels in 0..255 after the eval crop and resize (float32;
for `int8`, int8 q = round(pixel / scale) + zero_point with the input tensor's quantization,
which is pixel - 128 when the calibration images span 0..255), the ImageNet normalization
inside, and returning logits [N, classes] (float32; int8 for `int8`, real = scale * (q -
zero_point) with the output tensor's quantization). A training run gives its EMA weights.
`int8` is calibrated on --calibration_images images of the run's own training TFRecords (eval
crop), taken from every shard in turn.
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from official import quiet_start  # noqa: E402

tf = quiet_start.import_tensorflow()
import numpy as np  # noqa: E402

from official.data import preprocess, tfrecord  # noqa: E402

QUANTIZATIONS = ("float32", "float16", "dynamic_int8", "int8")
CALIBRATION_IMAGES = 200


def write_saved_model(model, directory: str, image_size: int) -> None:
    """A SavedModel whose serving signature takes pixels in 0..255, applies the ImageNet
    normalization (folded into the stem convolution where it can be: official/litert_stem.py)
    and returns the model's logits (inference mode). Keras' ExportArchive saves the variables so
    that the converter freezes them into constants."""
    import keras

    from official import litert_stem

    def logits(images):
        normalized = preprocess.normalize(images, tf.float32)
        return tf.cast(model(normalized, training=False), tf.float32)

    folded = litert_stem.folded_logits(model, image_size)
    archive = keras.export.ExportArchive()
    for tracked in folded.models if folded else (model,):
        archive.track(tracked)
    spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32, name="images")
    function = folded or logits
    serve = lambda images: {"logits": function(images)}  # noqa: E731
    archive.add_endpoint("serve", serve, input_signature=[spec])
    archive.write_out(directory, verbose=False)


def calibration_images(
    data_dir: str,
    split: str,
    image_size: int,
    count: int = CALIBRATION_IMAGES,
    crop_padding: int = preprocess.CROP_PADDING,
) -> np.ndarray:
    """`count` eval-cropped images [count, size, size, 3] in 0..255, one from each shard in turn
    (shards of a converted set mix the classes; this also mixes the shards)."""
    from official.data.pipeline import list_shards

    files = list_shards(data_dir, split)
    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=len(files), block_length=1
    )
    dataset = dataset.map(
        lambda record: preprocess.crop_for_eval(
            tfrecord.parse_example(record)["image_bytes"], image_size, crop_padding
        )
    ).ignore_errors()
    images = np.stack([image.numpy() for image in dataset.take(count)])
    if len(images) == 0:
        raise ValueError(f"no decodable image in the {split} shards of {data_dir}.")
    return images


def check(quantization: str, calibration) -> None:
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization={quantization!r}; use one of {', '.join(QUANTIZATIONS)}.")
    if quantization == "int8" and (calibration is None or len(calibration) == 0):
        raise ValueError("int8 needs calibration images (--data_dir with TFRecord shards).")


def convert(saved_model: str, quantization: str, calibration=None) -> bytes:
    """The .tflite flatbuffer of a SavedModel's serving signature, with one of QUANTIZATIONS."""
    check(quantization, calibration)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    configure(converter, quantization, calibration)
    return converter.convert()


def configure(converter, quantization: str, calibration) -> None:
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":

        def representative():
            for image in calibration:
                yield [np.asarray(image, np.float32)[None]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # int8 in, not uint8: XNNPACK does not take the uint8 -> int8 QUANTIZE that a uint8
        # input needs, which then ran on LiteRT's own kernel outside the delegate (the tests
        # check that no op does). Pixels calibrated over 0..255 get scale 1 and zero point
        # -128: the input is pixel - 128.
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8


def export_litert(
    model,
    out_dir: str,
    image_size: int,
    quantizations=QUANTIZATIONS,
    calibration=None,
    name: str | None = None,
) -> dict[str, str]:
    """Writes one .tflite per quantization (each written whole, then renamed into place) and
    returns {quantization: path}. The model is converted in float32 whatever its policy."""
    from official.export import float32_copy

    for quantization in quantizations:  # refused before any work
        check(quantization, calibration)
    name = name or model.name
    tf.io.gfile.makedirs(out_dir)
    paths = {}
    with tempfile.TemporaryDirectory() as saved_model:
        write_saved_model(float32_copy(model), saved_model, image_size)
        for quantization in quantizations:
            flatbuffer = convert(saved_model, quantization, calibration)
            path = os.path.join(out_dir, f"{name}_{quantization}.tflite")
            staging = f"{path}.tmp"
            with tf.io.gfile.GFile(staging, "wb") as f:
                f.write(flatbuffer)
            tf.io.gfile.rename(staging, path, overwrite=True)
            paths[quantization] = path
    return paths


def quantized_input(images: np.ndarray, details: dict) -> np.ndarray:
    """Pixels in 0..255 as the input tensor of `details` (an Interpreter's input details)
    takes them: as they are for a float input, q = round(x / scale) + zero_point for an integer
    one (clipped to its range)."""
    dtype = np.dtype(details["dtype"])
    if dtype.kind == "f":
        return np.asarray(images, dtype)
    scale, zero_point = details["quantization"]
    info = np.iinfo(dtype)
    quantized = np.round(np.asarray(images, np.float32) / scale) + zero_point
    return np.clip(quantized, info.min, info.max).astype(dtype)


def litert_logits(path: str, images: np.ndarray, num_threads: int = 1) -> np.ndarray:
    """Runs a .tflite file this module wrote with ai-edge-litert on images [N, size, size, 3] in
    0..255; returns float32 logits (an int8 output dequantized with its scale and zero point)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ImportError("running .tflite files needs ai-edge-litert: pip install it.") from None
    interpreter = Interpreter(model_path=path, num_threads=num_threads)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], quantized_input(images, inp))
    interpreter.invoke()
    logits = interpreter.get_tensor(out["index"])
    if out["dtype"] == np.int8:
        scale, zero_point = out["quantization"]
        logits = scale * (logits.astype(np.float32) - zero_point)
    return logits


def _from_run(model_dir: str, checkpoint: str | None):
    """A training run's Trainer, restored (its `averaged_weights()` gives the EMA weights)."""
    from official.configs import overrides
    from official.training import loop

    params = os.path.join(model_dir, overrides.RUN_CONFIG_FILE)
    if not tf.io.gfile.exists(params):
        raise FileNotFoundError(f"{params} not found: --model_dir must be a training run.")
    config = overrides.load_config(params)
    trainer = loop.Trainer(config, tf.distribute.get_strategy(), model_dir)
    if checkpoint:
        trainer.checkpoint.restore(checkpoint).assert_existing_objects_matched()
    elif trainer.restore() == 0:
        raise FileNotFoundError(f"no checkpoint in {model_dir}.")
    return trainer


def main(argv):
    import contextlib

    from absl import flags

    FLAGS = flags.FLAGS
    del argv
    quantizations = [q.strip() for q in FLAGS.quantizations.split(",") if q.strip()]
    try:
        unknown = sorted(set(quantizations) - set(QUANTIZATIONS))
        if unknown:
            raise ValueError(
                f"--quantizations: {', '.join(unknown)} not known; use {','.join(QUANTIZATIONS)}."
            )
        if bool(FLAGS.model_dir) == bool(FLAGS.keras_file):
            raise ValueError("give exactly one of --model_dir (a training run) or --keras_file.")
        if FLAGS.keras_file:
            if not os.path.exists(FLAGS.keras_file):
                raise FileNotFoundError(f"--keras_file={FLAGS.keras_file}: no such file.")
            import keras

            import official.models  # noqa: F401  (registers the custom layers)

            model = keras.saving.load_model(FLAGS.keras_file)
            weights = contextlib.nullcontext()
            image_size, data_dir, split = FLAGS.image_size, FLAGS.data_dir, "train"
            crop_padding = preprocess.CROP_PADDING
            out_dir = FLAGS.out_dir or os.path.dirname(os.path.abspath(FLAGS.keras_file))
        else:
            trainer = _from_run(FLAGS.model_dir, FLAGS.checkpoint)
            model, config, weights = trainer.model, trainer.config, trainer.averaged_weights()
            image_size = config.data.resolved_eval_image_size
            data_dir = FLAGS.data_dir or config.data.data_dir
            split, crop_padding = config.data.train_split, config.data.eval_crop_padding
            out_dir = FLAGS.out_dir or os.path.join(FLAGS.model_dir, "litert")
        if len(model.input.shape) != 4:
            raise ValueError(
                f"{model.name} takes {len(model.input.shape) - 1}-D inputs; LiteRT export "
                "handles image classifiers [N, H, W, 3] (docs/litert.md)."
            )
        calibration = None
        if "int8" in quantizations:
            if not data_dir:
                raise ValueError("int8 is calibrated on TFRecords: give --data_dir.")
            calibration = calibration_images(
                data_dir, split, image_size, FLAGS.calibration_images, crop_padding
            )
        with weights:
            paths = export_litert(model, out_dir, image_size, quantizations, calibration)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    for quantization, path in paths.items():
        size = tf.io.gfile.stat(path).length / 2**20
        print(f"{quantization:13s} {size:8.2f} MiB  {path}")
    print(
        "run one: from ai_edge_litert.interpreter import Interpreter; "
        f"Interpreter(model_path='{paths[quantizations[-1]]}')"
    )


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("model_dir", None, "A training run's directory (uses its params.yaml).")
    flags.DEFINE_string("checkpoint", None, "With --model_dir: this checkpoint, not the latest.")
    flags.DEFINE_string("keras_file", None, "Or a .keras model file.")
    flags.DEFINE_integer("image_size", 224, "Input size for --keras_file.")
    flags.DEFINE_string("data_dir", None, "TFRecords for int8 calibration (default: the run's).")
    flags.DEFINE_string("out_dir", None, "Where the .tflite files go (default <model_dir>/litert).")
    flags.DEFINE_string("quantizations", ",".join(QUANTIZATIONS), "Comma-separated subset.")
    flags.DEFINE_integer("calibration_images", CALIBRATION_IMAGES, "Images int8 calibrates on.")
    app.run(main)
