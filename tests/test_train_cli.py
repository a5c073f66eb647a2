"""official/train.py as a user runs it: subprocesses, real flags, real signals."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "official", "train.py")
SMALL = {"train.steps_per_loop": 10, "data.train_batch_size": 32}


def train_cmd(model_dir, data_dir, overrides=None, *flags):
    override = json.dumps({**SMALL, **(overrides or {})})
    return [
        sys.executable,
        TRAIN,
        f"--model_dir={model_dir}",
        f"--data_dir={data_dir}",
        f"--params_override={override}",
        *flags,
    ]


def run(cmd, timeout=600, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.mark.parametrize(
    "flags,message",
    [
        # Each case is a process that imports TensorFlow: two in the fast set, the rest slow.
        (["--strategy=gpu_magic"], "error: Unknown strategy 'gpu_magic'; use one of tpu, "),
        (['--params_override={"train": {"epoch": 1}}'], "error: Unknown config key 'train.epoch'"),
        *[
            pytest.param(flags, message, marks=pytest.mark.slow)
            for flags, message in [
                (["--data_dir=/nonexistent/imagenet"], "error: No TFRecord shards match /none"),
                (["--config=resnetrs51_i160"], "error: Unknown recipe 'resnetrs51_i160'. Did you"),
                (["--config=efficientnet_rs_b4_i380"], "error: Recipe 'efficientnet_rs_b4_i380'"),
                (['--params_override={"train": {"epochs": "ten"}}'], "error: train.epochs must be"),
                (["--mode=serve"], "error: --mode='serve' is not known"),
                (["--strategy=tpu", "--tpu=local"], "error: No TPU reachable as --tpu='local'"),
            ]
        ],
    ],
)
def test_bad_flags_exit_with_one_clear_line(flags, message, tmp_path, sample_dir):
    cmd = [sys.executable, TRAIN, f"--model_dir={tmp_path}", *flags]
    if not any(f.startswith("--data_dir") for f in flags):
        cmd.append(f"--data_dir={sample_dir}")
    result = run(cmd, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr[-2000:]


def _checkpoint_variables(path):
    """Every saved tensor: model weights, BN statistics, optimizer slots, EMA."""
    reader = tf.train.load_checkpoint(path)
    names = [n for n in reader.get_variable_to_shape_map() if "CHECKPOINTABLE" not in n]
    return {n: reader.get_tensor(n) for n in names}


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_two_processes_train_to_identical_weights(sample_dir, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = tmp_path / "run"
    procs = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        }
        cmd = train_cmd(
            model_dir, sample_dir, {"train.epochs": 1}, "--strategy=multi_worker", "--mode=train"
        )
        procs.append(
            subprocess.Popen(
                cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    losses = [float(x) for x in re.findall(r"step \d+  loss ([\d.]+)", outputs[0][1])]
    assert "on 2 replica(s)" in outputs[0][1]
    assert len(losses) == 5 and losses[-1] < losses[0]  # 45 steps in loops of 10
    chief = tf.train.latest_checkpoint(str(model_dir))
    worker = tf.train.latest_checkpoint(str(model_dir / "tmp_worker_1"))
    assert chief.endswith("ckpt-45") and worker.endswith("ckpt-45")
    a, b = _checkpoint_variables(chief), _checkpoint_variables(worker)
    assert a.keys() == b.keys()
    assert sum(n.endswith("moving_mean/.ATTRIBUTES/VARIABLE_VALUE") for n in a) == 20
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], name)


@pytest.fixture(scope="module")
def symmetric_digits(tmp_path_factory):
    """32 digits made left-right symmetric (averaged with their mirror image), upscaled 4x by
    repetition and stored as PNG: lossless, so every decoded image equals its own flip."""
    from sklearn.datasets import load_digits

    from official.data import tfrecord

    digits = load_digits()
    root = tmp_path_factory.mktemp("symmetric")
    records = []
    for index in range(32):
        image = (digits.images[index] + digits.images[index][:, ::-1]) * (255.0 / 32.0)
        image = np.repeat(np.repeat(np.round(image).astype(np.uint8), 4, 0), 4, 1)
        png = tf.io.encode_png(np.repeat(image[..., None], 3, axis=2)).numpy()
        label = int(digits.target[index]) + 1
        records.append(tfrecord.encode_example(png, label, height=32, width=32, image_format="PNG"))
    for split in ("train", "validation"):
        tfrecord.write_shard(str(root / tfrecord.shard_name(split, 0, 1)), records)
    # One set of initial weights for every run below (train.init_weights), so that the runs do
    # not depend on how each process seeds its initializers.
    from official import models
    from official.configs import recipes

    kwargs = {**recipes.get("sample").model.kwargs, "dropout_rate": 0.0}
    models.get("resnetrs50", num_classes=10, **kwargs).save(root / "init.keras")
    return str(root)


# Batch = the whole 32-image set read in file order (shuffle buffer 1), full-image crops of
# mirror-symmetric images, no dropout: every batch holds the same pixels in the same order
# whatever the random flips, so a resumed run (whose input pipeline starts over) sees exactly
# the data of an uninterrupted one, and the two can be compared to float rounding.
RESUMABLE = {
    "data.train_batch_size": 32,
    "data.crop_area_min": 1.0,
    "data.shuffle_buffer": 1,
    "model.kwargs": {"dropout_rate": 0.0},
    "train.num_train_images": 32,
    "train.epochs": 40,  # 40 steps
    "train.steps_per_loop": 4,
    "train.max_checkpoints": 100,
}


def test_resume_data_is_the_same_every_step(symmetric_digits):
    """The premise of the kill/resume comparison below, checked on the pipeline itself."""
    from official.configs import recipes
    from official.data import pipeline

    config = recipes.get("sample").data
    config.data_dir, config.train_batch_size = symmetric_digits, 32
    config.crop_area_min, config.shuffle_buffer = 1.0, 1
    batches = [images.numpy() for images, _ in pipeline.build_dataset("train", config).take(3)]
    for images in batches:
        np.testing.assert_array_equal(images, images[:, :, ::-1])  # flips change nothing
        np.testing.assert_array_equal(images, batches[0])  # every batch is the same


def _steps(model_dir):
    state = tf.train.get_checkpoint_state(str(model_dir))
    return [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths] if state else []


@pytest.mark.slow
def test_killed_run_resumes_and_ends_where_an_uninterrupted_run_does(symmetric_digits, tmp_path):
    """SIGKILL as soon as the second checkpoint exists, then the same command again; compared
    with the same command run without interruption."""
    total = 40
    killed_dir, reference_dir = tmp_path / "killed", tmp_path / "reference"
    settings = {**RESUMABLE, "train.init_weights": os.path.join(symmetric_digits, "init.keras")}
    cmd = train_cmd(killed_dir, symmetric_digits, settings, "--mode=train")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and len(_steps(killed_dir)) < 2 and proc.poll() is None:
        time.sleep(0.01)  # polls for the checkpoint file; the kill follows it immediately
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    killed_at = _steps(killed_dir)[-1]
    assert 8 <= killed_at < total, "the run must be killed in the middle"
    before_kill = tf.train.latest_checkpoint(str(killed_dir))
    saved = _checkpoint_variables(before_kill)  # readable: not corrupted by the kill
    kept = {p: os.stat(p).st_mtime_ns for p in tf.io.gfile.glob(f"{killed_dir}/ckpt-*.index")}

    resumed = run(cmd)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    reference = run(train_cmd(reference_dir, symmetric_digits, settings, "--mode=train"))
    assert reference.returncode == 0, reference.stderr[-3000:]

    # The rerun continued from the last checkpoint: the checkpoints written before the kill are
    # untouched (a restart from step 0 would have rewritten them), and the steps run on to the end.
    assert {p: os.stat(p).st_mtime_ns for p in kept} == kept
    assert _steps(killed_dir) == _steps(reference_dir) == list(range(4, total + 1, 4))
    # The checkpoint the kill left equals the uninterrupted run's at the same step, and the
    # resumed run ends where the uninterrupted one does.
    at_kill = _checkpoint_variables(f"{reference_dir}/ckpt-{killed_at}")
    final = _checkpoint_variables(f"{killed_dir}/ckpt-{total}")
    final_reference = _checkpoint_variables(f"{reference_dir}/ckpt-{total}")
    assert saved.keys() == at_kill.keys() == final.keys()
    for name in saved:
        np.testing.assert_allclose(saved[name], at_kill[name], rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(
            final[name], final_reference[name], rtol=1e-5, atol=1e-6, err_msg=name
        )
    assert any(
        not np.allclose(saved[n], final[n]) for n in saved if "moving_mean" in n
    )  # and it did train after the resume


@pytest.mark.slow
def test_default_job_trains_evaluates_and_exports(sample_dir, tmp_path):
    result = run(train_cmd(tmp_path / "run", sample_dir, {"train.epochs": 4}))
    assert result.returncode == 0, result.stderr[-3000:]
    top1 = float(re.search(r"validation top-1 ([\d.]+)", result.stdout).group(1))
    assert top1 > 0.5  # 10 classes: chance is 0.1
    assert "exported SavedModel:" in result.stdout
    assert os.path.exists(tmp_path / "run" / "params.yaml")
    assert os.path.exists(tmp_path / "run" / "export" / "1" / "saved_model.pb")


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_stops(sample_dir, tmp_path):
    model_dir = tmp_path / "run"
    cmd = train_cmd(model_dir, sample_dir, {"train.epochs": 30}, "--mode=train")
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 300
    while time.time() < deadline and tf.train.latest_checkpoint(str(model_dir)) is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-2000:]
    match = re.search(r"SIGTERM: checkpoint saved at step (\d+); rerun to resume", err)
    assert match, err[-2000:]
    step = int(match.group(1))
    assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"ckpt-{step}")
    assert step < int(np.ceil(30 * 1437 / 32))  # it stopped early, at a loop boundary
