"""Forward+backward time of grouped convolutions: the fused op (keras.layers.Conv2D(groups=g), what
the library used before official/layers/grouped_conv.py) against one convolution per group.

Two cases, each variant timed in alternating rounds in this process (so both see the same load),
the first call of each (tracing, compilation) excluded; prints the medians and fused / per-group:
  conv   one 3x3 conv, 32 groups, 256 -> 256 channels, 28x28, batch 16 (ResNeXt-50's stage 3),
         gradients w.r.t. the input and the kernel; on TensorFlow also under XLA (jit_compile),
         and a dense 256 -> 256 conv for scale. Runs on any Keras backend (KERAS_BACKEND).
  model  a resnext50_32x4d training step (full width, `--image_size` inputs, 10 classes: forward,
         loss, GradientTape, SGD): the registry's model against a copy whose GroupedConv2D
         layers are keras.layers.Conv2D with the same config and weights. TensorFlow only.

    python benchmarks/grouped_conv.py [--rounds 3] [--image_size 64] [--batch_size 8]
    KERAS_BACKEND=jax python benchmarks/grouped_conv.py --cases conv
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from benchmarks.rounds import alternate  # noqa: E402
from official.layers.grouped_conv import GroupedConv2D, grouped_convolution  # noqa: E402


def conv_gradient_fn(fn, x, kernel):
    """A call that computes d/dx and d/dkernel of sum(fn(x, kernel)^2), compiled the backend's way
    (tf.function, jax.jit; PyTorch eager), and waits for them."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        def grads(x, kernel):
            with tf.GradientTape() as tape:
                tape.watch([x, kernel])
                loss = tf.reduce_sum(tf.square(fn(x, kernel)))
            return tape.gradient(loss, [x, kernel])

        step, x, kernel = tf.function(grads), tf.constant(x), tf.constant(kernel)
        xla = tf.function(grads, jit_compile=True)
        return {
            "": lambda: [g.numpy() for g in step(x, kernel)],
            " XLA": lambda: [g.numpy() for g in xla(x, kernel)],
        }
    if backend == "jax":
        import jax

        step = jax.jit(jax.grad(lambda a, b: (fn(a, b) ** 2).sum(), argnums=(0, 1)))
        return {"": lambda: [g.block_until_ready() for g in step(x, kernel)]}
    import torch

    x, kernel = (torch.tensor(v, requires_grad=True) for v in (x, kernel))

    def run():
        x.grad = kernel.grad = None
        (fn(x, kernel) ** 2).sum().backward()

    return {"": run}


def machine_line(backend: str) -> str:
    """official/training/speed.py's machine line on TensorFlow; elsewhere without importing
    TensorFlow, whose thread pools slowed PyTorch's per-group convs here 20-fold (3.0 s against
    0.13 s, the same script with and without `import tensorflow`)."""
    if backend == "tensorflow":
        from official.training.speed import machine_description

        return f"{machine_description()}; keras backend tensorflow"
    import importlib
    import platform

    version = importlib.import_module(backend).__version__
    processor = platform.processor() or platform.machine()
    return (
        f"device: CPU, {os.cpu_count()} CPU cores ({processor}); keras {keras.__version__}, "
        f"keras backend {backend} {version}"
    )


def conv_case(rounds: int) -> None:
    groups, channels, size, batch = 32, 256, 28, 16
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, size, size, channels)).astype("float32")
    kernel = (rng.normal(size=(3, 3, channels // groups, channels)) * 0.05).astype("float32")
    dense = (rng.normal(size=(3, 3, channels, channels)) * 0.05).astype("float32")

    def conv(per_group):
        return lambda a, b: grouped_convolution(
            a, b, groups=groups, padding="same", per_group=per_group
        )

    variants = {}
    for name, fn, k in (
        ("fused", conv(False), kernel),
        ("per-group", conv(True), kernel),
        ("dense", lambda a, b: ops.conv(a, b, padding="same"), dense),
    ):
        for mode, call in conv_gradient_fn(fn, x, k).items():
            variants[f"{name}{mode}"] = call
    print(
        f"conv: 3x3, {groups} groups, {channels} -> {channels} channels, {size}x{size}, "
        f"batch {batch}, forward+backward; median of {rounds} alternating rounds"
    )
    median = alternate(variants, rounds)
    for name, seconds in median.items():
        print(f"  {name:15s} {seconds * 1e3:9.1f} ms")
    for mode in sorted({name.removeprefix("fused") for name in median if "fused" in name}):
        ratio = median[f"fused{mode}"] / median[f"per-group{mode}"]
        print(f"  ratio fused/per-group{mode}: {ratio:.1f}")


def model_case(rounds: int, image_size: int, batch: int) -> None:
    import tensorflow as tf

    from official import models
    from official.training import speed

    keras.utils.set_random_seed(0)
    ours = models.get("resnext50_32x4d", num_classes=10, input_shape=(image_size, image_size, 3))

    def as_fused(layer):
        cls = keras.layers.Conv2D if type(layer) is GroupedConv2D else layer.__class__
        return cls.from_config(layer.get_config())

    fused = keras.models.clone_model(ours, clone_function=as_fused)
    fused.set_weights(ours.get_weights())
    grouped = sum(type(layer) is GroupedConv2D for layer in ours.layers)
    images = tf.random.stateless_uniform((batch, image_size, image_size, 3), seed=(1, 2))
    labels = tf.range(batch) % 10

    def train_step(model):
        return speed.sgd_step(model, model.trainable_variables, images, labels)

    print(
        f"model: resnext50_32x4d train step ({grouped} grouped convs), {image_size}x{image_size}, "
        f"batch {batch}, 10 classes, SGD momentum 0.9, float32, tf.function without XLA; "
        f"median of {rounds} alternating rounds"
    )
    median = alternate({"fused": train_step(fused), "per-group": train_step(ours)}, rounds)
    for name, seconds in median.items():
        print(f"  {name:15s} {seconds * 1e3:9.1f} ms")
    print(f"  ratio fused/per-group: {median['fused'] / median['per-group']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=("conv", "model"), default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args()
    backend = keras.backend.backend()
    cases = args.cases or (["conv", "model"] if backend == "tensorflow" else ["conv"])
    print(machine_line(backend))
    if "conv" in cases:
        conv_case(args.rounds)
    if "model" in cases:
        model_case(args.rounds, args.image_size, args.batch_size)


if __name__ == "__main__":
    main()
