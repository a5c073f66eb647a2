"""Timing a registered model as the ResNet-RS paper measures it (official/benchmark.py is the
program): training throughput of a real training step (forward, loss, backward, SGD update),
inference throughput and latency (p50/p99 per batch), parameters, multiply-adds (counted from
the built graph, official/models/counting.py) and peak memory (device memory on GPU/TPU, the
process's peak RSS on CPU). Warm-up calls (tracing, compilation) are excluded; the median of
`repeats` timed runs is reported with its spread. A batch that does not fit is halved until it
does, and the batch used is reported (the paper's method).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from official import models
from official.models.counting import count_macs
from official.training import runtime
from official.training.runtime import POLICIES


@dataclasses.dataclass
class Result:
    model: str
    family: str
    image_size: int
    batch_size: int
    precision: str
    xla: bool
    parameters: int
    macs: int
    train_images_per_second: float
    train_spread: float
    infer_images_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    peak_memory_mb: float


def machine_description() -> str:
    """The line every benchmark prints with its figures: the accelerator (or CPU), the host's
    cores and processor, and the versions."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        device = f"{len(gpus)} x {name}"
    else:
        device = "CPU"
    processor = platform.processor() or platform.machine()
    return (
        f"device: {device}, {os.cpu_count()} CPU cores ({processor}); "
        f"tensorflow {tf.__version__}, keras {keras.__version__}"
    )


def time_calls(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Seconds per call for `repeats` calls of fn after `warmup` untimed ones (tracing,
    compilation, caches). fn must block until its work is done."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def sgd_step(forward: Callable, variables: list, images, labels) -> Callable[[], float]:
    """One traced SGD step (lr 0.01, momentum 0.9, cross-entropy on logits) of `forward`
    (a model, or a function of (images, training)) over `variables`; returns its loss."""
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    optimizer.build(variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = forward(images, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            )
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    return lambda: float(step())


def with_batch_halving(run: Callable[[int], object], batch_size: int):
    """run(batch) -> (result, batch used); on out-of-memory, halve the batch and try again."""
    while True:
        try:
            return run(batch_size), batch_size
        except (tf.errors.ResourceExhaustedError, MemoryError):
            if batch_size == 1:
                raise
            batch_size //= 2
            keras.backend.clear_session()


def peak_memory_mb() -> float:
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.config.experimental.get_memory_info(gpus[0].name)["peak"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _benchmark_at(name, image_size, batch_size, steps, warmup, repeats, xla, num_classes):
    model = models.get(name, num_classes=num_classes, input_shape=(image_size, image_size, 3))
    strategy = tf.distribute.get_strategy()
    if model.compute_dtype == "bfloat16" and runtime.device_kind(strategy) == "cpu":
        runtime.cpu_bfloat16_layers(model)  # as the Trainer does: what training would time
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(batch_size, image_size, image_size, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, num_classes, (batch_size,)), tf.int32)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer.build(model.trainable_variables)

    @tf.function(jit_compile=xla)
    def train_steps():
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(images, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function(jit_compile=xla)
    def infer():
        return model(images, training=False)

    train = time_calls(lambda: train_steps().numpy(), warmup, repeats)
    latency = time_calls(lambda: infer().numpy(), warmup, repeats * 3)
    train_rates = [steps * batch_size / t for t in train]
    return model, train_rates, latency


def benchmark_model(
    name: str,
    image_size: int = 224,
    batch_size: int = 32,
    *,
    precision: str = "float32",
    xla: bool = False,
    steps: int = 3,
    warmup: int = 2,
    repeats: int = 5,
    num_classes: int = 1000,
) -> Result:
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    try:
        (model, rates, latency), used = with_batch_halving(
            lambda b: _benchmark_at(name, image_size, b, steps, warmup, repeats, xla, num_classes),
            batch_size,
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    p50 = float(np.percentile(latency, 50))
    return Result(
        model=name,
        family=models.entry(name).family,
        image_size=image_size,
        batch_size=used,
        precision=precision,
        xla=xla,
        parameters=models.count_parameters(model),
        macs=count_macs(model),
        train_images_per_second=statistics.median(rates),
        train_spread=max(rates) - min(rates),
        infer_images_per_second=used / p50,
        latency_p50_ms=p50 * 1000,
        latency_p99_ms=float(np.percentile(latency, 99)) * 1000,
        peak_memory_mb=peak_memory_mb(),
    )


def table(results: list[Result]) -> str:
    rows = [
        "| model | size | batch | params (M) | GMACs | train img/s | infer img/s | "
        "p50 ms | p99 ms | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows.append(
            f"| {r.model} | {r.image_size} | {r.batch_size} | {r.parameters / 1e6:.2f} | "
            f"{r.macs / 1e9:.3f} | {r.train_images_per_second:.1f} ± {r.train_spread / 2:.1f} | "
            f"{r.infer_images_per_second:.1f} | {r.latency_p50_ms:.1f} | {r.latency_p99_ms:.1f} | "
            f"{r.peak_memory_mb:.0f} |"
        )
    return "\n".join(rows)


def plot(results: list[Result], path: str):
    """Training speed against parameters and against multiply-adds, one curve per family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    families = sorted({r.family for r in results})
    for family in families:
        rows = sorted((r for r in results if r.family == family), key=lambda r: r.macs)
        speed = [r.train_images_per_second for r in rows]
        axes[0].plot([r.parameters / 1e6 for r in rows], speed, "o-", label=family)
        axes[1].plot([r.macs / 1e9 for r in rows], speed, "o-", label=family)
    axes[0].set_xlabel("parameters (M)")
    axes[1].set_xlabel("multiply-adds (G)")
    for ax in axes:
        ax.set_ylabel("training images / second")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return fig
