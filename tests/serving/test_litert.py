"""LiteRT export (official/litert.py, docs/litert.md): files ai-edge-litert runs, float32
logits equal to Keras', the four quantizations, calibration from the run's TFRecords."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from official import models
from official.configs import overrides, recipes
from official.data import preprocess, tfrecord
from official.data.eval_preprocessing import EvalPreprocessing
from official.serving import litert
from official.training import loop
from official.training.runtime import get_strategy

# Converting and calibrating LiteRT files takes tens of seconds per model: CI runs these, the
# development subset (-m "not slow") leaves them out.
pytestmark = pytest.mark.slow

pytest.importorskip("ai_edge_litert")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = {
    "mnasnet_a1": dict(width_multiplier=0.25, block_repeats=(1,) * 7),
    "shufflenet_g3": dict(scale=0.25, block_repeats=(1, 1, 1)),
}


def tiny(name: str, images):
    """A small model whose BN statistics are those of `images` (as training would leave them),
    not their initial values: its layers then see activations of a realistic range."""
    model = models.get(name, num_classes=10, input_shape=(32, 32, 3), **TINY[name])
    normalized = preprocess.normalize(images)
    for _ in range(30):  # moving averages with momentum 0.9: 0.9^30 < 5% of the start is left
        model(normalized, training=True)
    return model


@pytest.fixture(scope="module")
def digits(sample_dir):
    """Real images: the sample set's validation digits, eval-cropped, in 0..255."""
    return litert.calibration_images(sample_dir, "validation", EvalPreprocessing(32, 0), 24)


def test_every_quantization_runs_and_float32_equals_keras_on_real_images(
    sample_dir, digits, tmp_path
):
    """MnasNet, searched for phone latency: each file LiteRT runs, float32 equal to Keras."""
    model = tiny("mnasnet_a1", digits)
    calibration = litert.calibration_images(sample_dir, "train", EvalPreprocessing(32, 0), 40)
    paths = litert.export_litert(model, str(tmp_path), 32, litert.QUANTIZATIONS, calibration)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [*(f"mnasnet_a1_{q}.tflite" for q in litert.QUANTIZATIONS), "mnasnet_a1_preprocessing.json"]
    )
    expected = np.asarray(model(preprocess.normalize(digits), training=False))
    scale = np.abs(expected).max()
    float32 = litert.litert_logits(paths["float32"], digits)
    assert np.abs(float32 - expected).max() / scale < 1e-4
    size = {q: os.path.getsize(p) for q, p in paths.items()}
    # Weights stored in 2 bytes (float16) or 1 (int8) instead of 4, plus the graph itself.
    assert size["float16"] < 0.6 * size["float32"]
    assert size["dynamic_int8"] < 0.45 * size["float32"]
    assert size["int8"] < 0.45 * size["float32"]

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=paths["int8"])
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert inp["dtype"] == np.int8 and inp["quantization"] == (1.0, -128)  # pixel - 128
    assert out["dtype"] == np.int8

    for quantization, tolerance in (("float16", 1e-2), ("dynamic_int8", 0.1)):
        logits = litert.litert_logits(paths[quantization], digits)
        assert np.abs(logits - expected).max() / scale < tolerance, quantization
    int8 = litert.litert_logits(paths["int8"], digits)
    assert int8.shape == expected.shape and np.all(np.isfinite(int8))
    # The output's quantization step is a fraction of the logits' range.
    assert out["quantization"][0] < (expected.max() - expected.min()) / 20
    # XNNPACK takes each whole graph: one delegate partition (an op it refuses splits the graph,
    # and every partition boundary leaves its work to LiteRT's own kernels).
    for quantization in ("float32", "int8"):
        assert delegate_partitions(paths[quantization]) == 1, quantization
        # ... and no op left outside it (a uint8 input's QUANTIZE was, before the input was int8).
        assert fully_accelerated(paths[quantization]), quantization


