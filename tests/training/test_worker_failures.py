"""official/training/worker_failures.py: the line a multi-worker run prints when a worker dies
or stalls (the 2-worker run: tests/test_train_cli.py::test_a_stopped_worker_stops_the_other)."""

import pytest
import tensorflow as tf

from official.configs import overrides, recipes
from official.configs.overrides import ConfigError
from official.training import runtime, worker_failures

# What TensorFlow 2.21's coordination service reported when worker 1 was sent SIGSTOP.
UNHEALTHY = (
    "Graph execution error:\n\nCollective ops is aborted by: Error reported from "
    "/job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats):\n"
    "/job:worker/replica:0/task:1\nThe tasks have crashed. Check the task logs for an earlier "
    "error, or scheduler events (e.g. preemption, eviction) to debug further."
)


def test_a_worker_without_heartbeats_is_named_with_the_checkpoint_to_resume_from():
    error = tf.errors.UnavailableError(None, None, UNHEALTHY)
    assert worker_failures.is_worker_failure(error, 0)
    line = worker_failures.explain(error, 0, "/runs/a/ckpt-20")
    assert line == (
        "worker 1 stopped sending heartbeats (killed, stopped or unreachable); this worker "
        "stops here; restart every worker to resume from /runs/a/ckpt-20."
    )


def test_a_collective_past_the_timeout_names_the_setting():
    error = tf.errors.DeadlineExceededError(None, None, "Collective ops timed out")
    assert worker_failures.is_worker_failure(error, 120)
    assert not worker_failures.is_worker_failure(error, 0)  # no timeout asked: not ours
    line = worker_failures.explain(error, 120, None)
    assert "runtime.collective_timeout_seconds=120 s for a worker" in line
    assert line.endswith("no checkpoint was saved yet; restart every worker to start again.")


def test_other_errors_are_not_worker_failures():
    assert not worker_failures.is_worker_failure(
        tf.errors.UnavailableError(None, None, "Socket closed"), 600
    )
    assert not worker_failures.is_worker_failure(
        tf.errors.DataLossError(None, None, "truncated"), 600
    )


def test_the_timeout_is_off_by_default_and_never_negative():
    """Off by default: TensorFlow times each collective with a sleeping thread of its own, and
    a 2-worker run with 600 s reached ~15,000 threads in 150 s before a worker aborted."""
    config = recipes.get("sample")
    assert config.runtime.collective_timeout_seconds == 0
    assert runtime.communication_options(0).timeout_seconds is None
    assert runtime.communication_options(None).timeout_seconds is None
    assert runtime.communication_options(120).timeout_seconds == 120
    with pytest.raises(
        ConfigError, match=r"runtime.collective_timeout_seconds=-1.0 is out of range"
    ):
        overrides.apply_overrides(config, {"runtime.collective_timeout_seconds": -1})
