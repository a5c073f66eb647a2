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
        (["--strategy=gpu_magic"], "error: Unknown strategy 'gpu_magic'; use one of tpu, "),
        (["--data_dir=/nonexistent/imagenet"], "error: No TFRecord shards match /nonexistent/"),
        (["--config=resnetrs51_i160"], "error: Unknown recipe 'resnetrs51_i160'. Did you mean"),
        (["--config=efficientnet_rs_b4_i380"], "error: Recipe 'efficientnet_rs_b4_i380': Effic"),
        (['--params_override={"train": {"epochs": "ten"}}'], "error: train.epochs must be a float"),
        (['--params_override={"train": {"epoch": 1}}'], "error: Unknown config key 'train.epoch'"),
        (["--mode=serve"], "error: --mode='serve' is not known"),
        (["--strategy=tpu", "--tpu=local"], "error: No TPU reachable as --tpu='local'"),
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


def test_killed_run_resumes_to_the_same_step_without_losing_a_checkpoint(sample_dir, tmp_path):
    """SIGKILL mid-run, then the same command again.

    The resumed run cannot end with bit-identical weights to an uninterrupted one: the input
    pipeline's position, shuffle buffer and augmentation random state are not checkpointed
    (for ImageNet the shuffle buffer alone would be gigabytes per checkpoint), so after a resume
    the model sees a different order of images. What must hold, and is tested: it restarts from
    the last checkpoint written before the kill, ends at the same step count as an
    uninterrupted run, and no checkpoint that existed is lost or corrupted.
    """
    model_dir = tmp_path / "run"
    cmd = train_cmd(model_dir, sample_dir, {"train.epochs": 6}, "--mode=train")
    total = int(np.ceil(6 * 1437 / 32))  # 270
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and tf.train.latest_checkpoint(str(model_dir)) is None:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before_kill = tf.train.latest_checkpoint(str(model_dir))
    killed_at = int(before_kill.rsplit("-", 1)[1])
    assert 0 < killed_at < total, "the run must be killed in the middle"
    saved = _checkpoint_variables(before_kill)  # readable: not corrupted by the kill

    resumed = run(cmd)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"at step {killed_at}" in resumed.stderr  # restored from the last checkpoint
    assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"ckpt-{total}")
    state = tf.train.get_checkpoint_state(str(model_dir))
    steps = [int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths]
    assert steps == sorted(steps) and steps[-1] == total
    assert all(np.all(np.isfinite(v)) for v in saved.values())

    reference = run(
        train_cmd(tmp_path / "reference", sample_dir, {"train.epochs": 6}, "--mode=train")
    )
    assert reference.returncode == 0
    assert tf.train.latest_checkpoint(str(tmp_path / "reference")).endswith(f"ckpt-{total}")


def test_default_job_trains_evaluates_and_exports(sample_dir, tmp_path):
    result = run(train_cmd(tmp_path / "run", sample_dir, {"train.epochs": 4}))
    assert result.returncode == 0, result.stderr[-3000:]
    top1 = float(re.search(r"validation top-1 ([\d.]+)", result.stdout).group(1))
    assert top1 > 0.5  # 10 classes: chance is 0.1
    assert "exported SavedModel:" in result.stdout
    assert os.path.exists(tmp_path / "run" / "params.yaml")
    assert os.path.exists(tmp_path / "run" / "export" / "1" / "saved_model.pb")


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
