"""config.runtime: the strategy, the precision policy and what XLA compiles, for one run.

Strategies by name: the same model and loop on TPU, GPUs, many workers or CPU.

Precision (runtime.precision; docs/distributed.md, "Precision"): the Keras mixed-precision
policy of a run. auto: bfloat16 on TPUs; float16 (with loss scaling) on GPUs; on CPUs bfloat16
where the CPU has native bfloat16 arithmetic (the AVX512_BF16 or AMX-BF16 flags, read from
/proc/cpuinfo: detected, never assumed), float32 otherwise, and float32 for the families that
train slower in bfloat16 on such a CPU (CPU_BFLOAT16_LOSES, measured). Under bfloat16 on a CPU
the Trainer keeps the layers whose bfloat16 kernels are slow in float32 (CPU_FLOAT32_LAYERS).

XLA (runtime.xla; docs/distributed.md, "XLA"): one replica (the default or a one-device
strategy): the whole replica step, optimizer update included, is one XLA program.
MirroredStrategy and MultiWorkerMirroredStrategy: each replica's forward and backward pass is one
XLA program and the gradient all-reduce and optimizer update run outside it: `apply_gradients`
synchronises the replicas (a `merge_call`), which a nested tf.function cannot contain.
TPUStrategy compiles the whole step with XLA anyway.
"""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

from official.configs.validation import PRECISIONS, STRATEGIES

log = logging.getLogger("official.train")


def communication_options(collective_timeout_seconds: float | None):
    """MultiWorkerMirroredStrategy's options: no collective timeout unless one is asked for
    (TensorFlow starts a thread per collective that sleeps the whole timeout)."""
    return tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=collective_timeout_seconds or None
    )


def get_strategy(
    name: str,
    tpu: str = "",
    zone: str = "",
    project: str = "",
    collective_timeout_seconds: float | None = None,
) -> tf.distribute.Strategy:
    """tpu: `tpu` is a TPU name, a grpc:// address, or 'local' on a TPU VM; a name is looked up
    in `zone` and `project` (default: this VM's own, from its metadata).
    mirrored: every local GPU (or the CPU when there is none). multi_worker: TF_CONFIG names the
    cluster; a collective waiting longer than `collective_timeout_seconds` for another worker
    fails (official/training/worker_failures.py; None or 0: it waits). one_device: the first GPU,
    else the CPU. cpu: the default strategy on the CPU."""
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
                tpu=tpu or None, zone=zone or None, project=project or None
            )
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, tf.errors.OpError, RuntimeError) as e:
            raise RuntimeError(
                f"No TPU reachable as --tpu={tpu!r} ({type(e).__name__}: "
                f"{str(e).splitlines()[0]}). Pass the TPU name, or --tpu=local on a TPU VM."
            ) from None
        return tf.distribute.TPUStrategy(resolver)
    if name == "mirrored":
        if not tf.config.list_logical_devices("GPU"):
            # No GPU: mirror over the logical CPUs (several when the host CPU was split, e.g.
            # by --num_cpu_devices, to exercise distribution without accelerators).
            # ReductionToOneDevice, not the default CPU collectives: two of those strategies in
            # one process reuse collective instance keys and abort each other's all-reduce
            # ("Shape mismatch in the collective instance 100").
            return tf.distribute.MirroredStrategy(
                [d.name for d in tf.config.list_logical_devices("CPU")],
                cross_device_ops=tf.distribute.ReductionToOneDevice(),
            )
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        options = communication_options(collective_timeout_seconds)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "cpu":
        return tf.distribute.get_strategy()
    raise ValueError(f"Unknown strategy {name!r}; use one of {', '.join(STRATEGIES)}.")


def device_kind(strategy: tf.distribute.Strategy) -> str:
    """'tpu', 'gpu' or 'cpu': what the replicas run on (for precision choices)."""
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy: whatever TensorFlow places ops on
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    return "gpu" if any("GPU" in d.upper() for d in devices) else "cpu"


# ---- Precision --------------------------------------------------------------------------------
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# x86 flags of native bfloat16 arithmetic (Linux /proc/cpuinfo names): AVX512_BF16 (Cooper Lake,
# Zen 4 and later) and AMX-BF16 (Sapphire Rapids and later), which oneDNN uses for TF's kernels.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags, or an empty set where /proc/cpuinfo cannot be read."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_native_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_CPU_FLAGS)


# Families that train slower in mixed_bfloat16 than in float32 on a CPU with native bfloat16
# even with CPU_FLOAT32_LAYERS in float32: their elementwise ops (swish, squeeze-excite scales,
# BN), which TensorFlow's CPU kernels run slower in bfloat16, outweigh the convolutions.
# bfloat16 / float32 training speed, benchmarks/precision_per_family.py (RESULTS.md), measured
# on an AVX512_BF16 CPU (AMD Zen 4); applied to AMX CPUs too, where it was not measured.
CPU_BFLOAT16_LOSES = {"efficientnet": 0.91, "mnasnet": 0.92, "shufflenet": 0.85}


def resolve_precision(
    precision: str, device_kind: str, cpuinfo: str = "/proc/cpuinfo", family: str | None = None
) -> str:
    """'float32', 'bfloat16' or 'float16' for runtime.precision on a 'tpu', 'gpu' or 'cpu', for
    a model of `family` (official.models.entry(name).family; None: any)."""
    if precision not in PRECISIONS:
        raise ValueError(f"runtime.precision={precision!r}; use {', '.join(PRECISIONS)}.")
    if precision != "auto":
        return precision
    if device_kind == "tpu":
        return "bfloat16"
    if device_kind == "gpu":
        return "float16"
    if not cpu_has_native_bfloat16(cpuinfo):
        return "float32"
    if family in CPU_BFLOAT16_LOSES:
        log.info(
            "runtime.precision auto: float32, as %s trains %.2fx as fast in bfloat16 on a CPU "
            "(benchmarks/RESULTS.md, 'Precision per family'); runtime.precision=bfloat16 "
            "forces it.",
            family,
            CPU_BFLOAT16_LOSES[family],
        )
        return "float32"
    return "bfloat16"


# ---- XLA --------------------------------------------------------------------------------------
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


# ---- CPU bfloat16 ------------------------------------------------------------------------------
# Layers whose bfloat16 kernels are slower than their float32 ones on CPUs (TF profiler op
# times: benchmarks/precision_per_family.py --profile; docs/distributed.md, "Precision").
CPU_FLOAT32_LAYERS: tuple[type, ...] = (keras.layers.DepthwiseConv2D,)


def cpu_bfloat16_layers(model) -> list[str]:
    """Makes the layers of CPU_FLOAT32_LAYERS in `model` compute in float32 (their inputs are
    cast up, their outputs down by the next layer); under mixed_bfloat16 their variables are
    float32 already, so weights and checkpoints are unchanged. Returns those layers."""
    kept = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, CPU_FLOAT32_LAYERS) and layer.compute_dtype != "float32":
            layer.dtype_policy = "float32"
            kept.append(layer)
    return kept
