"""Continuous evaluation (official/training/continuous_eval.py, docs/tpu.md): a training process
and a watcher process on the sample set, as on two machines; the timeout; a checkpoint deleted
while it is being read; a restarted watcher."""

import glob
import json
import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from official import models
from official.configs import overrides, recipes
from official.data import pipeline
from official.training import continuous_eval, loop
from tests import command_line

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(ROOT, "official", "train.py")
STEPS, LOOP, BATCH = 60, 10, 32
EVAL_IMAGES = 120  # of the 360: the watcher's own flag over the run's params.yaml


def scalars(directory: str, tag: str) -> list[tuple[int, float]]:
    """(step, value) of every `tag` summary in the event files of `directory`."""
    found = []
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    found.append((event.step, float(tf.make_ndarray(value.tensor))))
    return sorted(found)


@pytest.fixture(scope="module")
def watched_run(sample_dir, tmp_path_factory):
    """The watcher starts first and waits; then training runs STEPS steps in loops of LOOP."""
    model_dir = str(tmp_path_factory.mktemp("run"))
    watcher = subprocess.Popen(
        [
            sys.executable,
            TRAIN,
            f"--model_dir={model_dir}",
            "--mode=eval",
            "--eval_timeout=300",
            f"--num_eval_images={EVAL_IMAGES}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    trainer = subprocess.run(
        [
            sys.executable,
            TRAIN,
            f"--data_dir={sample_dir}",
            f"--model_dir={model_dir}",
            "--mode=train",
            f"--train_steps={STEPS}",
            f"--iterations_per_loop={LOOP}",
            f"--train_batch_size={BATCH}",
            # float32, so the NumPy-side accuracies below compute exactly what the watcher did
            # (precision auto is bfloat16 on CPUs with AVX512_BF16: a logit may round apart).
            "--precision=float32",
            # The same batches every run: unseeded, a run could end with its raw and its EMA
            # weights both at chance on the 120 images, and the check below could not tell them
            # apart (it happened once: both 0.1).
            '--params_override={"data.seed": 7}',
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out, err = watcher.communicate(timeout=600)
    return {
        "model_dir": model_dir,
        "trainer": trainer,
        "watcher": (watcher.returncode, out, err),
    }


@pytest.mark.slow
def test_train_steps_trains_exactly_n_steps_on_a_schedule_scaled_to_n(watched_run):
    assert watched_run["trainer"].returncode == 0, watched_run["trainer"].stderr[-3000:]
    model_dir = watched_run["model_dir"]
    assert tf.train.latest_checkpoint(model_dir).endswith(f"ckpt-{STEPS}")
    # The sample recipe: base lr 0.4 at batch 256, 1 warmup epoch of 1,437 images, cosine to 0.
    peak, warm = 0.4 * BATCH / 256, round(1437 / BATCH)
    logged = scalars(os.path.join(model_dir, "train"), "learning_rate")
    steps = np.array([s for s, _ in logged])
    np.testing.assert_array_equal(steps, np.arange(LOOP, STEPS + 1, LOOP))
    expected = np.where(
        steps < warm,
        peak * steps / warm,
        peak * 0.5 * (1 + np.cos(np.pi * (steps - warm) / (STEPS - warm))),
    )
    np.testing.assert_allclose([v for _, v in logged], expected, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_watcher_evaluates_every_checkpoint_once_with_the_exported_weights(watched_run, sample_dir):
    code, out, err = watched_run["watcher"]
    assert code == 0, err[-3000:]
    model_dir = watched_run["model_dir"]
    top1 = scalars(os.path.join(model_dir, "eval"), "top1")
    steps = [s for s, _ in top1]
    assert len(steps) >= 2 and steps[-1] == STEPS and len(set(steps)) == len(steps)
    assert all(s % LOOP == 0 for s in steps)
    with open(os.path.join(model_dir, continuous_eval.RECORD_FILE)) as f:
        record = json.load(f)
    evaluated = {int(s): m for s, m in record["evaluated"].items() if "top1" in m}
    assert sorted(evaluated) == steps
    assert all(m["examples"] == EVAL_IMAGES for m in evaluated.values())
    for step, value in top1:
        assert value == pytest.approx(evaluated[step]["top1"])
    assert f"evaluated step(s) {', '.join(map(str, steps))}" in out

    # Independent check of "the weights training exports": training wrote its EMA weights to
    # model.weights.h5 at the end; their top-1 over the validation split, computed here with
    # NumPy, is what the watcher reported for the final step. The raw weights score differently.
    config = overrides.load_config(os.path.join(model_dir, "params.yaml"))
    config.data.num_eval_images = EVAL_IMAGES
    model = models.get(config.model.name, num_classes=10, **config.model.kwargs)
    dataset = pipeline.build_dataset("validation", config.data, training=False)
    images, labels = (np.concatenate(x) for x in zip(*dataset.as_numpy_iterator(), strict=True))

    def accuracy():
        return float(np.mean(np.argmax(model.predict(images, verbose=0), -1) == labels))

    model.load_weights(os.path.join(model_dir, "model.weights.h5"))
    assert evaluated[STEPS]["top1"] == pytest.approx(accuracy(), abs=1e-6)
    tf.train.Checkpoint(model=model).restore(f"{model_dir}/ckpt-{STEPS}").expect_partial()
    assert accuracy() != pytest.approx(evaluated[STEPS]["top1"], abs=1e-6)

    best = json.load(open(os.path.join(model_dir, "best", "best.json")))
    assert best["top1"] == max(m["top1"] for m in evaluated.values())
    assert record["best"] == best["step"] and best["checkpoint"].endswith(f"ckpt-{best['step']}")
    assert tf.train.load_checkpoint(best["checkpoint"])  # a readable copy
    model.load_weights(os.path.join(model_dir, "best", "model.weights.h5"))
    assert accuracy() == pytest.approx(best["top1"], abs=1e-6)


@pytest.mark.slow
def test_no_trainer_stops_after_eval_timeout_with_one_line(tmp_path, capsys):
    """official/train.py in this process (tests/command_line.py); the watcher above is the
    process."""
    start = time.monotonic()
    status = command_line.train_status(
        [f"--model_dir={tmp_path}", "--mode=eval", "--eval_timeout=5"]
    )
    elapsed = time.monotonic() - start
    assert status == 1
    assert command_line.error_line(capsys.readouterr().err) == (
        f"error: no params.yaml appeared in {tmp_path} within --eval_timeout=5 s; is training "
        "writing to this --model_dir?"
    )
    assert elapsed >= 5  # it waited the timeout


@pytest.fixture
def two_checkpoints(sample_dir, tmp_path):
    config = recipes.get("sample")
    config.data.data_dir = sample_dir
    overrides.apply_overrides(config, {"train.train_steps": 2})
    trainer = loop.Trainer(config, tf.distribute.get_strategy(), str(tmp_path))
    first = trainer.manager.save(checkpoint_number=1)
    trainer.manager.save(checkpoint_number=2)
    return config, str(tmp_path), first


def test_checkpoint_deleted_by_retention_is_skipped_or_kept_and_a_restart_evaluates_nothing_twice(
    two_checkpoints, monkeypatch, caplog
):
    """Training's retention deletes ckpt-1 while the watcher copies it (skipped), and ckpt-2
    while the watcher evaluates it: best/ keeps ckpt-2 all the same, from the staged copy
    (the CI failure of stop 34: best.json's checkpoint was None)."""
    config, model_dir, first = two_checkpoints
    second = f"{model_dir}/ckpt-2"
    real_copy, real_checkpoint = tf.io.gfile.copy, tf.train.Checkpoint

    def copy_while_deleted(src, dst, overwrite=False):
        if src == f"{first}.data-00000-of-00001":
            os.remove(src)
        return real_copy(src, dst, overwrite=overwrite)

    class DeletedDuringEval(real_checkpoint):
        def restore(self, save_path, options=None):
            if save_path.endswith("candidate/ckpt-2"):
                for name in os.listdir(model_dir):
                    if name.startswith("ckpt-2."):
                        os.remove(os.path.join(model_dir, name))
            return super().restore(save_path, options)

    monkeypatch.setattr(tf.io.gfile, "copy", copy_while_deleted)
    monkeypatch.setattr(tf.train, "Checkpoint", DeletedDuringEval)
    os.makedirs(f"{model_dir}/best/candidate")  # a job stopped mid-evaluation left this
    open(f"{model_dir}/best/candidate/ckpt-9.data-00000-of-00001", "w").write("half")
    strategy = tf.distribute.get_strategy()
    with caplog.at_level(logging.WARNING, logger="official.train"):
        results = continuous_eval.watch(config, strategy, model_dir, timeout=5)
    assert results["evaluated"] == [2] and results["final"]["examples"] == 360
    warnings = [  # TensorFlow's own (tf.function retracing, counted process-wide) aside
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("official")
    ]
    assert warnings == [
        f"skipped checkpoint {first}: it was deleted before it could be read (training keeps "
        "train.max_checkpoints)"
    ]
    best = json.load(open(os.path.join(model_dir, "best", "best.json")))
    assert best["step"] == 2 and best["checkpoint"] == f"{model_dir}/best/ckpt-2"
    assert not os.path.exists(f"{second}.index")
    assert os.path.exists(f"{model_dir}/best/ckpt-2.index")
    assert os.listdir(os.path.join(model_dir, "best", "candidate")) == []
    again = continuous_eval.watch(config, strategy, model_dir, timeout=5)
    assert again["evaluated"] == [] and again["final"] == results["final"]
    assert [s for s, _ in scalars(os.path.join(model_dir, "eval"), "top1")] == [2]


def test_a_copy_that_fails_while_the_checkpoint_is_whole_is_an_error_not_a_skip(
    two_checkpoints, monkeypatch
):
    _, model_dir, first = two_checkpoints

    def refused(src, dst, overwrite=False):
        raise tf.errors.PermissionDeniedError(None, None, f"{dst}: permission denied")

    monkeypatch.setattr(tf.io.gfile, "copy", refused)
    with pytest.raises(tf.errors.PermissionDeniedError):
        continuous_eval.stage_checkpoint(first, model_dir)
    assert os.listdir(f"{model_dir}/best/candidate") == []


def test_a_checkpoint_of_another_model_is_an_error_not_a_skip(two_checkpoints, sample_dir):
    config, model_dir, first = two_checkpoints
    other = recipes.get("sample")
    other.data.data_dir = sample_dir
    overrides.apply_overrides(other, {"model.name": "resnet18", "train.train_steps": 2})
    trainer = continuous_eval.eval_trainer(other, tf.distribute.get_strategy(), model_dir, False)
    with pytest.raises(ValueError, match=rf"checkpoint {first} does not hold this run's model"):
        continuous_eval.restore_weights(trainer, first)


def test_a_damaged_checkpoint_is_skipped_and_left_in_place(two_checkpoints, caplog):
    """The watcher only reads another job's directory: a damaged checkpoint is skipped with a
    warning naming it, never renamed (training, which owns the directory, moves it aside)."""
    from tests.checkpoint_damage import garble_index

    config, model_dir, first = two_checkpoints
    garble_index(first)
    before = sorted(os.listdir(model_dir))
    with caplog.at_level(logging.WARNING, logger="official.train"):
        results = continuous_eval.watch(config, tf.distribute.get_strategy(), model_dir, 5)
    assert results["evaluated"] == [2] and results["final"]["examples"] == 360
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("official")
    ]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"skipped checkpoint {first}: it could not be read (")
    assert warnings[0].endswith("); left in place")
    after = set(os.listdir(model_dir))
    assert set(before) <= after and not [n for n in after if n.endswith(".corrupt")]
