"""The rules of a run directory (docs/run_directory.md): one writer at a time, the config
recorded once, read-only use by everything but training. Restoring the newest checkpoint that
restores completely is official/training/checkpoints.py.

    run = RunDirectory(model_dir)
    run.check_changes(config)                # ConfigError if config changes what the run is
    with run.writing(config) as started:     # training: the lock
        trainer = ...                        # the model built, its weights initialized
        started.started()                    # then a new run's params.yaml (once)

Train, eval and export (official/training/jobs.py, official/export.py), fine-tuning from a run
(official/training/finetune.py) and predict on a run go through here. Every change this module
makes inside a run directory goes through `modify`, so a test can forbid writing the way a
read-only mount would; files are written under a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable

import tensorflow as tf

from official.configs import overrides
from official.configs.overrides import ConfigError

log = logging.getLogger("official.train")

RECORD_FILE = overrides.RUN_CONFIG_FILE  # params.yaml
LOCK_FILE = "train.lock"
MODEL_FILE = "model.keras"  # written at the end of training, with its eval preprocessing

# Keys a later command may set differently from the run's params.yaml: they do not change what
# the checkpoints hold or how they were trained (docs/run_directory.md gives the reasons).
SAFE_TO_CHANGE = (
    *("train.epochs", "train.train_steps"),  # extend a run; the schedule follows the new length
    *("train.steps_per_loop", "train.max_checkpoints"),
    *("train.eval_every_epochs", "train.eval_every_steps"),
    *("train.divergence_factor", "train.divergence_loops"),
    "data.data_dir",  # the same data at another place
    *("data.eval_split", "data.eval_batch_size", "data.eval_image_size", "data.num_eval_images"),
    *("data.cache", "data.shuffle_buffer", "data.tfds_download"),
    # checkpoints do not depend on the hardware or on compilation
    *("runtime.strategy", "runtime.tpu", "runtime.tpu_zone", "runtime.gcp_project", "runtime.xla"),
    "runtime.collective_timeout_seconds",  # how long to wait for a worker, not what is learnt
    "export.formats",  # what the end of the run writes besides the checkpoints
)


# ---- The one door for writes ---------------------------------------------------------------
def modify(path: str, action: Callable[[], object]):
    """Runs `action`, which changes `path` inside a run directory. Every write of this module
    passes here; tests replace it with one that raises PermissionError."""
    return action()


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """`write(tmp)` writes a temporary file next to `path`, which is then renamed to `path`.
    The temporary name keeps the file's suffix (Keras checks `.keras` / `.weights.h5`)."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{name}")

    def action():
        try:
            write(tmp)
            tf.io.gfile.rename(tmp, path, overwrite=True)
        finally:
            if tf.io.gfile.exists(tmp):
                tf.io.gfile.remove(tmp)

    modify(path, action)


def _write_text(text: str) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        with tf.io.gfile.GFile(tmp, "w") as f:
            f.write(text)

    return write


