"""Continuous evaluation: a job beside training that evaluates each checkpoint the run writes.

    python official/train.py --mode=continuous_eval --model_dir=gs://$BUCKET/runs/rs50 \
        --data_dir=gs://$BUCKET/imagenet --eval_timeout=3600

The Estimator pattern of resnet_main.py's `--mode=eval`: the job waits for the run's params.yaml
and checkpoints in model_dir (local or gs://, read through tf.io.gfile), evaluates every checkpoint
it has not evaluated, oldest first, exactly once (a record in eval/continuous_eval.json survives a
restart of the job), with the weights training exports (EMA where the recipe has it), writes
top1/top5 summaries to model_dir/eval at the checkpoint's step, keeps model_dir/best/ (the
weights and a copy of the checkpoint with the best top-1 so far), and stops after the run's final
step or when no new checkpoint arrived for eval_timeout seconds. Besides eval/ and best/ it
writes nothing into model_dir, so it can run on another machine while training runs. A
checkpoint that training's retention (train.max_checkpoints) deletes while it is being read, or
whose files are damaged, is skipped with a warning (docs/run_directory.md). Each checkpoint is
first copied into best/candidate/ and read from there, so that retention deleting the original
while it is evaluated cannot take the copy best/ keeps (the cost: one copy per checkpoint).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import tempfile
import time

import tensorflow as tf

from official.configs import overrides
from official.training import checkpoints, loop

log = logging.getLogger("official.train")

RECORD_FILE = "eval/continuous_eval.json"
BEST_DIR = "best"
CANDIDATE_DIR = "best/candidate"
POLL_SECONDS = 1.0
CHECKPOINT_STEP = re.compile(r"ckpt-(\d+)$")


class NothingToEvaluate(RuntimeError):
    """No params.yaml or no checkpoint appeared in model_dir within eval_timeout."""


# ---- Reading the run ----
def _wait(condition, timeout: float | None, what: str, model_dir: str):
    """Polls `condition()` until it returns something truthy; NothingToEvaluate after timeout."""
    start = time.monotonic()
    while True:
        value = condition()
        if value:
            return value
        if timeout is not None and time.monotonic() - start >= timeout:
            raise NothingToEvaluate(
                f"no {what} appeared in {model_dir} within --eval_timeout={timeout:g} s; "
                "is training writing to this --model_dir?"
            )
        time.sleep(POLL_SECONDS)


def wait_for_run_config(model_dir: str, timeout: float | None):
    """The run's config (model_dir/params.yaml, written by training when it starts)."""
    path = f"{model_dir}/{overrides.RUN_CONFIG_FILE}"
    _wait(lambda: tf.io.gfile.exists(path), timeout, overrides.RUN_CONFIG_FILE, model_dir)
    return overrides.load_config(path)


def list_checkpoints(model_dir: str) -> list[tuple[int, str]]:
    """(step, path prefix) of the complete checkpoints model_dir's `checkpoint` file lists."""
    try:
        state = tf.train.get_checkpoint_state(model_dir)
    except (tf.errors.OpError, ValueError):  # the file is being rewritten: next poll
        return []
    if state is None:
        return []
    found = []
    for prefix in state.all_model_checkpoint_paths:
        match = CHECKPOINT_STEP.search(prefix)
        if match:
            found.append((int(match.group(1)), prefix))
    return sorted(found)


