"""Images/second of official/train.py's loop against keras.applications.ResNet50 + model.fit.

Both train ResNet-50 with the 2015 stride placement (the same architecture and FLOPs; ours has
no conv biases) on one synthetic in-memory batch (16 x 128 x 128, 100 classes) with the same
SGD (Nesterov momentum 0.9, no weight decay, no label smoothing). Ours runs twice: in float32,
and in the precision `runtime.precision: auto` picks on this machine (official/training/
precision.py: bfloat16 on a CPU with AVX512_BF16 or AMX, else float32). fit runs once; each of
its epochs is a timed round, followed by a timed round of each of ours, so the rounds alternate
and fit's per-call setup is not charged to it. The first round of each (tracing) is excluded.
Prints the median images/second, the spread and the ratio to keras.applications in float32
(float32: >= 1.0, not slower; auto on a CPU with native bfloat16: target >= 1.4).

    python benchmarks/train_speed.py [--rounds 5] [--steps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from official.configs import recipes  # noqa: E402
from official.configs.overrides import apply_overrides  # noqa: E402
from official.training import loop, runtime  # noqa: E402
from official.training.speed import machine_description  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--image_size", type=int, default=128)
    parser.add_argument("--num_classes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    size, batch = args.image_size, args.batch_size
    images = tf.constant(rng.normal(size=(batch, size, size, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, args.num_classes, (batch,)), tf.int32)
    data = tf.data.Dataset.from_tensors((images, labels)).repeat()

    def our_trainer(policy: str) -> loop.Trainer:
        config = recipes.get("sample")
        apply_overrides(
            config,
            {
                "model.name": "resnet50",
                "data.num_classes": args.num_classes,
                "data.train_batch_size": batch,
                "optimizer": {"weight_decay": 0.0, "label_smoothing": 0.0, "ema_decay": 0.0},
            },
        )
        config.model.kwargs = {"stride_in_1x1": True}
        keras.mixed_precision.set_global_policy(runtime.POLICIES[policy])
        try:
            return loop.Trainer(config, tf.distribute.get_strategy(), "/tmp/train_speed_unused")
        finally:
            keras.mixed_precision.set_global_policy("float32")

    auto = runtime.resolve_precision("auto", runtime.device_kind(tf.distribute.get_strategy()))
    ours = {
        ("official/train.py loop", "float32"): our_trainer("float32"),
        ("official/train.py loop", f"auto={auto}"): our_trainer(auto),
    }
    ours_iter = iter(data)

    theirs = keras.applications.ResNet50(
        weights=None,
        classes=args.num_classes,
        input_shape=(size, size, 3),
        classifier_activation=None,
    )
    theirs.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )

    def time_ours(trainer, steps):
        start = time.perf_counter()
        trainer.train_loop(ours_iter, steps)
        return steps * batch / (time.perf_counter() - start)

    keras_row = ("keras.applications + fit", "float32")
    rates = {keras_row: [], **{row: [] for row in ours}}

    class Alternate(keras.callbacks.Callback):
        """Times each fit epoch, then runs one timed round of each of ours: the rounds alternate
        inside ONE fit call, so fit's per-call setup is not charged to it."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            theirs_rate = args.steps * batch / (time.perf_counter() - self.start)
            ours_rates = {row: time_ours(trainer, args.steps) for row, trainer in ours.items()}
            if epoch > 0:  # epoch 0 is the warm-up of all
                rates[keras_row].append(theirs_rate)
                for row, rate in ours_rates.items():
                    rates[row].append(rate)

    for trainer in ours.values():
        time_ours(trainer, 2)  # trace our loops before fit's first epoch is timed
    theirs.fit(
        data, steps_per_epoch=args.steps, epochs=args.rounds + 1, verbose=0, callbacks=[Alternate()]
    )

    print(machine_description())
    print(
        f"resnet50 (v1 strides), batch {batch}, {size}x{size}, {args.num_classes} classes, "
        f"{args.rounds} rounds x {args.steps} steps, warm-up excluded"
    )
    reference = statistics.median(rates[keras_row])
    print(f"{'':28s} {'precision':16s} {'img/s':>8s} {'(min, max)':>18s}  vs keras float32")
    for (name, policy), values in rates.items():
        median = statistics.median(values)
        spread = f"({min(values):.2f}, {max(values):.2f})"
        print(f"{name:28s} {policy:16s} {median:8.2f} {spread:>18s}  {median / reference:.3f}")


if __name__ == "__main__":
    main()