# ---- One writer: the lock ------------------------------------------------------------------
def _process_start(pid: int) -> int | None:
    """When `pid` started (clock ticks after boot, /proc/<pid>/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


@dataclasses.dataclass
class Owner:
    """Who holds a lock. `process_start` tells a reused pid from the owner."""

    host: str
    pid: int
    process_start: int | None = None
    since: str = ""

    @classmethod
    def this_process(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _process_start(pid), time.strftime("%F %T %Z"))

    def is_running(self) -> bool | None:
        """Whether the owner still runs; None when it is on another host (unknowable here)."""
        if self.host != socket.gethostname():
            return None
        start = _process_start(self.pid)
        if start is not None:
            return self.process_start in (None, start)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's live process
            return True
        return True

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}" + (f" since {self.since}" if self.since else "")


class RunLocked(RuntimeError):
    """Another live process is training into the directory."""


class WriterLock:
    """`<dir>/train.lock`: JSON naming the host and pid of the one process training into the
    directory, created whole or not at all. A lock whose owner is a dead process on this host is
    stale and taken over with a warning; one from another host is respected."""

    def __init__(self, directory: str):
        self.directory = directory
        self.path = os.path.join(directory, LOCK_FILE)
        self.owner = Owner.this_process()
        self.text = json.dumps(dataclasses.asdict(self.owner))

    def _create(self) -> bool:
        tmp = f"{self.path}.tmp-{os.getpid()}"

        def action() -> bool:
            _write_text(self.text)(tmp)
            try:
                if "://" not in self.path:  # local: a hard link fails if the lock exists
                    os.link(tmp, self.path)
                else:
                    tf.io.gfile.rename(tmp, self.path, overwrite=False)
                return True
            except (FileExistsError, tf.errors.AlreadyExistsError):
                return False
            finally:
                if tf.io.gfile.exists(tmp):
                    tf.io.gfile.remove(tmp)

        return modify(self.path, action)

    def holder(self) -> tuple[Owner | None, str | None]:
        """The current holder and the lock's text; (None, None) when there is no lock."""
        try:
            with tf.io.gfile.GFile(self.path) as f:
                text = f.read()
        except tf.errors.NotFoundError:
            return None, None
        try:
            return Owner(**json.loads(text)), text
        except (ValueError, TypeError):
            return Owner(host="an unknown host", pid=-1), text

    def acquire(self) -> WriterLock:
        for _ in range(5):
            if self._create():
                return self
            holder, text = self.holder()
            if holder is None:
                continue  # released meanwhile
            running = holder.is_running()
            if running is False:
                log.warning("%s: taking over a stale lock (%s is not running)", self.path, holder)
                self._remove(text)
                continue
            hint = "" if running else f" (if that process is gone, delete {self.path})"
            raise RunLocked(
                f"{self.directory} is being trained by {holder}: one writer per run "
                f"directory; wait for it to finish or use another --model_dir{hint}."
            )
        raise RunLocked(f"{self.path}: other processes keep taking and releasing the lock.")

    def _remove(self, expected_text: str) -> None:
        """Removes the lock if it still holds `expected_text` (not a newer owner's lock)."""

        def action():
            holder, text = self.holder()
            if text == expected_text:
                tf.io.gfile.remove(self.path)

        modify(self.path, action)

    def release(self) -> None:
        self._remove(self.text)

    def held_by_other_live_process(self) -> Owner | None:
        holder, _ = self.holder()
        if holder is None or (holder.host, holder.pid) == (self.owner.host, self.owner.pid):
            return None
        return None if holder.is_running() is False else holder


# ---- The run's record: params.yaml ---------------------------------------------------------
_MISSING = object()


