"""float32 against mixed_bfloat16 training, one network per family, and where the time goes.

For each model: two copies built in this process (float32 and mixed_bfloat16 policies), each a
traced SGD training step (official/training/speed.sgd_step) on the same batch, timed in
alternating rounds so both see the same load; prints images/s per policy and the ratio
bfloat16 / float32 (above 1: bfloat16 pays off). With --profile, the TF profiler's op times
(official/training/op_profile.py) of a few steps of each copy, by op type: the ops that grew
most in bfloat16 are the slow kernels (docs/distributed.md, "Precision", keeps the table).

    python benchmarks/precision_per_family.py [--models resnet50,efficientnet_b0] [--profile]
        [--image_size 128] [--batch_size 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.rounds import alternate  # noqa: E402
from official import models  # noqa: E402
from official.training import op_profile, speed  # noqa: E402
from official.training.runtime import cpu_bfloat16_layers  # noqa: E402

FAMILY_NETWORKS = (
    "resnet50,resnet50d,seresnet50,resnext50_32x4d,resnest50d,resnetrs50,nfnet_f0,"
    "efficientnet_b0,mnasnet_a1,shufflenet_g3,attention56"
)
POLICIES = ("float32", "mixed_bfloat16")


def steps(name: str, image_size: int, batch: int, float32_layers: bool) -> dict:
    """policy -> a training-step call of `name`, each copy with its own model. float32_layers:
    the bfloat16 copy keeps the layers official/training/runtime.py's rule names in float32, as
    runtime.precision bfloat16 trains on a CPU; without it, every layer computes in bfloat16."""
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(size=(batch, image_size, image_size, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 100, size=(batch,)))
    calls = {}
    for policy in POLICIES:
        keras.mixed_precision.set_global_policy(policy)
        model = models.get(name, num_classes=100, input_shape=(image_size, image_size, 3))
        if policy != "float32" and float32_layers:
            cpu_bfloat16_layers(model)
        calls[policy] = speed.sgd_step(model, model.trainable_variables, images, labels)
    keras.mixed_precision.set_global_policy("float32")
    return calls


def print_profile(calls: dict, profile_steps: int, top: int) -> None:
    times = {p: op_profile.profile_op_times(calls[p], profile_steps) for p in POLICIES}
    f32, bf16 = (times[p] for p in POLICIES)
    grown = sorted(set(f32) | set(bf16), key=lambda op: f32.get(op, 0) - bf16.get(op, 0))
    print(f"  op time per step (ms), TF profiler, {profile_steps} steps; most grown first:")
    for op in grown[:top]:
        a, b = f32.get(op, 0) / profile_steps * 1e3, bf16.get(op, 0) / profile_steps * 1e3
        print(f"    {op:40s} float32 {a:9.1f}  bfloat16 {b:9.1f}")
    total = [sum(t.values()) / profile_steps * 1e3 for t in (f32, bf16)]
    print(f"    {'all ops':40s} float32 {total[0]:9.1f}  bfloat16 {total[1]:9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=FAMILY_NETWORKS)
    parser.add_argument("--image_size", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--all_bfloat16", action="store_true", help="no layer kept in float32")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile_steps", type=int, default=2)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    print(speed.machine_description())
    print(
        f"training step, SGD, batch {args.batch_size}, {args.image_size}px, 100 classes; "
        f"median of {args.rounds} alternating rounds; bfloat16 "
        + ("with every layer in bfloat16" if args.all_bfloat16 else "as runtime.py trains it")
    )
    print("| model | float32 img/s | mixed_bfloat16 img/s | bfloat16 / float32 |")
    print("|---|---:|---:|---:|")
    for name in args.models.split(","):
        calls = steps(name, args.image_size, args.batch_size, not args.all_bfloat16)
        median = alternate(calls, args.rounds)
        f32, bf16 = (args.batch_size / median[p] for p in POLICIES)
        print(f"| {name} | {f32:.1f} | {bf16:.1f} | {bf16 / f32:.2f} |", flush=True)
        if args.profile:
            print_profile(calls, args.profile_steps, args.top)
        keras.backend.clear_session()


if __name__ == "__main__":
    main()
