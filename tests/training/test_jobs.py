"""What official/train.py does with a run directory (official/training/jobs.py and
official/training/run_dir.py):
each finding of a new user's session (issue 18) reproduced on a real run of the sample recipe."""

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from official import train
from official.configs import recipes
from official.data import tfrecord
from official.data.eval_preprocessing import EvalPreprocessing
from official.serving import image, keras_file
from official.training import checkpoints, jobs, loop, run_dir
from official.training.runtime import get_strategy
from tests.checkpoint_damage import CORRUPTIONS
from tests.example_protos import example_bytes

# Whole train.py jobs on the sample set (about two minutes together): CI runs them, the
# development subset (-m "not slow") leaves them out; tests/training/test_run_dir.py and
# tests/training/test_checkpoints.py stay in it.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(ROOT, "official", "train.py")
# The run a user made with --params_override (12 classes, not the recipe's 10): 45 steps in
# loops of 9, so ckpt-18, ckpt-27, ckpt-36 and ckpt-45 are kept. No EMA, so that 45 steps leave
# a model whose predictions depend on the crop.
RUN = {
    "train.epochs": 1.0,
    "train.steps_per_loop": 9,
    "train.max_checkpoints": 4,
    "data.train_batch_size": 32,
    "data.num_classes": 12,
    "optimizer.ema_decay": 0.0,
    "data.seed": 0,
    "runtime.precision": "float32",  # auto is bfloat16 on CPUs with AVX512_BF16: slower here
}


def command(model_dir, mode="train_and_eval", **flags) -> list[str]:
    """official/train.py's command line: --model_dir, --mode and `flags` as --name=value."""
    return [f"--model_dir={model_dir}", f"--mode={mode}"] + [f"--{k}={v}" for k, v in flags.items()]


@contextlib.contextmanager
def parsed(argv):
    """official/train.py's flags parsed from `argv`, as a process would have them."""
    train.FLAGS.unparse_flags()
    try:
        train.FLAGS([TRAIN, *argv])
        yield train.FLAGS
    finally:
        train.FLAGS.unparse_flags()


def cli(argv) -> int:
    """What `python official/train.py ARGV` does, in this process: the exit status."""
    with parsed(argv):
        return jobs.main(train.arguments())


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def sample_run(sample_dir, tmp_path_factory):
    """A finished train_and_eval run: (directory, its log lines)."""
    directory = tmp_path_factory.mktemp("runs") / "digits12"
    handler = _Lines()
    logger = logging.getLogger("official")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        status = cli(command(directory, data_dir=sample_dir, params_override=json.dumps(RUN)))
    finally:
        logger.removeHandler(handler)
    assert status == 0, handler.lines[-5:]
    return str(directory), handler.lines


def copy_of(sample_run, tmp_path) -> str:
    target = tmp_path / "run"
    shutil.copytree(sample_run[0], target)
    return str(target)


def snapshot(directory) -> dict:
    """Every file under `directory` with a hash of its bytes."""
    out = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    return out


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def forbid_writes(monkeypatch):
    """A read-only mount: every write official/training/run_dir.py and
    official/training/checkpoints.py would make raises, as it would there (chmod does not
    stop root, which CI runs as)."""

    def read_only(path, action):
        raise PermissionError(f"[Errno 30] Read-only file system: {path!r}")

    monkeypatch.setattr(run_dir, "modify", read_only)


def test_the_run_records_its_config_and_reports_skipped_records_every_loop(sample_run):
    directory, lines = sample_run
    record = run_dir.RunDirectory(directory).record()
    assert record.data.num_classes == 12 and record.train.steps_per_loop == 9
    loops = [line for line in lines if line.startswith("step ")]
    assert len(loops) == 5 and all(line.endswith("skipped records 0") for line in loops)
    names = sorted(os.listdir(directory))
    assert [n for n in names if n.endswith(".index")] == [
        "ckpt-18.index",
        "ckpt-27.index",
        "ckpt-36.index",
        "ckpt-45.index",
    ]
    assert {"model.keras", "model.weights.h5", "params.yaml", "export"} <= set(names)
    assert run_dir.LOCK_FILE not in names  # released at the end


