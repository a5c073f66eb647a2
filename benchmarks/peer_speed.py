"""Ours against timm, one network per family: training images/s in float32 and bfloat16, batch-1
latency and batch-32 inference throughput, and the ratio ours / timm for each.

Ours in this process (official/training/speed.sgd_step on the registry's model; bfloat16 as
official/training/runtime.py trains it on a CPU, benchmarks/precision_per_family.py); timm in a
subprocess of `--timm_python` (an interpreter with timm and torch: benchmarks/timm_speed_worker.py,
which never imports TensorFlow), the same image size, batch, 100 classes and SGD. Within each
framework the precisions alternate in rounds; the two frameworks run one after the other on
the same machine, so a changing load moves their ratio: rerun to see the spread.

    python benchmarks/peer_speed.py --timm_python=/path/to/venv/bin/python
        [--models resnet50,efficientnet_b0] [--image_size 128] [--batch_size 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.precision_per_family import steps  # noqa: E402
from benchmarks.rounds import alternate  # noqa: E402
from official import models  # noqa: E402
from official.training import speed  # noqa: E402
from official.weights.timm_names import TIMM_NAMES  # noqa: E402

# The list: one network per family.
NETWORKS = (
    "resnet50,resnet50d,seresnet50,resnext50_32x4d,resnest50d,resnetrs50,nfnet_f0,"
    "efficientnet_b0,mnasnet_a1"
)
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timm_speed_worker.py")


def timm_name(name: str) -> str:
    """Our name's timm twin; of two, the PyTorch-trained one (timm's own architecture, not a
    port of TF's padding)."""
    names = [timm for timm, _ in TIMM_NAMES[name]]
    return name if name in names else names[0]


def ours(name: str, image_size: int, batch: int, rounds: int) -> dict:
    calls = steps(name, image_size, batch, float32_layers=True)
    train = alternate(calls, rounds)
    model = models.get(name, num_classes=100, input_shape=(image_size, image_size, 3))
    forward = tf.function(lambda x: model(x, training=False))
    rng = np.random.default_rng(0)
    one = tf.constant(rng.uniform(size=(1, image_size, image_size, 3)), tf.float32)
    many = tf.constant(rng.uniform(size=(32, image_size, image_size, 3)), tf.float32)
    infer = alternate(
        {"b1": lambda: forward(one).numpy(), "b32": lambda: forward(many).numpy()}, rounds
    )
    keras.backend.clear_session()
    return {
        "train_f32": batch / train["float32"],
        "train_bf16": batch / train["mixed_bfloat16"],
        "latency_b1_ms": infer["b1"] * 1e3,
        "infer_b32": 32 / infer["b32"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timm_python", required=True, help="an interpreter with timm + torch")
    parser.add_argument("--models", default=NETWORKS)
    parser.add_argument("--image_size", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = args.models.split(",")
    shape = f"--image_size={args.image_size} --batch_size={args.batch_size} --rounds={args.rounds}"
    if not os.access(args.timm_python, os.X_OK):
        raise SystemExit(f"error: --timm_python={args.timm_python!r} is not an executable.")
    worker = subprocess.run(
        [args.timm_python, WORKER, f"--models={','.join(map(timm_name, names))}", *shape.split()],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS_"))},
    )
    if worker.returncode != 0:
        last = (worker.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(
            f"error: the timm side ({args.timm_python} {WORKER}) failed: {last} "
            "(it needs timm and torch: pip install torch torchvision timm)"
        )
    theirs = json.loads(worker.stdout.strip().splitlines()[-1])
    print(speed.machine_description())
    print(theirs["versions"])
    print(
        f"training step, SGD, batch {args.batch_size}, {args.image_size}px, 100 classes; "
        f"median of {args.rounds} rounds; inference float32, eval mode"
    )
    print(
        "| model (timm) | train f32 ours | timm | ours/timm | train bf16 ours | timm | ours/timm "
        "| b1 latency ms ours | timm | b32 img/s ours | timm | ours/timm |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        a = ours(name, args.image_size, args.batch_size, args.rounds)
        b = theirs["models"][timm_name(name)]
        print(
            f"| {name} ({timm_name(name)}) | {a['train_f32']:.1f} | {b['train_f32']:.1f} "
            f"| {a['train_f32'] / b['train_f32']:.2f} | {a['train_bf16']:.1f} "
            f"| {b['train_bf16']:.1f} | {a['train_bf16'] / b['train_bf16']:.2f} "
            f"| {a['latency_b1_ms']:.1f} | {b['latency_b1_ms']:.1f} | {a['infer_b32']:.1f} "
            f"| {b['infer_b32']:.1f} | {a['infer_b32'] / b['infer_b32']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