def test_a_converted_models_preprocessing_is_what_the_file_normalizes_with_and_stores(
    digits, tmp_path
):
    """Weights converted from timm keep their pretrained_cfg's transform (here mean 0.5 and
    std 0.25 of 255, a 0.9 crop, bilinear): the .tflite normalizes with that mean and std, and
    <name>_preprocessing.json holds the whole record for the app (its crop and size)."""
    model = tiny("shufflenet_g3", digits)
    record = EvalPreprocessing(32, 0, "timm", (127.5,) * 3, (63.75,) * 3, 0.9, "bilinear")
    paths = litert.export_litert(model, str(tmp_path), 32, ["float32"], preprocessing=record)
    expected = np.asarray(model((digits - 127.5) / 63.75, training=False))
    got = litert.litert_logits(paths["float32"], digits)
    assert np.abs(got - expected).max() / np.abs(expected).max() < 1e-4
    stored = (tmp_path / "shufflenet_g3_preprocessing.json").read_text()
    assert EvalPreprocessing.from_json(stored, "the file") == record


def delegate_partitions(path: str) -> int:
    """How many delegate (XNNPACK) nodes LiteRT's default CPU set-up runs a file in."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    return sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


def fully_accelerated(path: str) -> bool:
    """Whether LiteRT's CompiledModel runs every op of a file on its CPU accelerator (XNNPACK)."""
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    return CompiledModel.from_file(
        path, hardware_accel=HardwareAccelerator.CPU
    ).is_fully_accelerated()


def test_pixels_become_the_integer_input_its_quantization_names():
    pixels = np.array([0.0, 0.4, 127.6, 254.6, 255.0], np.float32)
    as_int8 = {"dtype": np.int8, "quantization": (1.0, -128)}
    np.testing.assert_array_equal(
        litert.quantized_input(pixels, as_int8), np.array([-128, -128, 0, 127, 127], np.int8)
    )
    # Another calibrated range: q = round(x / scale) + zero_point, clipped to the type's range.
    as_scaled = {"dtype": np.int8, "quantization": (0.5, -100)}
    np.testing.assert_array_equal(
        litert.quantized_input(pixels, as_scaled),
        np.array([-100, -99, 127, 127, 127], np.int8),
    )
    as_float = {"dtype": np.float32, "quantization": (0.0, 0)}
    np.testing.assert_array_equal(litert.quantized_input(pixels, as_float), pixels)


def test_the_stage_benchmark_cuts_after_the_stem_every_stage_and_the_head():
    from benchmarks.litert_stages import stage_cuts

    model = models.get("mnasnet_a1", num_classes=10, input_shape=(32, 32, 3), **TINY["mnasnet_a1"])
    cuts = stage_cuts(model)
    labels = [label for label, _ in cuts]
    assert labels == ["stem", *(f"stage{i}" for i in range(1, 8)), "head", "pool + classifier"]
    # Each cut is the last layer of its part: the next part starts from its output.
    assert [layer for _, layer in cuts[:2]] == ["stem_act", "stage1_block1_project_bn"]
    assert cuts[-2][1] == "head_act" and cuts[-1][1] is None
    with pytest.raises(ValueError, match="no stem_"):
        stage_cuts(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))


