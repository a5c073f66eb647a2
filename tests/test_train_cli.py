"""official/train.py as a user runs it: subprocesses, real flags, real signals (the refused flags
in this process, as tests/command_line.py runs it)."""

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

from tests import command_line

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
        (
            ["--strategy=gpu_magic"],
            "error: runtime.strategy='gpu_magic' is not known; use one of tpu, ",
        ),
        (['--params_override={"train": {"epoch": 1}}'], "error: Unknown config key 'train.epoch'"),
        (["--data_dir=/nonexistent/imagenet"], "error: No TFRecord shards match /none"),
        (["--config=resnetrs51_i160"], "error: Unknown recipe 'resnetrs51_i160'. Did you"),
        (["--config=efficientnet_rs_b4_i380"], "error: Recipe 'efficientnet_rs_b4_i380'"),
        (['--params_override={"train": {"epochs": "ten"}}'], "error: train.epochs must be"),
        (["--mode=serve"], "error: --mode='serve' is not known"),
        (
            ['--params_override={"model.kwargs.widht_multiplier": 0.5}'],
            "error: model.kwargs.widht_multiplier: resnetrs50's builder "
            "(official.models.resnet.resnet) has no argument 'widht_multiplier'; did you mean "
            "width_multiplier? it takes activation, avg_down, avg_pool_fn, base_width, block, ",
        ),
        (
            # a builder whose **kwargs go on to another: checked against both
            ['--params_override={"model.name": "efficientnet_b0", "model.kwargs.bn_epsilom": 1}'],
            "error: model.kwargs.bn_epsilom: efficientnet_b0's builder "
            "(official.models.efficientnet.efficientnet) has no argument 'bn_epsilom'; did you "
            "mean bn_epsilon?",
        ),
    ],
)
def test_bad_flags_exit_with_one_clear_line(flags, message, tmp_path, sample_dir, capsys):
    """In this process (each is refused before any TensorFlow work); a refused command run as
    a process is the next test."""
    argv = [f"--model_dir={tmp_path}", *flags]
    if not any(f.startswith("--data_dir") for f in flags):
        argv.append(f"--data_dir={sample_dir}")
    assert command_line.train_status(argv) == 2
    assert command_line.error_line(capsys.readouterr().err).startswith(message)


@pytest.mark.slow
def test_an_unreachable_tpu_exits_with_one_clear_line_from_the_process(tmp_path, sample_dir):
    """The refused command run as a process (a TensorFlow start): the exit status and stderr a
    user gets; and the attempt to connect to a TPU stays out of this process."""
    cmd = [sys.executable, TRAIN, f"--model_dir={tmp_path}", f"--data_dir={sample_dir}"]
    result = run([*cmd, "--strategy=tpu", "--tpu=local"], timeout=120)
    assert result.returncode == 1
    line = command_line.error_line(result.stderr)
    assert line.startswith("error: No TPU reachable as --tpu='local'"), result.stderr[-2000:]


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


