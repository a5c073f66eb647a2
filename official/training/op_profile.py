"""Where a TensorFlow step spends its time, by op type, read from the TF profiler's own trace.

`profile_op_times(fn, steps)` runs `fn` `steps` times under tf.profiler and sums the duration of
every TensorFlow op the executors ran, by op type ("Conv2D", "DepthwiseConv2dNativeBackpropFilter",
"Cast", ...). The trace is the profiler's XSpace protobuf (`*.xplane.pb`); each op of a graph is
one event named `<node name>:<op type>` on a thread line of the host plane. Ops of one step can
run in parallel on the inter-op threads, so the sums add up to more than the wall time: read
them as the work each op type did. benchmarks/precision_per_family.py compares them between
float32 and mixed_bfloat16.
"""

from __future__ import annotations

import collections
import glob
import os
import re
import tempfile
from collections.abc import Callable

import tensorflow as tf

# An op event's name: "<node name>:<op type>", the type in CamelCase, with a leading "_" for
# the ops grappler and oneDNN put in (_FusedConv2D, _MklNativeConv2D, ...).
_OP_EVENT = re.compile(r"^[^:\s]+:(_*[A-Z][A-Za-z0-9]*)$")


def op_times_from_trace(xplane_path: str) -> dict[str, float]:
    """Seconds per op type over every op event of the host plane in one `.xplane.pb` file."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xplane_path, "rb") as f:
        space.ParseFromString(f.read())
    totals: dict[str, float] = collections.defaultdict(float)
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        for line in plane.lines:
            for event in line.events:
                match = _OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
                if match:
                    totals[match.group(1)] += event.duration_ps * 1e-12
    return dict(totals)


def profile_op_times(fn: Callable[[], object], steps: int) -> dict[str, float]:
    """Seconds per op type (summed over `steps` calls of `fn`, which should be warm: traced and
    run once already, so that the trace holds the steady state)."""
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            for _ in range(steps):
                fn()
        finally:
            tf.profiler.experimental.stop()
        traces = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        if not traces:
            raise RuntimeError(f"tf.profiler wrote no .xplane.pb trace under {logdir}.")
        totals: dict[str, float] = collections.defaultdict(float)
        for trace in traces:
            for op, seconds in op_times_from_trace(trace).items():
                totals[op] += seconds
        return dict(totals)
