"""Gradient steps that must see the whole global batch, not one replica's share of it.

Keras optimizers sum the replicas' gradients inside `apply_gradients`, after anything done to
them in the replica step. Two things in the loop cannot wait until then (docs/REFERENCE.md §2.7):

- AGC clips each unit by the ratio of its gradient norm to its weight norm (NFNets, section 4.1):
  the ratio of a replica's partial gradient is not the ratio of the batch's gradient, so the
  clipping would change with the number of replicas. `clip_summed_gradients` clips the sum.
- Loss scaling skips a step whose gradients are not finite. Keras' LossScaleOptimizer decides
  per replica (or on the first replica's gradients), so an overflow on one replica only would be
  applied by the others and sum Inf into every weight. `agree_on_finiteness` makes every replica
  see a non-finite gradient when any replica has one.
"""

from __future__ import annotations

import tensorflow as tf

from official.training import agc


def clip_summed_gradients(grads, variables, clip: float, skip=lambda v: False) -> list:
    """AGC on the gradient of the global batch; returns each replica's share of the clipped sum
    (the optimizer sums the shares again, giving back the clipped sum)."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    if replicas == 1:
        return agc.adaptive_clip_gradients(grads, variables, clip, skip=skip)
    present = [i for i, g in enumerate(grads) if g is not None]
    summed = context.all_reduce(tf.distribute.ReduceOp.SUM, [grads[i] for i in present])
    clipped = agc.adaptive_clip_gradients(summed, [variables[i] for i in present], clip, skip=skip)
    out = list(grads)
    for i, g in zip(present, clipped, strict=True):
        out[i] = g / tf.cast(replicas, g.dtype)
    return out


def agree_on_finiteness(grads) -> list:
    """The gradients, with NaN added to the first one on every replica when any replica's
    gradients are not all finite (one scalar all-reduce per step)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return list(grads)
    present = [g for g in grads if g is not None]
    finite = tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(g)) for g in present]))
    failing = context.all_reduce(tf.distribute.ReduceOp.SUM, 1.0 - tf.cast(finite, tf.float32))
    out = list(grads)
    first = next(i for i, g in enumerate(out) if g is not None)
    poison = tf.where(failing > 0.0, float("nan"), 0.0)
    out[first] = out[first] + tf.cast(poison, out[first].dtype)
    return out
