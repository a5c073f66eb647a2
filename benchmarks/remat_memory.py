"""Peak memory and step time of the training step with train.remat='stages' against without, for
resnet152 and resnetrs200 at 224 on this machine.

Each (model, variant) runs in a fresh subprocess: it builds the model (1000 classes), runs one
traced warm-up step and `--steps` timed steps of the train step's forward and backward pass (the
Trainer's: official/training/remat.forward, a GradientTape, SGD with momentum) on one synthetic
batch, and reports its median step time and its resident memory before the first step. The
parent reads each child's peak resident memory from the kernel (os.wait4's ru_maxrss), so a
figure is the whole process's high-water mark: TensorFlow, the weights, the optimizer slots and
the step's activations. Prints, per model, both peaks, the part the step adds over the built
model, and the remat / plain ratios.

    python benchmarks/remat_memory.py [--batch_size 4] [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODELS = ("resnet152", "resnetrs200")
VARIANTS = ("none", "stages")


def resident_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def child(name: str, mode: str, batch: int, steps: int) -> None:
    import keras
    import tensorflow as tf

    from official import models
    from official.training import remat, speed

    keras.utils.set_random_seed(0)
    model = models.get(name, input_shape=(224, 224, 3))
    images = tf.random.stateless_uniform((batch, 224, 224, 3), seed=(1, 2))
    labels = tf.range(batch) % 1000
    step = speed.sgd_step(remat.forward(model, mode), model.trainable_variables, images, labels)

    built = resident_kib()
    float(step())  # trace and warm up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        float(step())
        times.append(time.perf_counter() - start)
    print(json.dumps({"built_kib": built, "step_s": statistics.median(times)}))


def run_child(name: str, mode: str, batch: int, steps: int) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--child", name, mode]
    command += ["--batch_size", str(batch), "--steps", str(steps)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{name} remat={mode}: the child failed ({process.returncode}).")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_kib"] = usage.ru_maxrss  # KiB on Linux
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "REMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.batch_size, args.steps)
        return
    from official.training.speed import machine_description

    print(machine_description())
    print(
        f"224x224, 1000 classes, batch {args.batch_size}, float32, SGD momentum 0.9, no XLA; "
        f"median of {args.steps} steps after 1 warm-up; one fresh process per row"
    )
    for name in MODELS:
        rows = {mode: run_child(name, mode, args.batch_size, args.steps) for mode in VARIANTS}
        for mode, row in rows.items():
            added = row["peak_kib"] - row["built_kib"]
            print(
                f"{name:12s} remat={mode:6s} peak RSS {row['peak_kib'] / 2**20:6.2f} GiB "
                f"(step adds {added / 2**20:5.2f} GiB)  step {row['step_s']:6.2f} s"
            )
        plain, stages = rows["none"], rows["stages"]
        added = [(r["peak_kib"] - r["built_kib"]) for r in (plain, stages)]
        print(
            f"{name:12s} ratio remat/plain: peak RSS {stages['peak_kib'] / plain['peak_kib']:.3f}, "
            f"step's own memory {added[1] / added[0]:.3f}, step time "
            f"{stages['step_s'] / plain['step_s']:.3f}"
        )


if __name__ == "__main__":
    main()
