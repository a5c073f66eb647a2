"""Several workers (MultiWorkerMirroredStrategy): where each one writes, what it resumes from
(docs/distributed.md, "Multi-worker").

The chief's checkpoints in model_dir are the run's truth: every worker restores them, so a
worker whose own directory was lost (a replaced VM) resumes with the others. Workers that would
resume from different steps (model_dir not on storage every worker reads) refuse to start.
Saving is collective, so every worker saves; the others write to a directory of their own,
removed again after each save.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import tensorflow as tf


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
