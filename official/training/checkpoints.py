"""The checkpoints of a run directory: which one a restore uses, and who writes them.

Fallback (docs/run_directory.md, rule 4): every restore walks back from the newest checkpoint of
a run directory to the newest one that restores completely. A damaged one is named in a warning
and its files are renamed `<file>.corrupt`, never deleted; an intact one that holds another
model is an error at once. Its writes (the renames, the `checkpoint` state file) go through
`run_dir.modify`, like every other write into a run directory, and it leaves files alone while
another process trains there.

Several workers (MultiWorkerMirroredStrategy; docs/distributed.md, "Multi-worker"): the chief's
checkpoints in model_dir are the run's truth: every worker restores them, so a worker whose own
directory was lost (a replaced VM) resumes with the others. Workers that would resume from
different steps (model_dir not on storage every worker reads) refuse to start. Saving is
collective, so every worker saves; the others write to a directory of their own, removed again
after each save.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re

import numpy as np
import tensorflow as tf

from official.console import errors
from official.training import run_dir

log = logging.getLogger("official.train")

CORRUPT_SUFFIX = ".corrupt"


class CheckpointError(RuntimeError):
    """No checkpoint restores, or an intact checkpoint holds another model."""


class CorruptCheckpoint(CheckpointError):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


_STEP = re.compile(r"-(\d+)$")


def checkpoint_paths(directory: str) -> list[str]:
    """The prefixes (`<dir>/ckpt-<step>`) of the checkpoints in `directory` that have an
    .index file, newest (highest step) first."""
    indexes = tf.io.gfile.glob(os.path.join(directory, "*.index"))
    prefixes = [p[: -len(".index")] for p in indexes if _STEP.search(p[: -len(".index")])]
    return sorted(prefixes, key=lambda p: int(_STEP.search(p)[1]), reverse=True)


def integrity_problem(path: str) -> str | None:
    """Why the checkpoint `path` cannot be read completely (every tensor, checksums verified),
    or None when it can."""
    try:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:  # noqa: BLE001 - any failure to read is the answer
        return errors.one_line(e, 240)
    return None


def restore(checkpoint: tf.train.Checkpoint, path: str, partial: bool = False) -> None:
    """Restores `path` into `checkpoint`: every object `checkpoint` tracks must find its values
    (`partial`: the checkpoint may hold more, e.g. an optimizer the reader does not need).
    Raises CorruptCheckpoint when its files are damaged, CheckpointError when it is intact but
    does not fit (another model or config)."""
    # Created now, not during the restore: a restore that fails would leave the counter's value
    # queued for the moment it is created, i.e. during the next (fallback) restore.
    checkpoint.save_counter  # noqa: B018
    try:
        status = checkpoint.restore(path).assert_existing_objects_matched()
        if partial:
            status.expect_partial()
        return
    except Exception as e:  # noqa: BLE001 - classified below by reading the files
        error = e
    problem = integrity_problem(path)
    if problem:
        raise CorruptCheckpoint(path, problem)
    raise CheckpointError(
        f"{path} does not fit this model ({errors.one_line(error, 240)}): the config differs "
        "from the one the checkpoint was trained with."
    ) from None


def move_aside(path: str) -> bool:
    """Renames the files of checkpoint `path` to `<name>.corrupt` (never deletes them), unless
    another live process trains into the directory or the directory cannot be written. Also
    drops the checkpoint from TensorFlow's `checkpoint` state file. True when moved."""
    directory = os.path.dirname(path)
    holder = run_dir.WriterLock(directory).held_by_other_live_process()
    if holder is not None:
        log.warning("left %s in place: %s trains into %s", path, holder, directory)
        return False
    files = tf.io.gfile.glob(path + ".index") + tf.io.gfile.glob(path + ".data-?????-of-?????")
    try:
        for name in files:
            target, n = name + CORRUPT_SUFFIX, 1
            while tf.io.gfile.exists(target):
                target, n = f"{name}{CORRUPT_SUFFIX}-{n}", n + 1
            run_dir.modify(name, lambda name=name, target=target: tf.io.gfile.rename(name, target))
        _drop_from_state(directory, path)
    except (OSError, tf.errors.OpError) as e:
        log.warning("left %s in place (cannot write here: %s)", path, errors.one_line(e, 240))
        return False
    log.warning("moved the files of %s aside as *%s", path, CORRUPT_SUFFIX)
    return True


def _drop_from_state(directory: str, path: str) -> None:
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception:  # noqa: BLE001 - a garbled state file: the walk-back globs anyway
        state = None
    if state is None:
        return
    listed = list(state.all_model_checkpoint_paths)
    stamps = list(state.all_model_checkpoint_timestamps) or [None] * len(listed)
    name = os.path.basename(path)
    keep = [(p, t) for p, t in zip(listed, stamps, strict=True) if os.path.basename(p) != name]
    if len(keep) == len(listed) or not keep:
        return
    names = [os.path.basename(p) for p, _ in keep]
    timestamps = [t for _, t in keep] if keep[0][1] is not None else None
    run_dir.modify(
        os.path.join(directory, "checkpoint"),
        lambda: tf.compat.v1.train.update_checkpoint_state(
            directory,
            names[-1],
            all_model_checkpoint_paths=names,
            all_model_checkpoint_timestamps=timestamps,
            last_preserved_timestamp=state.last_preserved_timestamp,
        ),
    )