def restore_weights(trainer: loop.Trainer, prefix: str, shown: str | None = None) -> bool:
    """Restores the model (and EMA) of checkpoint `prefix` into `trainer` through
    official/training/checkpoints.py's restore (every tensor read, checksums verified): partial,
    as the optimizer is not needed, but the model and EMA must each find all their values. False,
    with a warning naming it and why, when the checkpoint vanished while being read or is
    damaged; a damaged one is left where it is (this job only reads the run: training, which
    owns the directory, moves it aside when it restores). A checkpoint of another model is an
    error (ValueError). `shown`: the name warnings give it (the original of a staged copy)."""
    shown = shown or prefix
    objects = {"model": trainer.model}
    if trainer.ema is not None:
        objects["ema"] = trainer.ema
    try:
        checkpoints.restore(tf.train.Checkpoint(**objects), prefix, partial=True)
    except checkpoints.CorruptCheckpoint as e:
        gone = not tf.io.gfile.exists(f"{prefix}.index") or not tf.io.gfile.glob(f"{prefix}.data-*")
        if gone:
            why = "it was deleted while being read (training keeps train.max_checkpoints)"
        else:
            why = f"it could not be read ({e.reason}); left in place"
        log.warning("skipped checkpoint %s: %s", shown, why)
        return False
    except checkpoints.CheckpointError as e:
        raise ValueError(f"checkpoint {shown} does not hold this run's model: {e}") from None
    return True


# ---- What the job keeps ----
def _write_atomically(path: str, text: str) -> None:
    with tf.io.gfile.GFile(f"{path}.tmp", "w") as f:
        f.write(text)
    tf.io.gfile.rename(f"{path}.tmp", path, overwrite=True)


def read_record(model_dir: str) -> dict:
    """{"evaluated": {step: metrics or {"skipped": why}}, "best": step or None}."""
    path = f"{model_dir}/{RECORD_FILE}"
    if not tf.io.gfile.exists(path):
        return {"evaluated": {}, "best": None}
    with tf.io.gfile.GFile(path) as f:
        record = json.load(f)
    record["evaluated"] = {int(k): v for k, v in record["evaluated"].items()}
    return record


def _remove_checkpoint(prefix: str) -> None:
    for path in tf.io.gfile.glob(f"{prefix}.*"):
        tf.io.gfile.remove(path)


DATA_FILE = re.compile(r"\.data-(\d+)-of-(\d+)$")


def clear_candidates(model_dir: str) -> None:
    """Empties best/candidate/: what a job stopped mid-evaluation left there."""
    directory = f"{model_dir}/{CANDIDATE_DIR}"
    if tf.io.gfile.isdir(directory):
        for name in tf.io.gfile.listdir(directory):
            tf.io.gfile.remove(f"{directory}/{name}")


def _whole(files: list[str], prefix: str) -> bool:
    """Whether `files` are a whole checkpoint: its .index and every .data-i-of-n shard."""
    data = [DATA_FILE.search(f) for f in files]
    shards = {(int(m.group(1)), int(m.group(2))) for m in data if m}
    counts = {n for _, n in shards}
    return (
        f"{prefix}.index" in files
        and len(counts) == 1
        and {i for i, _ in shards} == set(range(counts.pop()))
    )


def stage_checkpoint(prefix: str, model_dir: str) -> str | None:
    """Copies checkpoint `prefix` into best/candidate/ and returns the copy's prefix, or None
    when training's retention deleted it first (TensorFlow removes the .index first, so a
    checkpoint without one is going). A copy that fails while the original is still whole
    raises (a real storage error, not retention). Costs one copy of every checkpoint."""
    directory = f"{model_dir}/{CANDIDATE_DIR}"
    tf.io.gfile.makedirs(directory)
    staged = f"{directory}/{os.path.basename(prefix)}"
    files = tf.io.gfile.glob(f"{prefix}.*")
    if not _whole(files, prefix):
        return None
    try:
        for path in files:
            tf.io.gfile.copy(path, f"{directory}/{os.path.basename(path)}", overwrite=True)
    except tf.errors.OpError:
        _remove_checkpoint(staged)
        if _whole(tf.io.gfile.glob(f"{prefix}.*"), prefix):
            raise
        return None
    return staged


