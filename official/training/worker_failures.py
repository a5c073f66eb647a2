"""What a multi-worker run says when one of its workers dies or stalls (docs/distributed.md,
"Several workers").

Two watchdogs stop the other workers, so that none waits forever in a collective:
- TensorFlow's coordination service: a worker that stops sending heartbeats (killed, its VM
  gone, or `kill -STOP`) is reported to every other worker, which aborts its collectives with
  UnavailableError "The following tasks are unhealthy (stopped sending heartbeats)" naming it,
  within the service's heartbeat timeout (seconds).
- runtime.collective_timeout_seconds (MultiWorkerMirroredStrategy's CommunicationOptions), when
  set (> 0; off by default, see official/configs/config.py): a collective that waits longer
  than that, as behind a worker alive but stuck (its input pipeline hung, say), fails with
  DeadlineExceededError.
`explain` turns either into the one line train.py prints.
"""

from __future__ import annotations

import re

import tensorflow as tf

# "/job:worker/replica:0/task:1" in TensorFlow's messages: the worker it is about.
_TASK = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")
_UNHEALTHY = "unhealthy"


def is_worker_failure(error: BaseException, timeout_seconds: float) -> bool:
    """Whether `error`, raised in a multi-worker run whose collectives time out after
    `timeout_seconds` (0: never), is a collective aborted by a lost or stalled worker."""
    if isinstance(error, tf.errors.DeadlineExceededError):
        return timeout_seconds > 0
    return isinstance(error, tf.errors.UnavailableError) and _UNHEALTHY in str(error)


def explain(error: BaseException, timeout_seconds: float, last_checkpoint: str | None) -> str:
    """One line: which worker went silent and how, and how to go on."""
    message = str(error)
    tasks = sorted({f"{job} {index}" for job, index in _TASK.findall(message)})
    who = ", ".join(tasks) if tasks else "a worker"
    if isinstance(error, tf.errors.DeadlineExceededError):
        what = (
            f"a collective waited more than runtime.collective_timeout_seconds="
            f"{timeout_seconds:g} s for {who}: it is stalled or too slow"
        )
    else:
        what = f"{who} stopped sending heartbeats (killed, stopped or unreachable)"
    resume = (
        f"restart every worker to resume from {last_checkpoint}"
        if last_checkpoint
        else "no checkpoint was saved yet; restart every worker to start again"
    )
    return f"{what}; this worker stops here; {resume}."
