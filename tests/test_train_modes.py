"""official/train.py's modes and official.export's command line, end to end on the sample set
(docs/REFERENCE.md §2.7, 4): a run trained from a user's YAML --config with precision auto, then
--mode=eval and --mode=export on it, `official.export --checkpoint` / `--keras_file`, and the
bad invocations, each of which must end with one `error:` line. `official.export --keras_file`
runs as a process; --checkpoint and the bad invocations run in this process
(tests/command_line.py), where they skip a TensorFlow start each."""

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from official import export, models
from official.configs import overrides
from official.data import pipeline, preprocess, tfrecord
from official.training import loop
from official.training.runtime import get_strategy
from tests import command_line

# Subprocesses that import TensorFlow and train: the whole module is in the slow set.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "official", "train.py")
STEPS = 23  # ceil(0.5 epochs * 1,437 images / 32)

# The sample job written as a user's own recipe file: every key that differs from the defaults.
USER_CONFIG = textwrap.dedent(
    """\
    model:
      name: resnetrs50
      kwargs: {width_multiplier: 0.25, block_repeats: [1, 1, 1, 1], dropout_rate: 0.0}
    data:
      num_classes: 10
      image_size: 32
      train_batch_size: 32
      eval_batch_size: 120
      augmentation: none
      crop_area_min: 0.5
      eval_crop_padding: 0
      shuffle_buffer: 256
    optimizer:
      base_learning_rate: 0.4
      warmup_epochs: 0.1
      ema_decay: 0.9
    train:
      epochs: 0.5
      num_train_images: 1437
      steps_per_loop: 10
      max_checkpoints: 5
    runtime:
      strategy: cpu
      precision: auto
    """
)


def run(args, timeout=600):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def export_status(argv):
    """What `python -m official.export ARGV` does, in this process: its exit status."""
    values, _ = command_line.program_flags(export, argv)
    return export.run(values)


@pytest.fixture(scope="module")
def trained(sample_dir, tmp_path_factory):
    """One `--mode=train` run from a YAML --config file; returns (flags, model_dir, log)."""
    root = tmp_path_factory.mktemp("modes")
    config_file = root / "digits.yaml"
    config_file.write_text(USER_CONFIG)
    model_dir = root / "run"
    flags = [
        TRAIN,
        f"--config={config_file}",
        f"--data_dir={sample_dir}",
        f"--model_dir={model_dir}",
    ]
    result = run([*flags, "--mode=train"])
    assert result.returncode == 0, result.stderr[-3000:]
    return flags, model_dir, result.stderr


def run_config(model_dir):
    return overrides.load_config(os.path.join(model_dir, overrides.RUN_CONFIG_FILE))


def averaged_model(model_dir):
    """The run's network with the weights evaluation and export use (model.weights.h5 holds
    the EMA weights), built here from params.yaml."""
    config = run_config(model_dir)
    model = models.get(config.model.name, num_classes=10, **config.model.kwargs)
    model.load_weights(os.path.join(model_dir, "model.weights.h5"))
    return model


def validation_jpegs(sample_dir, count=6):
    files = sorted(tf.io.gfile.glob(os.path.join(sample_dir, "validation-*")))
    records = tf.data.TFRecordDataset(files).take(count)
    return [tfrecord.parse_example(r)["image_bytes"].numpy() for r in records]


def test_yaml_config_with_precision_auto_trains_and_records_the_config(trained):
    _, model_dir, log = trained
    precision = re.search(r"on 1 replica\(s\), (\w+); writing to", log).group(1)
    assert precision in ("float32", "bfloat16")  # auto never picks float16 without a GPU
    config = run_config(model_dir)
    assert config.model.kwargs == {
        "width_multiplier": 0.25,
        "block_repeats": [1, 1, 1, 1],
        "dropout_rate": 0.0,
    }
    assert (config.data.image_size, config.data.eval_crop_padding) == (32, 0)
    assert (config.optimizer.ema_decay, config.runtime.precision) == (0.9, "auto")
    indexes = tf.io.gfile.glob(f"{model_dir}/ckpt-*.index")
    steps = sorted(int(p[: -len(".index")].rsplit("-", 1)[1]) for p in indexes)
    assert steps == [10, 20, STEPS]
    assert os.path.exists(model_dir / "model.weights.h5")


def test_mode_eval_reports_the_top1_of_the_averaged_weights(trained, sample_dir):
    flags, model_dir, log = trained
    result = run([*flags, "--mode=eval"])
    assert result.returncode == 0, result.stderr[-3000:]
    match = re.search(r"validation top-1 ([\d.]+), top-5 ([\d.]+) on (\d+) images", result.stdout)
    assert match, result.stdout[-2000:]
    top1, count = float(match.group(1)), int(match.group(3))
    assert count == 360
    # Independent count: the EMA weights (model.weights.h5) on the eval pipeline's images.
    model = averaged_model(model_dir)
    config = run_config(model_dir)
    correct = 0
    for images, labels in pipeline.build_dataset("validation", config.data):
        correct += int(np.sum(np.argmax(model(images, training=False), -1) == labels.numpy()))
    precision = re.search(r"on 1 replica\(s\), (\w+);", log).group(1)
    tolerance = 1 if precision == "float32" else 4  # bfloat16 logits may flip a near tie
    assert abs(top1 * 360 - correct) <= tolerance + 0.5, (top1, correct)


