"""Training speed of our ResNet-50 against keras.applications.ResNet50, in one process.

Both models are trained on the same in-memory batch (16 x 128 x 128 x 3, 100 classes, SGD) with
`train_on_batch`; their timed rounds alternate so that machine noise hits both alike. Warm-up
(tracing, first steps) is excluded. Prints per-model images/second (median of the rounds and the
spread) and the ratio ours / keras.applications (>= 1.0 means ours is not slower).

    python benchmarks/model_speed.py [--rounds 5] [--steps 5]
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

from official import models  # noqa: E402
from official.training.speed import machine_description  # noqa: E402


def build_candidates(image_size: int, num_classes: int) -> dict[str, keras.Model]:
    shape = (image_size, image_size, 3)
    return {
        # Same architecture and FLOPs as keras.applications.ResNet50 (stride on the first 1x1).
        "ours resnet50 (v1 strides)": models.get(
            "resnet50", stride_in_1x1=True, num_classes=num_classes, input_shape=shape
        ),
        "keras.applications.ResNet50": keras.applications.ResNet50(
            weights=None, classes=num_classes, input_shape=shape, classifier_activation=None
        ),
        "ours resnet50 (ResNet-B)": models.get(
            "resnet50", num_classes=num_classes, input_shape=shape
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--image_size", type=int, default=128)
    parser.add_argument("--num_classes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = tf.constant(
        rng.uniform(0, 1, (args.batch_size, args.image_size, args.image_size, 3)), tf.float32
    )
    y = tf.constant(rng.integers(0, args.num_classes, (args.batch_size,)))
    candidates = build_candidates(args.image_size, args.num_classes)
    for model in candidates.values():
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=False,
        )
        for _ in range(args.warmup):
            model.train_on_batch(x, y)

    rates: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.rounds):
        for name, model in candidates.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                model.train_on_batch(x, y)
            rates[name].append(args.steps * args.batch_size / (time.perf_counter() - start))

    print(machine_description())
    print(
        f"batch {args.batch_size}, {args.image_size}x{args.image_size}, {args.num_classes} classes,"
        f" {args.rounds} rounds x {args.steps} steps, warm-up {args.warmup} steps excluded"
    )
    for name, values in rates.items():
        print(
            f"{name:32s} {statistics.median(values):8.2f} img/s "
            f"(min {min(values):.2f}, max {max(values):.2f})"
        )
    ours = statistics.median(rates["ours resnet50 (v1 strides)"])
    theirs = statistics.median(rates["keras.applications.ResNet50"])
    b = statistics.median(rates["ours resnet50 (ResNet-B)"])
    print(f"ratio ours(v1 strides) / keras.applications: {ours / theirs:.3f}")
    print(f"ratio ours(ResNet-B)   / keras.applications: {b / theirs:.3f}")


if __name__ == "__main__":
    main()
