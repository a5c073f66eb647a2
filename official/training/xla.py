"""runtime.xla: which part of the train step XLA compiles on each strategy (docs/distributed.md,
"XLA").

One replica (the default or a one-device strategy): the whole replica step, optimizer update
included, is one XLA program. MirroredStrategy and MultiWorkerMirroredStrategy: each replica's
forward and backward pass is one XLA program and the gradient all-reduce and optimizer update run
outside it: `apply_gradients` synchronises the replicas (a `merge_call`), which a nested
tf.function cannot contain. TPUStrategy compiles the whole step with XLA anyway.
"""

from __future__ import annotations

import tensorflow as tf


def compile_step(strategy: tf.distribute.Strategy, replica_step, forward_backward):
    """(replica_step, forward_backward) as runtime.xla runs them on `strategy`; replica_step
    must call the forward_backward returned here (the trainer calls it through an attribute)."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return replica_step, forward_backward
    if isinstance(
        strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    ):
        return replica_step, PerReplicaJit(forward_backward)
    return tf.function(replica_step, jit_compile=True), forward_backward


class PerReplicaJit:
    """`fn` compiled with XLA, one tf.function per replica: a trace holds its replica's
    variables, and MirroredStrategy would otherwise hand replica 0's trace to replica 1, which
    cannot read variables on another device."""

    def __init__(self, fn):
        self.fn = fn
        self.compiled = {}

    def __call__(self, *args):
        replica_id = tf.distribute.get_replica_context().replica_id_in_sync_group
        replica = int(tf.get_static_value(replica_id))
        if replica not in self.compiled:
            self.compiled[replica] = tf.function(self.fn, jit_compile=True)
        return self.compiled[replica](*args)