# ---- 1. a wrong command never damages a finished run --------------------------------------
def test_export_without_config_uses_the_run_and_conflicts_change_nothing(
    sample_run, sample_dir, tmp_path, capsys
):
    directory = copy_of(sample_run, tmp_path)
    record = open(os.path.join(directory, "params.yaml"), "rb").read()
    # The serving command of docs/serving.md, without repeating the run's --params_override.
    assert cli(command(directory, "export", export_dir=str(tmp_path / "served"))) == 0
    served = tf.saved_model.load(str(tmp_path / "served" / "1")).signatures["serving_default"]
    jpeg = tf.io.encode_jpeg(tf.zeros([32, 32, 3], tf.uint8))
    assert served(image_bytes=tf.stack([jpeg]))["probabilities"].shape == (1, 12)

    conflicts = [
        (command(directory, "export", params_override='{"data.num_classes": 10}'), "10", "12"),
        (command(directory, "eval", config="sample", data_dir=sample_dir), "10", "12"),
        (command(directory, "train", params_override='{"optimizer.momentum": 0.5}'), "0.5", "0.9"),
    ]
    for refused, new, old in conflicts:
        capsys.readouterr()
        assert cli(refused) == 2
        errors = error_lines(capsys)
        assert len(errors) == 1 and errors[0].startswith("error: this command sets "), errors
        assert f"={new} but the run in {directory} was trained with " in errors[0]
        assert errors[0].split("trained with ")[1].split(" ")[0].endswith(f"={old}")
    # the record `python -m official.export --model_dir=<run>` builds the model from is intact
    assert open(os.path.join(directory, "params.yaml"), "rb").read() == record
    assert not os.path.exists(os.path.join(directory, "export", "2"))


# ---- 2 + 3. corrupt checkpoints: eval falls back on a read-only run, training resumes ------
# The three damages the issue found, one per checkpoint from the newest down: the walk-back
# passes each (one warning naming it and why) and restores ckpt-18.
DAMAGED = {"ckpt-45": "zeroed", "ckpt-36": "truncated", "ckpt-27": "garbled_index"}


def test_corrupt_checkpoints_fall_back_read_only_and_when_training(
    sample_run, tmp_path, monkeypatch, caplog, capsys
):
    directory = copy_of(sample_run, tmp_path)
    for name, corruption in DAMAGED.items():
        CORRUPTIONS[corruption](os.path.join(directory, name))
    before = snapshot(directory)

    forbid_writes(monkeypatch)
    with caplog.at_level(logging.INFO, logger="official"):
        assert cli(command(directory, "eval")) == 0
        out = tmp_path / "exports"  # export to a writable place, from the read-only run
        assert cli(command(directory, "export", export_dir=str(out))) == 0
        assert os.path.exists(out / "1" / "saved_model.pb")
    assert "validation top-1 " in capsys.readouterr().out
    assert snapshot(directory) == before  # not a byte written into the run
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in DAMAGED:
        prefix = f"{directory}/{name}"
        assert any(m.startswith(f"checkpoint {prefix} does not restore (") for m in warnings)
        assert any(m.startswith(f"left {prefix} in place") for m in warnings)
    assert caplog.text.count(f"restored {directory}/ckpt-18 at step 18") == 2

    monkeypatch.undo()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="official"):  # the same command as the run's
        assert cli(command(directory, "train")) == 0
    assert f"restored {directory}/ckpt-18 at step 18" in caplog.text
    names = set(os.listdir(directory))
    for name in DAMAGED:
        assert {f"{name}.index.corrupt", f"{name}.data-00000-of-00001.corrupt"} <= names
    assert tf.train.latest_checkpoint(directory) == f"{directory}/ckpt-45"  # trained again
    for step in (27, 36, 45):
        assert checkpoints.integrity_problem(f"{directory}/ckpt-{step}") is None
    assert open(os.path.join(directory, "params.yaml"), "rb").read() == (
        open(os.path.join(sample_run[0], "params.yaml"), "rb").read()
    )