def save_best(trainer: loop.Trainer, model_dir: str, step: int, metrics: dict, staged: str):
    """model_dir/best/: model.weights.h5 (the weights training would export), the checkpoint
    (moved from its staged copy; for `python -m official.export --checkpoint=...`) and
    best.json."""
    best = f"{model_dir}/{BEST_DIR}"
    old = tf.io.gfile.glob(f"{best}/ckpt-*")
    kept = f"{best}/{os.path.basename(staged)}"
    for path in tf.io.gfile.glob(f"{staged}.*"):
        tf.io.gfile.rename(path, f"{best}/{os.path.basename(path)}", overwrite=True)
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "model.weights.h5")
        with trainer.averaged_weights():
            trainer.model.save_weights(local)
        tf.io.gfile.copy(local, f"{best}/model.weights.h5.tmp", overwrite=True)
    tf.io.gfile.rename(f"{best}/model.weights.h5.tmp", f"{best}/model.weights.h5", overwrite=True)
    _write_atomically(
        f"{best}/best.json", json.dumps({"step": step, **metrics, "checkpoint": kept}, indent=1)
    )
    for path in old:
        if not path.startswith(f"{kept}."):
            tf.io.gfile.remove(path)


# ---- The job ----
def eval_trainer(config, strategy, model_dir: str, loss_scale: bool) -> loop.Trainer:
    """A Trainer of the run's model for evaluation only: no initial weights, no teacher."""
    train = dataclasses.replace(config.train, init_weights="", teacher="")
    return loop.Trainer(
        dataclasses.replace(config, train=train), strategy, model_dir, loss_scale=loss_scale
    )


def watch(config, strategy, model_dir: str, timeout: float | None, loss_scale=False) -> dict:
    """Evaluates the run's checkpoints as they appear (see the module docstring); returns
    {"evaluated": [steps], "final": metrics at the final step or None, "best": (step, metrics)}.
    """
    trainer = eval_trainer(config, strategy, model_dir, loss_scale)
    clear_candidates(model_dir)
    final_step = trainer.total_steps
    record = read_record(model_dir)
    writer = tf.summary.create_file_writer(f"{model_dir}/eval")
    evaluated_now: list[int] = []

    def pending():
        return [(s, p) for s, p in list_checkpoints(model_dir) if s not in record["evaluated"]]

    while final_step not in record["evaluated"]:
        try:
            step, prefix = _wait(pending, timeout, "new checkpoint", model_dir)[0]
        except NothingToEvaluate:
            if not record["evaluated"]:
                raise
            last = max(record["evaluated"])
            log.warning(
                "no new checkpoint in %s for %g s (--eval_timeout); stopping at step %d of %d.",
                model_dir,
                timeout,
                last,
                final_step,
            )
            break
        staged = stage_checkpoint(prefix, model_dir)
        if staged is None:
            log.warning(
                "skipped checkpoint %s: it was deleted before it could be read (training keeps "
                "train.max_checkpoints)",
                prefix,
            )
        if staged is None or not restore_weights(trainer, staged, shown=prefix):
            record["evaluated"][step] = {"skipped": prefix}
            if staged is not None:
                _remove_checkpoint(staged)
            continue
        metrics = trainer.evaluate(loop.distributed_datasets(trainer, False))
        with writer.as_default(step=step):
            tf.summary.scalar("top1", metrics["top1"])
            tf.summary.scalar("top5", metrics["top5"])
        writer.flush()
        log.info(
            "eval at step %d: top1 %.4f  top5 %.4f  (%d images, %s)",
            step,
            metrics["top1"],
            metrics["top5"],
            metrics["examples"],
            prefix,
        )
        best = record["best"]
        if best is None or metrics["top1"] > record["evaluated"][best]["top1"]:
            save_best(trainer, model_dir, step, metrics, staged)
            record["best"] = step
        else:
            _remove_checkpoint(staged)
        record["evaluated"][step] = metrics
        evaluated_now.append(step)
        _write_atomically(f"{model_dir}/{RECORD_FILE}", json.dumps(record, indent=1))
    best = record["best"]
    return {
        "evaluated": evaluated_now,
        "final": record["evaluated"].get(final_step),
        "best": (best, record["evaluated"][best]) if best is not None else None,
    }
