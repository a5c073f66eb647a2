"""tf.distribute strategies by name: the same model and loop on TPU, GPUs, many workers or CPU."""

from __future__ import annotations

import tensorflow as tf

STRATEGIES = ("tpu", "mirrored", "multi_worker", "one_device", "cpu")


def get_strategy(
    name: str, tpu: str = "", zone: str = "", project: str = ""
) -> tf.distribute.Strategy:
    """tpu: `tpu` is a TPU name, a grpc:// address, or 'local' on a TPU VM; a name is looked up
    in `zone` and `project` (default: this VM's own, from its metadata).
    mirrored: every local GPU (or the CPU when there is none). multi_worker: TF_CONFIG names the
    cluster. one_device: the first GPU, else the CPU. cpu: the default strategy on the CPU."""
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
            return tf.distribute.MirroredStrategy(
                [d.name for d in tf.config.list_logical_devices("CPU")],
                cross_device_ops=tf.distribute.ReductionToOneDevice(),
            )
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
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