# ---- 4. every bad value is refused up front, in one line, exit 2 ---------------------------
@pytest.mark.parametrize(
    "override,message",
    [
        (
            {"data.train_batch_size": -8},
            "data.train_batch_size=-8 is out of range: it must be >= 1.",
        ),
        ({"data.train_batch_size": 0}, "data.train_batch_size=0 is out of range: it must be >= 1."),
        (
            {"optimizer.base_learning_rate": -0.1},
            "optimizer.base_learning_rate=-0.1 is out of range: it must be > 0.",
        ),
        ({"train.epochs": 0}, "train.epochs=0.0 is out of range: it must be > 0."),
    ],
)
def test_invalid_values_exit_2_with_one_line_and_write_nothing(
    override, message, sample_dir, tmp_path, capsys
):
    run = tmp_path / "run"
    status = cli(command(run, data_dir=sample_dir, params_override=json.dumps(override)))
    assert status == 2
    assert error_lines(capsys) == [f"error: {message}"]
    assert not run.exists()


def test_train_py_exits_2_in_one_line_and_accepts_yaml_1_2_numbers(sample_dir, tmp_path, capsys):
    argv = [
        TRAIN,
        f"--model_dir={tmp_path / 'run'}",
        f"--data_dir={sample_dir}",
        '--params_override={"data.train_batch_size": -8}',
    ]
    with parsed(argv[1:]), pytest.raises(SystemExit) as exit_status:
        train.main([])
    assert exit_status.value.code == 2
    assert error_lines(capsys) == [
        "error: data.train_batch_size=-8 is out of range: it must be >= 1."
    ]
    assert not (tmp_path / "run").exists()
    # 1e-3 is a YAML 1.2 / JSON float (PyYAML alone reads it as a string)
    run = run_dir.RunDirectory(str(tmp_path / "other"))
    override = '{"optimizer.base_learning_rate": 1e-3, "train.epochs": 1E1}'
    with parsed(command(run.path, params_override=override, data_dir=sample_dir)):
        config = jobs.settle_config(train.arguments(), run)
    assert config.optimizer.base_learning_rate == 0.001 and config.train.epochs == 10.0


# ---- 4 + 5. data that does not fit: one line naming the problem ----------------------------
def _records(directory, examples, split="train"):
    os.makedirs(directory, exist_ok=True)
    tfrecord.write_shard(os.path.join(directory, f"{split}-00000-of-00001"), examples)


def _jpeg(seed):
    pixels = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    return tf.io.encode_jpeg(pixels).numpy()


def test_wrong_schema_out_of_range_labels_and_undecodable_data_stop_in_one_line(
    sample_dir, tmp_path, capsys
):
    wrong = tmp_path / "wrong_schema"
    for split in ("train", "validation"):
        _records(wrong, [example_bytes({"img": _jpeg(i), "lbl": 1}) for i in range(8)], split)
    assert cli(command(tmp_path / "a", data_dir=str(wrong))) == 2
    assert error_lines(capsys) == [
        f"error: {wrong}/train-00000-of-00001: its records have no image/encoded and no "
        "image/class/label (they have img, lbl); the pipeline reads the ImageNet schema, "
        "image/encoded (JPEG bytes) and image/class/label (official/data/tfrecord.py; "
        "official.data.build_tfrecords writes it)."
    ]
    # the digits are labelled 0..9; a config of 5 classes used to train to a loss of 1e14
    five = json.dumps({"data.num_classes": 5})
    assert cli(command(tmp_path / "b", data_dir=sample_dir, params_override=five)) == 2
    (line,) = error_lines(capsys)
    assert "-of-00004: a record has label " in line
    assert "outside [0, data.num_classes=5)" in line and int(line.split("label ")[1][0]) >= 5

    broken = tmp_path / "broken"
    for split in ("train", "validation"):
        _records(broken, [tfrecord.encode_example(b"\xff\xd8 no", 1, height=1, width=1)], split)
    assert cli(command(tmp_path / "c", data_dir=str(broken))) == 2
    (line,) = error_lines(capsys)
    assert "none of the first 1 records of 'train'" in line
    assert line.endswith("training would skip every record.")
    assert not any((tmp_path / n).exists() for n in "abc")