def restore_latest(
    checkpoint: tf.train.Checkpoint, directory: str, *, partial: bool = False
) -> str | None:
    """Restores the newest checkpoint of `directory` that restores completely; returns its path,
    or None when the directory has no checkpoint.

    A damaged checkpoint (truncated data, garbled index, checksum mismatch, missing data file)
    gets one warning naming it and the reason, is moved aside (`move_aside`), and the next older
    one is tried. Raises CheckpointError (one line) when none restores, and at once when an
    intact one does not fit `checkpoint`. Training, evaluation, export and fine-tuning from a
    run restore through here; a continuous evaluator can call `restore` on each new checkpoint
    and skip a CorruptCheckpoint the same way.
    """
    paths = checkpoint_paths(directory)
    bad = []
    for path in paths:
        try:
            restore(checkpoint, path, partial)
        except CorruptCheckpoint as e:
            log.warning("checkpoint %s does not restore (%s); trying an older one", path, e.reason)
            move_aside(path)
            bad.append(e)
            continue
        if bad:
            log.warning("restored %s, the newest checkpoint that restores completely", path)
        return path
    if bad:
        first = bad[0]
        raise CheckpointError(
            f"none of the {len(bad)} checkpoints in {directory} restores (newest: "
            f"{os.path.basename(first.path)}: {first.reason}); start the run again in a new "
            "--model_dir."
        )
    return None


def _reason(error: BaseException) -> str:
    """The operating system's reason in a failed write: `No space left on device`, not
    TensorFlow's `<temp file>; No space left on device` nor its op and device tags."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    line = errors.one_line(error, 240)
    return line.rsplit("; ", 1)[-1] if "; " in line else line


def save(manager: tf.train.CheckpointManager, step: int) -> str:
    """Saves checkpoint ckpt-<step> through `manager`; returns its path. A write that fails (a
    full disk, a quota, a permission) is a CheckpointError in one line: which checkpoint, where,
    the reason, and where a rerun resumes (TensorFlow's `_temp` folder of the failed save is
    removed by the next training process, docs/run_directory.md rule 3)."""
    try:
        return manager.save(checkpoint_number=step)
    except (tf.errors.OpError, OSError) as e:
        reason = _reason(e)
        full = isinstance(e, tf.errors.ResourceExhaustedError) or any(
            text in reason for text in ("No space left", "quota")
        )
        last = manager.latest_checkpoint
        resume = (
            f"the run resumes from its last checkpoint (step {_STEP.search(last)[1]})"
            if last and _STEP.search(last)
            else "no checkpoint was saved before, so the run starts again from step 0"
        )
        raise CheckpointError(
            f"saving checkpoint ckpt-{step} into {manager.directory} failed: {reason}; "
            f"{'free space' if full else 'fix that'} and rerun: {resume}."
        ) from None


# ---- Several workers ----------------------------------------------------------------------
def task(strategy: tf.distribute.Strategy) -> tuple[str | None, int]:
    """(task type, task id) of this process; (None, 0) outside a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return getattr(resolver, "task_type", None), getattr(resolver, "task_id", 0) or 0


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The chief task, or worker 0 where the cluster has no chief (TF's rule)."""
    task_type, task_id = task(strategy)
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0)


def worker_dir(strategy: tf.distribute.Strategy, model_dir: str) -> str:
    """Where this worker saves: model_dir for the chief, model_dir/tmp_<type>_<id> otherwise."""
    if is_chief(strategy):
        return model_dir
    task_type, task_id = task(strategy)
    return os.path.join(model_dir, f"tmp_{task_type}_{task_id}")


def remove_worker_dir(strategy: tf.distribute.Strategy, model_dir: str) -> None:
    """After a save: a non-chief worker deletes its own copy (only the chief's is read)."""
    directory = worker_dir(strategy, model_dir)
    if directory != model_dir and tf.io.gfile.exists(directory):
        tf.io.gfile.rmtree(directory)


def weights_digest(model) -> int:
    """A 63-bit digest of every weight's bytes: equal on two workers iff their weights are."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(weight)).tobytes())
    return int.from_bytes(digest.digest()[:8], "big") >> 1


def check_agreement(strategy: tf.distribute.Strategy, step: int, model, model_dir: str) -> None:
    """Raises on every worker when the workers would resume from different steps or weights."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    value = tf.constant([[step, weights_digest(model)]], tf.int64)

    @tf.function
    def gather():
        return strategy.gather(strategy.run(lambda: tf.identity(value)), axis=0)

    states = sorted({(int(s), int(d)) for s, d in gather().numpy()})
    if len(states) > 1:
        raise RuntimeError(
            f"the workers would resume from different steps or weights {states} (this worker: "
            f"step {step}): every worker must read the chief's checkpoints in {model_dir}; put "
            "model_dir on storage all workers share."
        )
