"""Measure what the ResNet-RS paper measures, for any registered models, on this hardware.

    python -m official.benchmark --models=resnet50,resnetrs50,efficientnet_b0 --image_size=224 \
        --batch_size=32 --precision=float32 --csv=bench.csv --json=bench.json --plot=bench.png

Per model: parameters, multiply-adds, training throughput, inference throughput and latency
(p50/p99 per batch) and peak memory; how each is measured is official/training/speed.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402


def define_flags() -> None:
    """Defined only when run as a program (train.py defines --image_size too)."""
    from official.console import quiet_start

    quiet_start.import_tensorflow()
    from official.training.runtime import POLICIES

    flags.DEFINE_list("models", ["resnet50"], "Registered model names.")
    flags.DEFINE_integer("image_size", 224, "Square input resolution.")
    flags.DEFINE_integer("batch_size", 32, "Batch size to try first (halved on OOM).")
    flags.DEFINE_enum("precision", "float32", list(POLICIES), "Compute precision.")
    flags.DEFINE_bool("xla", False, "Compile the steps with XLA.")
    flags.DEFINE_integer("steps", 3, "Training steps per timed run.")
    flags.DEFINE_integer("warmup", 2, "Untimed runs first.")
    flags.DEFINE_integer("repeats", 5, "Timed runs (median reported).")
    flags.DEFINE_string("csv", None, "Write the results as CSV.")
    flags.DEFINE_string("json", None, "Write the results as JSON.")
    flags.DEFINE_string("plot", None, "Write a PNG of speed vs parameters and vs FLOPs.")


def run(args: dict) -> int:
    """Benchmarks args['models'] one after the other, printing each row as it finishes, then the
    machine line and the table; writes the CSV / JSON / plot asked for."""
    from official import models
    from official.training import speed

    for name in args["models"]:
        try:
            models.entry(name)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    results = []
    for name in args["models"]:
        result = speed.benchmark_model(
            name,
            args["image_size"],
            args["batch_size"],
            precision=args["precision"],
            xla=args["xla"],
            steps=args["steps"],
            warmup=args["warmup"],
            repeats=args["repeats"],
        )
        results.append(result)
        print(speed.table([result]).splitlines()[-1], flush=True)
    print(f"\n{speed.machine_description()}, {args['precision']}, xla={args['xla']}\n")
    print(speed.table(results))
    if args["csv"]:
        import csv

        with open(args["csv"], "w", newline="") as f:
            fields = [x.name for x in dataclasses.fields(speed.Result)]
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(dataclasses.asdict(r) for r in results)
    if args["json"]:
        with open(args["json"], "w") as f:
            json.dump([dataclasses.asdict(r) for r in results], f, indent=1)
    if args["plot"]:
        speed.plot(results, args["plot"])
    return 0


def main(argv):
    del argv
    sys.exit(run(flags.FLAGS.flag_values_dict()))


if __name__ == "__main__":
    define_flags()
    from official.console import program

    program.run(main)