# ---- 6. a finite but diverged loss stops the run; nothing is exported ----------------------
DIVERGING = {
    "optimizer.base_learning_rate": 50.0,
    "optimizer.warmup_epochs": 0.0,
    "train.epochs": 0.5,
    "train.steps_per_loop": 4,
    "data.train_batch_size": 32,
}


def test_a_diverged_run_stops_and_exports_nothing(sample_dir, tmp_path, capsys):
    run = tmp_path / "run"
    status = cli(command(run, data_dir=sample_dir, params_override=json.dumps(DIVERGING)))
    assert status == 1
    (line,) = error_lines(capsys)
    assert "stayed above 10 x the reference 2.303 for 3 loops: the run diverged" in line
    assert "The last good checkpoint (none) is kept" in line
    assert sorted(n for n in os.listdir(run) if not os.path.isdir(run / n)) == ["params.yaml"]


def test_divergence_after_good_checkpoints_keeps_the_last_good_one(sample_run, tmp_path):
    directory = copy_of(sample_run, tmp_path)
    config = run_dir.RunDirectory(directory).record()
    config.optimizer.base_learning_rate = 50.0  # a library user, bypassing the record check
    config.train.epochs = 3.0
    trainer = loop.Trainer(config, get_strategy("cpu"), directory)
    with pytest.raises(loop.TrainingDiverged, match=r"last good checkpoint \(.*/ckpt-45\) is kept"):
        loop.train(trainer, None)
    assert tf.train.latest_checkpoint(directory) == f"{directory}/ckpt-45"
    weights = os.path.join(directory, "model.weights.h5")
    assert open(weights, "rb").read() == open(f"{sample_run[0]}/model.weights.h5", "rb").read()


# ---- 8. one writer per run directory -------------------------------------------------------
def test_a_second_trainer_is_refused_and_a_killed_ones_lock_is_taken_over(
    sample_run, tmp_path, capsys, caplog
):
    directory = copy_of(sample_run, tmp_path)
    lock = os.path.join(directory, run_dir.LOCK_FILE)
    cmd = [
        sys.executable,
        TRAIN,
        "--mode=train",
        f"--model_dir={directory}",
        '--params_override={"train.epochs": 50}',
    ]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300
        while not os.path.exists(lock) and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert json.load(open(lock))["pid"] == first.pid
        record = open(os.path.join(directory, "params.yaml"), "rb").read()
        assert cli(command(directory, "train")) == 1
        (line,) = error_lines(capsys)
        assert line.startswith(f"error: {directory} is being trained by pid {first.pid} on ")
        assert line.endswith(
            "one writer per run directory; wait for it to finish or use another --model_dir."
        )
        assert open(os.path.join(directory, "params.yaml"), "rb").read() == record
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    assert os.path.exists(lock)  # SIGKILL leaves it behind: stale
    with caplog.at_level(logging.WARNING, logger="official"):
        run_dir.WriterLock(directory).acquire().release()
    assert f"taking over a stale lock (pid {first.pid} on " in caplog.text


# ---- 9. the preprocessing travels with the model -------------------------------------------
def _validation_jpegs(sample_dir, tmp_path, count=16) -> list[str]:
    paths = []
    dataset = tf.data.TFRecordDataset(tf.io.gfile.glob(f"{sample_dir}/validation-*"))
    for i, raw in enumerate(dataset.take(count)):
        example = tfrecord.parse_example(raw)
        path = str(tmp_path / f"digit{i:02d}.jpg")
        with open(path, "wb") as f:
            f.write(example["image_bytes"].numpy())
        paths.append(path)
    return paths