def _flat(mapping: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def changes(record, config) -> list[tuple[str, object, object]]:
    """(key, value in record, value in config) for every key whose value differs."""
    old, new = _flat(overrides.to_dict(record)), _flat(overrides.to_dict(config))
    keys = sorted(old.keys() | new.keys())
    return [
        (k, old.get(k, _MISSING), new.get(k, _MISSING))
        for k in keys
        if old.get(k, _MISSING) != new.get(k, _MISSING)
    ]


def _show(value) -> str:
    return "(unset)" if value is _MISSING else repr(value)


class RunDirectory:
    """A training run's directory: its record, its lock, the files training leaves."""

    def __init__(self, path: str):
        self.path = path
        self.record_path = os.path.join(path, RECORD_FILE)
        self.model_file = os.path.join(path, MODEL_FILE)

    def record(self):
        """The config the run was started with (its params.yaml), or None for a new run."""
        if not tf.io.gfile.exists(self.record_path):
            return None
        try:
            return overrides.load_config(self.record_path)
        except ValueError as e:
            if str(e).startswith(self.record_path):  # the file's own problem, named already
                raise ConfigError(str(e)) from None
            raise ConfigError(f"{self.record_path} is not a readable run config: {e}") from None

    def check_changes(self, config, record=None) -> None:
        """Raises ConfigError (one line, both values) when `config` differs from the run's
        record in a key outside SAFE_TO_CHANGE; logs the safe differences."""
        record = record if record is not None else self.record()
        if record is None:
            return
        unsafe = []
        for key, old, new in changes(record, config):
            if key in SAFE_TO_CHANGE:
                log.info(
                    "%s: %s in params.yaml, %s now (safe to change)", key, *map(_show, (old, new))
                )
            else:
                unsafe.append((key, old, new))
        if unsafe:
            key, old, new = unsafe[0]
            more = f" (and {len(unsafe) - 1} more: {', '.join(k for k, _, _ in unsafe[1:4])})"
            raise ConfigError(
                f"this command sets {key}={_show(new)} but the run in {self.path} was trained "
                f"with {key}={_show(old)} (its params.yaml){more if len(unsafe) > 1 else ''}; "
                "a run's config is fixed when it starts (only the keys docs/run_directory.md "
                "lists as safe, e.g. train.epochs, may change): drop the setting or use a new "
                "--model_dir."
            )

    def _remove_leftovers(self) -> None:
        """Temporary files of writers that died (we hold the lock): ours (`.tmp-*`) and
        TensorFlow's unfinished checkpoints (`<prefix>_temp/`); never a complete file."""
        for name in tf.io.gfile.listdir(self.path):
            path = os.path.join(self.path, name.rstrip("/"))
            if name.startswith(".tmp-") or f"{LOCK_FILE}.tmp-" in name:
                log.info("removing %s, left by a writer that stopped", path)
                modify(path, lambda path=path: tf.io.gfile.remove(path))
            elif re.fullmatch(r".*-\d+_temp/?", name) and tf.io.gfile.isdir(path):
                log.info("removing %s, an unfinished checkpoint", path)
                modify(path, lambda path=path: tf.io.gfile.rmtree(path))

    @contextlib.contextmanager
    def writing(self, config):
        """Training: takes the writer lock and checks `config` against the run's params.yaml
        once more, now under the lock; releases the lock at the end. A new run's params.yaml is
        written only by `started()`, once the trainer is built (model, weights): a start that
        fails before leaves no record to be refused by later, and a folder this command made
        is removed again."""
        existed = tf.io.gfile.exists(self.path)
        modify(self.path, lambda: tf.io.gfile.makedirs(self.path))
        lock = WriterLock(self.path).acquire()
        self._pending = None
        failed_start = False
        try:
            self._remove_leftovers()
            record = self.record()
            if record is None:
                if tf.io.gfile.glob(os.path.join(self.path, "*.index")):
                    raise ConfigError(
                        f"{self.path} holds checkpoints but no {RECORD_FILE}, the config they "
                        f"were trained with: put that {RECORD_FILE} back (a copy of the run's "
                        "config), or train into a new --model_dir."
                    )
                self._pending = config
            else:
                self.check_changes(config, record)
            yield self
        except BaseException:
            failed_start = self._pending is not None and not existed
            raise
        finally:
            if failed_start:  # the folder this command made, holding nothing of a run: removed
                # with its lock inside, while still held, so no other writer can be in it
                modify(self.path, lambda: tf.io.gfile.rmtree(self.path))
            else:
                lock.release()

    def started(self) -> None:
        """Writes a new run's params.yaml (inside `writing`, once the run has really started);
        nothing for a run that has one."""
        if self._pending is not None:
            write_atomically(self.record_path, _write_text(overrides.to_yaml(self._pending)))
            self._pending = None


def reader_config(config):
    """`config` for reading a run (eval, export): without train.init_weights and train.teacher,
    which only a training run loads (the restored checkpoint replaces those weights anyway)."""
    config = copy.deepcopy(config)
    config.train.init_weights = config.train.teacher = ""
    return config


def model_file_of(path: str) -> str:
    """A training run's directory -> the model.keras it ended with; any other path as it is
    (what official/predict.py and official.serving.predictor.Classifier are handed)."""
    run = RunDirectory(path)
    if not os.path.exists(run.record_path):
        return path
    if not os.path.exists(run.model_file):
        raise FileNotFoundError(
            f"{path} is a training run without {MODEL_FILE} (written when training ends); give "
            "--model=<its export version directory>."
        )
    return run.model_file
