"""LiteRT (TensorFlow Lite) files of an image classifier: float32, float16, dynamic-range int8 and
full-integer int8 (docs/litert.md); official/export_litert.py is the program.

Each file takes images [N, size, size, 3]: RGB pixels in 0..255 after the eval crop and resize
(float32; for `int8`, int8 q = round(pixel / scale) + zero_point with the input tensor's
quantization, which is pixel - 128 when the calibration images span 0..255), the normalization
of the model's eval preprocessing record inside (folded into the stem where it can be:
official/serving/litert_stem.py), and returns logits [N, classes] (float32; int8 for `int8`,
real = scale * (q - zero_point) with the output tensor's quantization). `int8` is calibrated on
images of TFRecords cropped as that record crops, taken from every shard in turn.
"""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from official import models  # noqa: F401  (registers the custom layers .keras files name)
from official.data import tfrecord
from official.data.eval_preprocessing import EvalPreprocessing
from official.data.pipeline import list_shards
from official.serving import keras_file, litert_stem
from official.serving.saved_model import float32_copy
from official.weights import storage

QUANTIZATIONS = ("float32", "float16", "dynamic_int8", "int8")
CALIBRATION_IMAGES = 200


def write_saved_model(model, directory: str, preprocessing) -> None:
    """A SavedModel whose serving signature takes pixels in 0..255 at the size of
    `preprocessing` (an EvalPreprocessing), applies its normalization, folded into the stem
    convolution where it can be (official/serving/litert_stem.py), and returns the model's
    logits (inference mode). Keras' ExportArchive saves the variables so that the converter
    freezes them into constants."""
    image_size = preprocessing.image_size
    mean, std = preprocessing.mean_std()

    def logits(images):
        normalized = (tf.cast(images, tf.float32) - mean) / std
        return tf.cast(model(normalized, training=False), tf.float32)

    folded = litert_stem.folded_logits(model, image_size, mean, std)
    archive = keras.export.ExportArchive()
    for tracked in folded.models if folded else (model,):
        archive.track(tracked)
    spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32, name="images")
    function = folded or logits
    serve = lambda images: {"logits": function(images)}  # noqa: E731
    archive.add_endpoint("serve", serve, input_signature=[spec])
    archive.write_out(directory, verbose=False)


def calibration_images(
    data_dir: str, split: str, preprocessing, count: int = CALIBRATION_IMAGES
) -> np.ndarray:
    """`count` images [count, size, size, 3] in 0..255 cropped as `preprocessing` (an
    EvalPreprocessing) crops, one from each shard in turn (shards of a converted set mix the
    classes; this also mixes the shards)."""
    files = list_shards(data_dir, split)
    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=len(files), block_length=1
    )
    dataset = dataset.map(
        lambda record: preprocessing.pixels(tfrecord.parse_example(record)["image_bytes"])
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
    preprocessing=None,
) -> dict[str, str]:
    """Writes one .tflite per quantization (each written whole, then renamed into place) and
    <name>_preprocessing.json, the eval preprocessing record (EvalPreprocessing: its crop for
    the app to apply; the files normalize with its mean and std), and returns
    {quantization: path}. The model is converted in float32 whatever its policy."""
    preprocessing = preprocessing or EvalPreprocessing(image_size)
    if preprocessing.image_size != image_size:
        raise ValueError(
            f"image_size {image_size} differs from the preprocessing record's "
            f"{preprocessing.image_size}."
        )
    for quantization in quantizations:  # refused before any work
        check(quantization, calibration)
    name = name or model.name
    tf.io.gfile.makedirs(out_dir)
    paths = {}
    with tempfile.TemporaryDirectory() as saved_model:
        write_saved_model(float32_copy(model), saved_model, preprocessing)
        record = os.path.join(out_dir, f"{name}_preprocessing.json")
        with tf.io.gfile.GFile(f"{record}.tmp", "w") as f:
            f.write(preprocessing.to_json())
        tf.io.gfile.rename(f"{record}.tmp", record, overwrite=True)
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


def parse_quantizations(text: str) -> list[str]:
    """'float32,int8' -> ['float32', 'int8']; a name not in QUANTIZATIONS is an error."""
    quantizations = [q.strip() for q in text.split(",") if q.strip()]
    unknown = sorted(set(quantizations) - set(QUANTIZATIONS))
    if unknown:
        raise ValueError(
            f"--quantizations: {', '.join(unknown)} not known; use {','.join(QUANTIZATIONS)}."
        )
    return quantizations


def export_classifier(
    model,
    out_dir: str,
    preprocessing,
    quantizations,
    data_dir: str | None,
    split: str = "train",
    calibration_count: int = CALIBRATION_IMAGES,
) -> dict[str, str]:
    """export_litert for an image classifier with the eval preprocessing record it was trained
    for (an EvalPreprocessing: size, crop, normalization), calibrating int8 on `split` of
    `data_dir`; refuses a model that does not take images [N, H, W, 3]."""
    if len(model.input.shape) != 4:
        raise ValueError(
            f"{model.name} takes {len(model.input.shape) - 1}-D inputs; LiteRT export "
            "handles image classifiers [N, H, W, 3] (docs/litert.md)."
        )
    calibration = None
    if "int8" in quantizations:
        if not data_dir:
            raise ValueError("int8 is calibrated on TFRecords: give --data_dir.")
        calibration = calibration_images(data_dir, split, preprocessing, calibration_count)
    return export_litert(
        model,
        out_dir,
        preprocessing.image_size,
        quantizations,
        calibration,
        preprocessing=preprocessing,
    )


def export_keras_file(
    path: str,
    out_dir: str | None,
    image_size: int | None,
    quantizations,
    data_dir,
    calibration_count: int = CALIBRATION_IMAGES,
) -> dict[str, str]:
    """The LiteRT files of a `.keras` file (next to it by default), calibrated on `data_dir`'s
    train split, with the preprocessing it stores (keras_file.serving_settings: image_size
    replaces its size when given; a file without one gets the default and a warning)."""
    model = storage.load_keras_file(path, "--keras_file")
    stored, _ = keras_file.read_entries(path)
    preprocessing = keras_file.serving_settings(path, model, stored, image_size)
    out_dir = out_dir or os.path.dirname(os.path.abspath(path))
    return export_classifier(
        model, out_dir, preprocessing, quantizations, data_dir, calibration_count=calibration_count
    )