def test_predict_on_the_runs_keras_file_equals_its_saved_model(sample_run, sample_dir, tmp_path):
    from official.serving.predictor import Classifier

    directory = sample_run[0]
    assert recipes.get("sample").data.eval_crop_padding == 0
    images = [open(p, "rb").read() for p in _validation_jpegs(sample_dir, tmp_path)]
    served = Classifier(f"{directory}/export/1", 12, None, None)
    from_keras = Classifier(f"{directory}/model.keras", 12, None, None)
    # a run directory: its model.keras, as official/predict.py resolves it
    from_run = Classifier(run_dir.model_file_of(directory), 12, None, None)
    assert from_keras.preprocess == EvalPreprocessing(32, 0)

    for data in images:
        top = dict(served(data))  # the export's top 5 (its top_k): class name -> probability
        assert served(data)[0][0] == from_keras(data)[0][0] == from_run(data)[0][0]
        for classify in (from_keras, from_run):
            mine = dict(classify(data))
            np.testing.assert_allclose([mine[n] for n in top], list(top.values()), atol=1e-5)
    # the test can tell: the crop padding 32 that .keras files always got gives other outputs
    padded = EvalPreprocessing(32, 32)
    gaps = []
    for data in images:
        wrong = tf.nn.softmax(from_keras.model(padded(tf.constant(data))[None]))[0].numpy()
        top = dict(served(data))
        gaps.append(max(abs(wrong[int(n)] - p) for n, p in top.items()))
    assert max(gaps) > 1e-2


def test_a_keras_file_without_settings_gets_the_recipe_default_and_a_warning(
    sample_run, tmp_path, caplog
):
    model, stored, names = keras_file.load(f"{sample_run[0]}/model.keras")
    assert stored == EvalPreprocessing(32, 0) and names is None  # 12 classes, 10 names
    plain = str(tmp_path / "plain.keras")
    model.save(plain)
    assert keras_file.read_entries(plain) == (None, None)
    with caplog.at_level(logging.WARNING):
        settings = keras_file.serving_settings(plain, model, None)
    # any input size: the recipes' 224 and crop padding 32 (the digits were trained at 32, 0)
    assert settings == EvalPreprocessing(224, 32)
    assert (
        "stores no preprocessing settings: using the recipe default (224 px, crop padding 32"
        in (caplog.text)
    )
    assert keras_file.serving_settings(plain, model, None, image_size=32).image_size == 32


def test_exporting_a_keras_file_uses_its_stored_preprocessing(sample_run, tmp_path):
    path = image.export_keras_file(f"{sample_run[0]}/model.keras", str(tmp_path / "served"))
    with open(os.path.join(path, "assets.extra", "preprocessing.json")) as f:
        assert EvalPreprocessing.from_json(f.read(), path) == EvalPreprocessing(32, 0)
    served = tf.saved_model.load(path).signatures["serving_default"]
    jpeg = tf.io.encode_jpeg(tf.zeros([40, 32, 3], tf.uint8))
    assert served(image_bytes=tf.stack([jpeg]))["probabilities"].shape == (1, 12)


def test_a_keras_teacher_labels_with_its_stored_preprocessing(tmp_path):
    """official.pseudo_label feeds a `.keras` teacher what it stores (size, crop, setting)."""
    import keras

    from official.training import pseudo_labeling

    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(inputs))
    path = str(tmp_path / "teacher.keras")
    keras_file.save(keras.Model(inputs, outputs), path, EvalPreprocessing(40, 0, "official_tpu"))
    teacher = pseudo_labeling.load_teacher(path)
    assert teacher.preprocessing == EvalPreprocessing(40, 0, "official_tpu")