def start_workers(model_dirs, data_dir, overrides, stdout=subprocess.PIPE, second_program=None):
    """Two local workers of one MultiWorkerMirroredStrategy cluster training (Popen objects,
    stderr piped); `second_program`: the arguments that run worker 1 instead of train.py."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index, model_dir in enumerate(model_dirs):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        cmd = train_cmd(model_dir, data_dir, overrides, "--strategy=multi_worker", "--mode=train")
        if index == 1 and second_program:
            cmd[1:2] = second_program
        procs.append(
            subprocess.Popen(
                cmd,
                env={**os.environ, "TF_CONFIG": json.dumps(task)},
                cwd=ROOT,
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def run_workers(model_dirs, data_dir, overrides, timeout=600):
    """start_workers, run to the end: their (returncode, stderr)."""
    procs = start_workers(model_dirs, data_dir, overrides)
    errs = [p.communicate(timeout=timeout)[1] for p in procs]
    return [(p.returncode, err) for p, err in zip(procs, errs, strict=True)]


# 320 images in batches of 32: 10 steps an epoch, one loop of 10.
MULTI_WORKER = {"train.num_train_images": 320, "train.epochs": 1}
RESTORED = r"restored (\S+) at step (\d+) \(weights digest ([0-9a-f]+)\)"


@pytest.mark.slow
def test_multi_worker_resumes_every_worker_from_the_chiefs_checkpoint(sample_dir, tmp_path):
    model_dir = tmp_path / "run"
    first = run_workers([model_dir] * 2, sample_dir, MULTI_WORKER)
    for code, err in first:
        assert code == 0, err[-3000:]
    assert "on 2 replica(s)" in first[0][1]
    losses = [float(x) for x in re.findall(r"step 10  loss ([\d.]+)", first[0][1])]
    assert len(losses) == 1 and np.isfinite(losses[0])
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-10")
    # Worker 1 saved too (saving is collective) into its own directory, removed after the save:
    # a resumed worker 1 has nothing of its own to restore, as on a replaced VM.
    assert not (model_dir / "tmp_worker_1").exists()

    second = run_workers([model_dir] * 2, sample_dir, {**MULTI_WORKER, "train.epochs": 2})
    restored = []
    for code, err in second:
        assert code == 0, err[-3000:]
        restored.append(re.findall(RESTORED, err))
    # Both at the chief's step, with the same weights (the digest of every weight's bytes).
    assert len(restored[0]) == 1 and restored[0] == restored[1], restored
    path, step, _ = restored[0][0]
    assert path == str(model_dir / "ckpt-10") and step == "10"
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-20")
    assert not (model_dir / "tmp_worker_1").exists()


def _thread_count(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


@pytest.mark.slow
def test_a_stopped_worker_stops_the_other_with_one_line_naming_it(sample_dir, tmp_path):
    """Worker 1 is sent SIGSTOP once worker 0 has logged 4 training loops: worker 0 exits (the
    coordination service misses worker 1's heartbeats) with one line naming worker 1 and the
    checkpoint to resume from, instead of waiting in its collective forever."""
    # 50 epochs of 10 steps: far more than the test lets worker 0 run before the stop.
    settings = {**MULTI_WORKER, "train.epochs": 50}
    procs = start_workers([tmp_path / "run"] * 2, sample_dir, settings, subprocess.DEVNULL)
    chief, other = procs
    try:
        seen, threads = [], []
        for line in chief.stderr:  # until worker 0 reports 4 loops: both are training
            seen.append(line)
            if re.search(r"step \d+  loss", line):
                threads.append(_thread_count(chief.pid))
                if len(threads) == 4:
                    break
        else:
            raise AssertionError("".join(seen)[-3000:])
        other.send_signal(signal.SIGSTOP)
        rest = chief.communicate(timeout=300)[1]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    last = rest.strip().splitlines()[-1]
    assert chief.returncode == 1, rest[-3000:]
    assert last.startswith("error: worker 1 stopped sending heartbeats"), last
    # Threads stay flat from loop to loop (125 throughout, measured); with a collective timeout
    # TensorFlow adds a sleeping thread per collective: +122 per 10-step loop at 600 s.
    assert threads[-1] - threads[0] < 30, threads
    assert "restart every worker to resume from" in last or "start again" in last, last


# Worker 1 of the test below: official/train.py whose training loop, from step 20 on, sleeps
# instead of stepping, alive (its heartbeats go on) but never joining the next collective.
STALLED_WORKER = """
import runpy, sys, time
sys.path.insert(0, {root!r})
from official.training import loop
step_loop = loop.Trainer.train_loop
def stalled(self, *args, **kwargs):
    if self.step >= 20:
        time.sleep(3600)
    return step_loop(self, *args, **kwargs)
loop.Trainer.train_loop = stalled
sys.argv[0] = {train!r}
runpy.run_path({train!r}, run_name="__main__")
"""


@pytest.mark.slow
def test_a_stuck_worker_stops_the_other_after_the_collective_timeout(sample_dir, tmp_path):
    """runtime.collective_timeout_seconds: worker 1 stalls alive after step 20, so no heartbeat
    goes missing; worker 0's next collective fails after the timeout, and it exits with one
    line naming the stall, the setting and the checkpoint to resume from."""
    settings = {**MULTI_WORKER, "train.epochs": 50, "runtime.collective_timeout_seconds": 20}
    stalled = ["-c", STALLED_WORKER.format(root=ROOT, train=TRAIN)]
    procs = start_workers(
        [tmp_path / "run"] * 2, sample_dir, settings, subprocess.DEVNULL, second_program=stalled
    )
    chief, other = procs
    try:
        err = chief.communicate(timeout=400)[1]
        assert other.poll() is None  # worker 1 is still alive, asleep in its loop
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    last = err.strip().splitlines()[-1]
    assert chief.returncode == 1, err[-3000:]
    assert last.startswith(
        "error: a collective waited more than runtime.collective_timeout_seconds=20 s for "
    ), last
    assert "it is stalled or too slow; this worker stops here; restart every worker to" in last
    assert re.search(r"step 20  loss", err), err[-3000:]  # it trained with worker 1 until then


@pytest.mark.slow
def test_multi_worker_refuses_workers_at_different_steps(sample_dir, tmp_path):
    """Worker 1 cannot see the chief's checkpoints (another model_dir, as with a model_dir on a
    worker's local disk): both refuse to start, with one line, before any step."""
    from official.configs import overrides, recipes
    from official.training import loop, run_dir

    chief_dir = tmp_path / "run"
    # An earlier run of the chief: its record (params.yaml), then a checkpoint at step 10.
    config = recipes.get("sample")
    overrides.apply_overrides(config, {**SMALL, **MULTI_WORKER})
    config.data.data_dir = str(sample_dir)
    with run_dir.RunDirectory(str(chief_dir)).writing(config) as record:
        record.started()
    trainer = loop.Trainer(config, tf.distribute.get_strategy(), str(chief_dir))
    trainer.optimizer.iterations.assign(10)
    trainer.save()
    results = run_workers([chief_dir, tmp_path / "elsewhere"], sample_dir, MULTI_WORKER)
    for code, err in results:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 1 and len(errors) == 1, err[-3000:]
        assert errors[0].startswith("error: the workers would resume from different steps")
        assert "[(0, " in errors[0] and "), (10, " in errors[0]
    assert tf.train.latest_checkpoint(str(chief_dir)).endswith("ckpt-10")  # untouched


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


def sigterm_mid_loop(cmd, model_dir, wait):
    """Starts a run, sends SIGTERM `wait` seconds after its loop started; (seconds from the
    signal to the exit, return code, stderr)."""
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in proc.stderr:
        if "training from step" in line:  # SIGTERM is handled from here on
            break
    time.sleep(wait)  # tracing the loop, then steps inside its first 1,000
    assert proc.poll() is None and tf.train.latest_checkpoint(str(model_dir)) is None
    sent = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    proc.wait(timeout=60)
    return time.perf_counter() - sent, proc.returncode, err


@pytest.mark.slow
def test_sigterm_mid_loop_saves_within_seconds_and_the_rerun_resumes_there(sample_dir, tmp_path):
    """train.steps_per_loop 1,000: the loop stops at the next step, not at its end."""
    settings = {"train.epochs": 30, "train.steps_per_loop": 1000}  # 1,348 steps
    # A signal that comes while the loop is still being traced ends the run at once, before its
    # first step (nothing new to save): then try again, waiting longer (a loaded machine traces
    # slowly).
    for attempt, wait in enumerate((10, 30, 90)):
        model_dir = tmp_path / f"run{attempt}"
        cmd = train_cmd(model_dir, sample_dir, settings, "--mode=train")
        seconds, code, err = sigterm_mid_loop(cmd, model_dir, wait)
        assert seconds < 10 and code == 143, (seconds, code, err[-2000:])
        if "nothing new to save" not in err:
            break
    match = re.search(r"SIGTERM: checkpoint saved at step (\d+); rerun to resume", err)
    assert match, err[-2000:]
    step = int(match.group(1))
    assert 0 < step < 1000  # stopped inside the loop
    assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"ckpt-{step}")

    from official.configs import overrides
    from official.training import loop

    config = overrides.load_config(str(model_dir / overrides.RUN_CONFIG_FILE))
    rerun = loop.Trainer(config, tf.distribute.get_strategy(), str(model_dir))
    assert rerun.restore() == step
