"""Training images/second on one accelerator: this library against keras.applications, one process.

    python benchmarks/accelerator_speed.py models        # the three model pairs below
    python benchmarks/accelerator_speed.py fit           # keras.applications.ResNet50 + model.fit
    python benchmarks/accelerator_speed.py train_log LOG # official/train.py's img/s from its log

`models`: for each pair, the same training step (forward, cross entropy, backward, SGD with
momentum; float16 with loss scaling or bfloat16/float32; optionally XLA) on the same random
in-memory batch; the rounds of the two models alternate so that both see the same machine.
  resnet50 at 224: ours with the 2015 stride placement (keras.applications' architecture and
    FLOPs) against keras.applications.ResNet50. NVIDIA's TensorFlow ResNet-50 with AMP + XLA
    trains 2,375 img/s on one A100 (NVIDIA DeepLearningExamples); the target here on one H100
    is >= 4,000 img/s.
  resnetrs50 at 160: ours against keras.applications.ResNet50 at 160 (keras.applications has
    no ResNet-RS: the nearest model of the same depth, for scale).
  efficientnet_b0 at 224: ours against keras.applications.EfficientNetB0 (whose graph also
    rescales and normalizes the input).
`fit`: keras.applications.ResNet50 trained by model.fit under MirroredStrategy on in-memory
data: the reference for `official/train.py --strategy=mirrored` on synthetic data, which
benchmarks/accelerator.sh runs and reads with `train_log`.
Prints the device line (official.benchmark.machine_description), medians, spreads and ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from official import models  # noqa: E402
from official.training.speed import machine_description  # noqa: E402

tf.get_logger().setLevel("ERROR")  # one tf.function per model: retracing warnings are expected

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# name: (image size, our model's keyword overrides, keras.applications builder)
PAIRS = {
    "resnet50": (224, {"stride_in_1x1": True}, keras.applications.ResNet50),
    "resnetrs50": (160, {}, keras.applications.ResNet50),
    "efficientnet_b0": (224, {}, keras.applications.EfficientNetB0),
}


def training_step(model, images, labels, steps: int, xla: bool, loss_scale: bool):
    """A callable running `steps` training steps on one batch; returns when they are done."""
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(jit_compile=xla)
    def run():
        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                logits = tf.cast(model(images, training=True), tf.float32)
                loss = loss_fn(labels, logits)
                scaled = optimizer.scale_loss(loss) if loss_scale else loss
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return lambda: float(run())


def compare_models(args) -> None:
    keras.mixed_precision.set_global_policy(POLICIES[args.precision])
    rng = np.random.default_rng(0)
    print(machine_description())
    print(
        f"batch {args.batch_size}, {args.precision}, xla={args.xla}, {args.num_classes} classes, "
        f"{args.rounds} rounds x {args.steps} steps, {args.warmup} warm-up rounds excluded"
    )
    for name in args.pairs:
        size, kwargs, reference = PAIRS[name]
        size = args.image_size or size
        shape = (size, size, 3)
        candidates = {
            f"ours {name}": models.get(
                name, num_classes=args.num_classes, input_shape=shape, **kwargs
            ),
            f"keras.applications.{reference.__name__}": reference(
                weights=None,
                classes=args.num_classes,
                input_shape=shape,
                classifier_activation=None,
            ),
        }
        images = tf.constant(rng.normal(size=(args.batch_size, *shape)), tf.float32)
        labels = tf.constant(rng.integers(0, args.num_classes, (args.batch_size,)), tf.int32)
        steps = {
            label: training_step(
                model, images, labels, args.steps, args.xla, args.precision == "float16"
            )
            for label, model in candidates.items()
        }
        rates = {label: [] for label in candidates}
        for round_index in range(args.warmup + args.rounds):
            for label, step in steps.items():
                start = time.perf_counter()
                step()
                rate = args.steps * args.batch_size / (time.perf_counter() - start)
                if round_index >= args.warmup:
                    rates[label].append(rate)
        print(f"{name} at {size}x{size}:")
        for label, values in rates.items():
            print(
                f"  {label:36s} {statistics.median(values):9.1f} img/s "
                f"(min {min(values):.1f}, max {max(values):.1f})"
            )
        ours, theirs = (statistics.median(v) for v in rates.values())
        print(f"  ratio ours / keras.applications: {ours / theirs:.3f}", flush=True)


def fit_reference(args) -> None:
    """keras.applications.ResNet50 + model.fit under MirroredStrategy, in-memory data."""
    keras.mixed_precision.set_global_policy(POLICIES[args.precision])
    strategy = tf.distribute.MirroredStrategy()
    size = args.image_size or 224
    rng = np.random.default_rng(0)
    images = rng.normal(size=(args.batch_size, size, size, 3)).astype("float32")
    labels = rng.integers(0, args.num_classes, (args.batch_size,)).astype("int32")
    data = tf.data.Dataset.from_tensors((images, labels)).repeat()
    with strategy.scope():
        model = keras.applications.ResNet50(
            weights=None,
            classes=args.num_classes,
            input_shape=(size, size, 3),
            classifier_activation=None,
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=args.xla,
        )
    rates = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if epoch >= args.warmup:
                rates.append(args.steps * args.batch_size / (time.perf_counter() - self.start))

    model.fit(
        data,
        steps_per_epoch=args.steps,
        epochs=args.warmup + args.rounds,
        verbose=0,
        callbacks=[Timer()],
    )
    print(machine_description())
    print(
        f"keras.applications.ResNet50 + model.fit, MirroredStrategy on "
        f"{strategy.num_replicas_in_sync} replica(s), {size}x{size}, global batch "
        f"{args.batch_size}, {args.precision}, xla={args.xla}, {args.rounds} epochs of "
        f"{args.steps} steps after {args.warmup} warm-up epoch(s):"
    )
    print(
        f"  fit: {statistics.median(rates):9.1f} img/s (min {min(rates):.1f}, max {max(rates):.1f})"
    )


def train_log(path: str) -> float:
    """The median img/s of official/train.py's log lines, the first loop (tracing) excluded."""
    text = open(path).read()
    rates = [float(x) for x in re.findall(r"step \d+ .*?([\d.]+) img/s", text)]
    if len(rates) < 2:
        raise SystemExit(f"error: {path} has {len(rates)} loop line(s); need 2 or more.")
    replicas = re.search(r"on (\d+) replica\(s\), (\w+)", text)
    median = statistics.median(rates[1:])
    print(
        f"  official/train.py on {replicas.group(1)} replica(s), {replicas.group(2)}: "
        f"{median:9.1f} img/s (median of {len(rates) - 1} loops; min {min(rates[1:]):.1f}, "
        f"max {max(rates[1:]):.1f})"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["models", "fit", "train_log"])
    parser.add_argument("log", nargs="?", help="train_log: official/train.py's output")
    parser.add_argument("--pairs", default=",".join(PAIRS), help="models: which pairs")
    parser.add_argument("--image_size", type=int, default=0, help="0: each pair's own")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--num_classes", type=int, default=1000)
    parser.add_argument("--precision", choices=list(POLICIES), default="float16")
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    args = parser.parse_args()
    args.pairs = [p for p in args.pairs.split(",") if p]
    unknown = [p for p in args.pairs if p not in PAIRS]
    if unknown:
        parser.error(f"--pairs: {unknown[0]!r} is not one of {', '.join(PAIRS)}")
    if args.mode == "models":
        compare_models(args)
    elif args.mode == "fit":
        fit_reference(args)
    else:
        if not args.log:
            parser.error("train_log needs the log file")
        train_log(args.log)


if __name__ == "__main__":
    main()