def test_calibration_takes_images_from_every_shard_in_turn(sample_dir):
    images = litert.calibration_images(sample_dir, "train", EvalPreprocessing(32, 0), 8)
    assert images.shape == (8, 32, 32, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255
    shards = sorted(tf.io.gfile.glob(os.path.join(sample_dir, tfrecord.file_pattern("train"))))
    assert len(shards) == 4
    # Image i comes from shard i % 4, record i // 4.
    for i in (0, 1, 5):
        record = list(tf.data.TFRecordDataset(shards[i % 4]).take(i // 4 + 1))[-1]
        encoded = tfrecord.parse_example(record)["image_bytes"]
        np.testing.assert_array_equal(images[i], preprocess.crop_for_eval(encoded, 32, 0).numpy())


def test_int8_without_calibration_data_names_what_is_missing(tmp_path):
    model = models.get("shufflenet_g3", num_classes=10, **TINY["shufflenet_g3"])
    with pytest.raises(ValueError, match="int8 needs calibration images"):
        litert.export_litert(model, str(tmp_path), 32, ["int8"])


# ---- A trained run, exported from the command line ----
@pytest.fixture(scope="module")
def trained_run(sample_dir, tmp_path_factory):
    config = recipes.get("sample")
    config.data.data_dir = sample_dir
    overrides.apply_overrides(
        config,
        {
            "train.epochs": 4,
            "train.eval_every_epochs": 4,
            "train.steps_per_loop": 45,
            # A fixed data order and augmentation: the same trained model, int8 calibration and
            # top-1 gap on every run, so the 2-point check cannot pass or fail by chance.
            "data.seed": 1,
        },
    )
    model_dir = str(tmp_path_factory.mktemp("run"))
    overrides.save_yaml(config, os.path.join(model_dir, overrides.RUN_CONFIG_FILE))
    trainer = loop.Trainer(config, get_strategy("cpu"), model_dir)
    loop.train(trainer, None)
    return trainer


def test_cli_exports_a_run_and_int8_keeps_its_top1(trained_run, sample_dir):
    model_dir = trained_run.model_dir
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "official.export_litert",
            f"--model_dir={model_dir}",
            "--quantizations=float32,int8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out_dir = os.path.join(model_dir, "litert")
    paths = {q: os.path.join(out_dir, f"resnetrs50_{q}.tflite") for q in ("float32", "int8")}
    written = [*(os.path.basename(p) for p in paths.values()), "resnetrs50_preprocessing.json"]
    assert sorted(os.listdir(out_dir)) == sorted(written)
    # The run's own record: its eval size, crop and data.preprocessing.
    with open(os.path.join(out_dir, "resnetrs50_preprocessing.json")) as f:
        stored = EvalPreprocessing.from_json(f.read(), "resnetrs50_preprocessing.json")
    assert stored == EvalPreprocessing.from_config(trained_run.config.data)

    # The whole validation split, as the eval pipeline crops it.
    images, labels = [], []
    for shard in sorted(tf.io.gfile.glob(os.path.join(sample_dir, "validation-*"))):
        for record in tf.data.TFRecordDataset(shard):
            example = tfrecord.parse_example(record)
            images.append(preprocess.crop_for_eval(example["image_bytes"], 32, 0).numpy())
            labels.append(int(example["label"]))
    images, labels = np.stack(images), np.array(labels)
    with trained_run.averaged_weights():
        keras_logits = np.asarray(trained_run.model(preprocess.normalize(images), training=False))
    float32 = litert.litert_logits(paths["float32"], images)
    assert np.abs(float32 - keras_logits).max() / np.abs(keras_logits).max() < 1e-4
    top1 = {
        q: float(np.mean(litert.litert_logits(p, images).argmax(-1) == labels))
        for q, p in paths.items()
    }
    print(f"top-1 on {len(labels)} validation digits: {top1}")  # docs/litert.md quotes these
    assert top1["float32"] > 0.5  # trained: far above the 0.1 of chance
    assert abs(top1["int8"] - top1["float32"]) <= 0.02


def test_a_keras_files_stored_record_gives_the_size_and_normalization(tmp_path):
    """`--keras_file` without `--image_size`: the size, crop and normalization the file stores
    (here converted timm weights' 16 px, mean 0.5 and std 0.25 of 255), not the 224 default."""
    from official.serving import keras_file

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="stem_conv1")(inputs)
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, logits)
    record = EvalPreprocessing(16, 0, "timm", (127.5,) * 3, (63.75,) * 3, 1.0, "bilinear")
    keras_file.save(model, str(tmp_path / "m.keras"), record, None)
    paths = litert.export_keras_file(str(tmp_path / "m.keras"), None, None, ["float32"], None)
    stored = (tmp_path / f"{model.name}_preprocessing.json").read_text()
    assert EvalPreprocessing.from_json(stored, "json") == record
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    mean, std = record.mean_std()
    expected = np.asarray(model((pixels - np.float32(mean)) / np.float32(std)))
    got = litert.litert_logits(paths["float32"], pixels)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