def test_mode_export_serves_the_averaged_weights(trained, sample_dir):
    flags, model_dir, _ = trained
    result = run([*flags, "--mode=export"])
    assert result.returncode == 0, result.stderr[-3000:]
    path = re.search(r"exported SavedModel: (\S+)", result.stdout).group(1)
    assert path == f"{model_dir}/export/1"
    jpegs = validation_jpegs(sample_dir)
    served = tf.saved_model.load(path).signatures["serving_default"]
    out = served(image_bytes=tf.constant(jpegs))
    assert out["class_names"].numpy().astype(str)[:, 0].tolist() == [
        str(c) for c in out["classes"].numpy()[:, 0]
    ]  # labels.json of the sample set: class i is named "i"
    images = tf.stack(
        [preprocess.preprocess_for_eval(tf.constant(j), 32, padding=0) for j in jpegs]
    )
    expected = tf.nn.softmax(averaged_model(model_dir)(images, training=False)).numpy()
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)


def checkpoint_probabilities(model_dir, checkpoint, images):
    """Probabilities of the EMA weights held in `checkpoint`, restored here in-process."""
    trainer = loop.Trainer(run_config(model_dir), get_strategy("cpu"), str(model_dir) + "_probe")
    trainer.checkpoint.restore(checkpoint).assert_existing_objects_matched()
    with trainer.averaged_weights():
        return tf.nn.softmax(trainer.model(images, training=False)).numpy()


def test_export_cli_checkpoint_flag_exports_that_checkpoint(trained, sample_dir, tmp_path, capsys):
    _, model_dir, _ = trained
    first = f"{model_dir}/ckpt-10"
    argv = [f"--model_dir={model_dir}", f"--checkpoint={first}", f"--export_dir={tmp_path}"]
    status = export_status(argv)
    out, err = capsys.readouterr()
    assert status == 0, err[-3000:]
    assert "saved_model_cli show --dir" in out
    jpegs = validation_jpegs(sample_dir)
    images = tf.stack(
        [preprocess.preprocess_for_eval(tf.constant(j), 32, padding=0) for j in jpegs]
    )
    served = tf.saved_model.load(str(tmp_path / "1")).signatures["serving_default"]
    probabilities = served(image_bytes=tf.constant(jpegs))["probabilities"].numpy()
    np.testing.assert_allclose(
        probabilities, checkpoint_probabilities(model_dir, first, images), atol=1e-5
    )
    latest = checkpoint_probabilities(model_dir, f"{model_dir}/ckpt-{STEPS}", images)
    assert np.abs(probabilities - latest).max() > 1e-3  # not the latest checkpoint


def test_export_cli_keras_file(trained, sample_dir, tmp_path):
    _, model_dir, _ = trained
    model = averaged_model(model_dir)
    model.save(tmp_path / "digits.keras")
    result = run(
        [
            "-m",
            "official.export",
            f"--keras_file={tmp_path / 'digits.keras'}",
            "--image_size=32",
            f"--labels={os.path.join(sample_dir, tfrecord.LABELS_FILE)}",
            "--top_k=3",
            f"--export_dir={tmp_path / 'served'}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jpegs = validation_jpegs(sample_dir)
    out = tf.saved_model.load(str(tmp_path / "served" / "1")).signatures["serving_default"](
        image_bytes=tf.constant(jpegs)
    )
    # A .keras file carries no crop setting: the export uses the default eval crop (padding 32).
    images = tf.stack([preprocess.preprocess_for_eval(tf.constant(j), 32) for j in jpegs])
    expected = tf.nn.softmax(model(images, training=False)).numpy()
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    top = np.argsort(-expected, axis=1)[:, :3]
    np.testing.assert_array_equal(out["classes"].numpy(), top)
    names = json.load(open(os.path.join(sample_dir, tfrecord.LABELS_FILE)))
    assert out["class_names"].numpy().astype(str).tolist() == [
        [names[str(c)] for c in row] for row in top
    ]


@pytest.mark.parametrize(
    "case,message",
    [
        ("neither", "error: give exactly one of --model_dir (a training run) or --keras_file."),
        ("missing_keras_file", "error: --keras_file="),
        ("not_a_run", "params.yaml not found: --model_dir must be a training run."),
        ("missing_checkpoint", "ckpt-999: no such checkpoint; "),
    ],
)
def test_export_cli_errors(case, message, trained, tmp_path, capsys):
    _, model_dir, _ = trained
    args = {
        "neither": [f"--export_dir={tmp_path}"],
        "missing_keras_file": [f"--keras_file={tmp_path / 'absent.keras'}"],
        "not_a_run": [f"--model_dir={tmp_path}"],
        "missing_checkpoint": [f"--model_dir={model_dir}", f"--checkpoint={model_dir}/ckpt-999"],
    }[case]
    assert export_status(args) != 0
    line = command_line.error_line(capsys.readouterr().err)
    assert message in line
    if case == "missing_checkpoint":
        assert "ckpt-10, ckpt-20, ckpt-23" in line  # names what there is instead
    assert not os.path.exists(tmp_path / "1")  # nothing exported


@pytest.mark.usefixtures("float32_afterwards")  # the commands set the run's precision policy
@pytest.mark.parametrize("case", ["eval_without_checkpoint", "agc_with_float16"])
def test_train_cli_errors(case, trained, tmp_path, capsys):
    flags, _, _ = trained
    if case == "eval_without_checkpoint":
        args = [*flags[1:-1], f"--model_dir={tmp_path / 'empty'}", "--mode=eval"]
        expected = str(tmp_path / "empty")
    else:
        override = json.dumps({"runtime.precision": "float16", "optimizer.agc_clip": 0.01})
        args = [*flags[1:-1], f"--model_dir={tmp_path / 'agc'}", f"--params_override={override}"]
        expected = "agc_clip with float16 loss scaling is not supported"
    assert command_line.train_status(args) != 0
    assert expected in command_line.error_line(capsys.readouterr().err)
    assert not tf.io.gfile.glob(f"{tmp_path}/*/ckpt-*")
