"""A training run killed 10 times (SIGKILL: no handler runs, nothing is flushed) at random
points and inside every kind of write it makes, each time restarted with the same command.

After every kill: every checkpoint file in the directory reads completely, nothing is marked
corrupt, params.yaml is the first one written. After every restart: the run resumed from the
newest complete checkpoint. At the end: the planned step, and no leftover of any writer.
"""

import json
import os
import random
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from official.training import checkpoints, run_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "tests", "fault_runner.py")
CONFIG = {
    "train.epochs": 32 * 16 / 1437,  # 32 steps of 16 images at 16x16
    "data.image_size": 16,
    "model.name": "resnet18",  # the smallest trunk: a restart builds it anew
    "model.kwargs": {"width_multiplier": 0.125, "block_repeats": [1, 1, 1, 1]},
    "train.steps_per_loop": 2,  # a checkpoint every 2 steps
    "train.max_checkpoints": 2,  # old checkpoints are deleted from the third save on
    "data.train_batch_size": 16,
    "data.shuffle_buffer": 64,
    "optimizer.ema_decay": 0.0,
}
TOTAL = 32
# One restart after each kill; "random" waits for the child's first new checkpoint, then kills
# it after a random 0-0.3 s. The last fault fires only when training has reached TOTAL.
PLAN = [
    "record_write:1",
    "before_merge:2",
    "random",
    "after_merge:1",
    "mid_sweep:1",
    "random",
    "before_merge:1",
    "random",
    "after_merge:2",
    "weights_write:1",
]


def _steps(directory):
    return sorted(int(p.rsplit("-", 1)[1]) for p in checkpoints.checkpoint_paths(directory))


def _check_nothing_corrupt(directory, record):
    names = os.listdir(directory)
    assert not [n for n in names if checkpoints.CORRUPT_SUFFIX in n], names
    for prefix in checkpoints.checkpoint_paths(directory):
        assert checkpoints.integrity_problem(prefix) is None, prefix
    params = os.path.join(directory, run_dir.RECORD_FILE)
    if record is not None:
        assert open(params, "rb").read() == record
    return open(params, "rb").read() if os.path.exists(params) else None


@pytest.mark.slow
def test_ten_kills_at_random_points_and_inside_writes_then_the_run_ends_intact(
    sample_dir, tmp_path
):
    directory = str(tmp_path / "run")
    argv = [
        "--mode=train",
        f"--model_dir={directory}",
        f"--data_dir={sample_dir}",
        f"--params_override={json.dumps(CONFIG)}",
    ]
    rng = random.Random(18)
    runner = subprocess.Popen(
        [sys.executable, RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )

    def start(fault, log):
        runner.stdin.write(json.dumps({"argv": argv, "fault": fault, "log": log}) + "\n")
        runner.stdin.flush()
        return json.loads(runner.stdout.readline())["pid"]

    try:
        assert json.loads(runner.stdout.readline()) == {"ready": True}
        record, resume_from = None, None
        for i, fault in enumerate([*PLAN, None]):
            log = str(tmp_path / f"start{i}.log")
            before = _steps(directory) if os.path.exists(directory) else []
            pid = start(None if fault == "random" else fault, log)
            if fault == "random":
                deadline = time.time() + 600
                while time.time() < deadline and _steps(directory)[-1:] == before[-1:]:
                    time.sleep(0.02)
                    os.kill(pid, 0)  # ProcessLookupError if it ended on its own
                time.sleep(rng.uniform(0.0, 0.3))
                os.kill(pid, 9)
            status = json.loads(runner.stdout.readline())["status"]
            output = open(log).read()
            assert status == (0 if fault is None else -9), f"start {i} ({fault}):\n{output[-3000:]}"
            if resume_from is not None:  # it resumed from the newest complete checkpoint
                assert f"restored {directory}/ckpt-{resume_from} at step {resume_from}" in output
            record = _check_nothing_corrupt(directory, record)
            steps = _steps(directory)
            resume_from = steps[-1] if steps else None
            assert fault == "record_write:1" or record is not None
        assert resume_from == TOTAL and "restored" in output
    finally:
        runner.stdin.close()
        runner.wait(timeout=60)
    latest = tf.train.latest_checkpoint(directory)
    assert latest == f"{directory}/ckpt-{TOTAL}"
    state = tf.train.get_checkpoint_state(directory)
    for path in state.all_model_checkpoint_paths:
        assert checkpoints.integrity_problem(path) is None
    names = os.listdir(directory)
    assert not [n for n in names if n.startswith(".tmp-") or n.endswith("_temp")], names
    assert run_dir.LOCK_FILE not in names
    assert {"model.weights.h5", "model.keras", "params.yaml"} <= set(names)
