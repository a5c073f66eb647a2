"""Preemption: a SIGTERM stops the device loop at the next step; the loop then saves a checkpoint
and the run exits, within seconds whatever train.steps_per_loop is (docs/distributed.md,
"Preemption"). A SIGTERM that comes before the loop's first step (while it is traced or
compiled) leaves nothing new to save: the process exits at once.

A Python signal handler only runs once the main thread is back in Python, which a call into a
tf.function running 1,000 steps does not do for minutes. So the loop runs on a second thread
(`run_in_thread`) and the main thread, which only waits, takes the signal at once; the handler
sets a boolean variable on the host that the device loop's condition reads before every step.
On several workers the flags are summed over the replicas each step, so every worker leaves the
loop at the same step (the saves that follow are collective).
"""

from __future__ import annotations

import signal
import threading

import tensorflow as tf


class PreemptionWatcher:
    """Owns the stop flag; as a context, turns SIGTERM into `requested` and the flag."""

    def __init__(self):
        with tf.init_scope(), tf.device("/cpu:0"):  # the host: the loop's condition runs there
            self.flag = tf.Variable(False, trainable=False, name="preemption_requested")
        self.requested = False
        self._previous = None

    def __enter__(self):
        self.requested = False
        self.flag.assign(False)
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: no handler, no preemption saving
            self._previous = None
        return self

    def _handle(self, signum, frame):
        self.requested = True
        self.flag.assign(True)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def stop_requested(self, strategy: tf.distribute.Strategy) -> tf.Tensor:
        """Inside the loop function: whether any worker asked to stop."""
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return self.flag.read_value()
        votes = strategy.run(lambda: tf.cast(self.flag.read_value(), tf.int32))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None) > 0


class Preempted(SystemExit):
    """SIGTERM stopped the run; its checkpoint, if it made a new step, is saved. Exit status 143.
    official/train.py then exits with os._exit: TensorFlow's teardown (input pipeline threads,
    the loop's thread) can take longer than the ~30 s a preempted machine has left."""

    def __init__(self):
        super().__init__(143)


class LoopAbandoned(Preempted):
    """SIGTERM came before the loop's first step (while it was traced or compiled, which can take
    minutes): there is nothing new to save, and the loop's thread is left behind."""


def run_in_thread(fn, *args, give_up=lambda: False):
    """fn(*args) on a daemon thread while the main thread waits, free to run signal handlers.
    Raises LoopAbandoned, without waiting for the thread, once give_up() is true."""
    result = {}

    def target():
        try:
            result["value"] = fn(*args)
        except BaseException as e:  # re-raised on the caller's thread
            result["error"] = e

    thread = threading.Thread(target=target, name="train_loop", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(timeout=0.2)
        if thread.is_alive() and give_up():
            raise LoopAbandoned()
    if "error" in result:
        raise result["error"]
    return result["value"]
