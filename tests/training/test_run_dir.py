"""official/training/run_dir.py: the lock, the params record, the write door."""

import json
import logging
import os
import socket
import subprocess
import sys

import pytest

from official.configs import overrides, recipes
from official.configs.overrides import ConfigError
from official.training import run_dir


# ---- the lock ---------------------------------------------------------------------------------
def test_second_writer_is_refused_and_the_lock_names_host_and_pid(tmp_path):
    first = run_dir.WriterLock(str(tmp_path)).acquire()
    content = json.loads((tmp_path / run_dir.LOCK_FILE).read_text())
    assert content["host"] == socket.gethostname() and content["pid"] == os.getpid()
    with pytest.raises(run_dir.RunLocked, match=rf"being trained by pid {os.getpid()} on "):
        run_dir.WriterLock(str(tmp_path)).acquire()
    first.release()
    assert not (tmp_path / run_dir.LOCK_FILE).exists()
    run_dir.WriterLock(str(tmp_path)).acquire().release()


def _lock_of(pid, host=None, process_start=None):
    owner = run_dir.Owner(host or socket.gethostname(), pid, process_start, "earlier")
    return json.dumps(owner.__dict__)


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / run_dir.LOCK_FILE).write_text(_lock_of(dead.pid))
    with caplog.at_level(logging.WARNING, logger="official.train"):
        lock = run_dir.WriterLock(str(tmp_path)).acquire()
    assert f"pid {dead.pid}" in caplog.text and "is not running" in caplog.text
    assert json.loads((tmp_path / run_dir.LOCK_FILE).read_text())["pid"] == os.getpid()
    lock.release()


def test_reused_pid_is_told_apart_by_its_start_time(tmp_path):
    # This process's pid, but a start time that is not ours: the owner died, the pid was reused.
    start = run_dir.Owner.this_process().process_start
    if start is None:
        pytest.skip("no /proc on this system: pids cannot be told apart from reused ones")
    (tmp_path / run_dir.LOCK_FILE).write_text(_lock_of(os.getpid(), process_start=start - 1))
    run_dir.WriterLock(str(tmp_path)).acquire().release()


def test_live_owner_and_other_hosts_are_respected(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = run_dir.Owner(socket.gethostname(), sleeper.pid).is_running()
        assert start is True
        (tmp_path / run_dir.LOCK_FILE).write_text(_lock_of(sleeper.pid))
        with pytest.raises(run_dir.RunLocked, match=rf"pid {sleeper.pid} on "):
            run_dir.WriterLock(str(tmp_path)).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    (tmp_path / run_dir.LOCK_FILE).write_text(_lock_of(123, host="other-host"))
    with pytest.raises(run_dir.RunLocked, match=r"pid 123 on other-host.*delete .*train.lock"):
        run_dir.WriterLock(str(tmp_path)).acquire()


# ---- the record -------------------------------------------------------------------------------
def _sample():
    config = recipes.get("sample")
    config.data.data_dir = "/data/digits"
    return config


def test_record_is_written_once_and_later_commands_are_checked(tmp_path):
    run = run_dir.RunDirectory(str(tmp_path / "run"))
    config = _sample()
    with run.writing(config) as started:
        assert not (tmp_path / "run" / "params.yaml").exists()  # not before the run starts
        started.started()
    record = (tmp_path / "run" / "params.yaml").read_bytes()
    assert run.record() == config
    assert not (tmp_path / "run" / run_dir.LOCK_FILE).exists()

    changed = _sample()
    overrides.apply_overrides(changed, {"data.num_classes": 3, "optimizer.momentum": 0.5})
    message = (
        r"^this command sets data.num_classes=3 but the run in .* was trained with "
        r"data.num_classes=10 \(its params.yaml\) \(and 1 more: optimizer.momentum\); "
    )
    with pytest.raises(ConfigError, match=message):
        run.check_changes(changed)
    with pytest.raises(ConfigError):
        with run.writing(changed):
            pass
    assert (tmp_path / "run" / "params.yaml").read_bytes() == record

    extended = _sample()
    overrides.apply_overrides(
        extended,
        {"train.epochs": 24, "data.data_dir": "/elsewhere", "runtime.strategy": "mirrored"},
    )
    with run.writing(extended):  # safe to change: accepted, and the record stays as it was
        pass
    assert (tmp_path / "run" / "params.yaml").read_bytes() == record


def test_a_start_that_fails_before_the_run_starts_leaves_no_record_and_no_folder(tmp_path):
    run = run_dir.RunDirectory(str(tmp_path / "run"))
    with pytest.raises(TypeError, match="widht_multiplier"):
        with run.writing(_sample()):
            raise TypeError("resnet() got an unexpected keyword argument 'widht_multiplier'")
    assert not (tmp_path / "run").exists()
    # A folder that was there before stays, without a record.
    (tmp_path / "mine").mkdir()
    mine = run_dir.RunDirectory(str(tmp_path / "mine"))
    with pytest.raises(ValueError):
        with mine.writing(_sample()):
            raise ValueError("refused")
    assert os.listdir(tmp_path / "mine") == []


def test_checkpoints_without_a_record_are_refused_with_the_way_on(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "ckpt-40.index").write_bytes(b"")
    run = run_dir.RunDirectory(str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="holds checkpoints but no params.yaml.*put that"):
        with run.writing(_sample()):
            pass
    assert sorted(os.listdir(tmp_path / "run")) == ["ckpt-40.index"]


def test_every_safe_key_exists_in_the_config():
    flat = run_dir._flat(overrides.to_dict(_sample()))
    assert [k for k in run_dir.SAFE_TO_CHANGE if k not in flat] == []


def test_write_atomically_leaves_the_old_file_when_the_writer_fails(tmp_path):
    path = str(tmp_path / "model.weights.h5")
    run_dir.write_atomically(path, lambda tmp: open(tmp, "w").write("first"))

    def failing(tmp):
        open(tmp, "w").write("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        run_dir.write_atomically(path, failing)
    assert open(path).read() == "first" and os.listdir(tmp_path) == ["model.weights.h5"]
