"""How long converting timm's resnetrs50 takes, against building the model alone.

Writes a .safetensors file with timm's exact resnetrs50 tensor names and shapes (the committed
table official/weights/timm_layouts.json.gz, random values), then times, in one process and
alternating: building `resnetrs50` (the reference), and the whole `python -m official.weights
convert` path (build with the conventions, read, strict fill, write the .weights.h5). Prints the
median wall-clock seconds of each, the process CPU seconds (all threads; on a shared machine the
wall clock also counts the other jobs' time slices), and their ratio. The issue's target:
conversion under 10 s on this CPU.

    python benchmarks/convert_speed.py [--model resnetrs50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

from official import models  # noqa: E402
from official.training.speed import machine_description  # noqa: E402
from official.weights.__main__ import main as convert_main  # noqa: E402

FIXTURE = os.path.join(ROOT, "official", "weights", "timm_layouts.json.gz")


def random_state_dict(timm_name: str) -> dict[str, np.ndarray]:
    with gzip.open(FIXTURE, "rt") as f:
        layout = json.load(f)["models"][timm_name]
    rng = np.random.default_rng(0)
    return {
        key: np.zeros(shape, np.int64)
        if key.endswith("num_batches_tracked")
        else rng.normal(0, 0.05, shape).astype(np.float32)
        for key, shape in layout
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnetrs50", help="registered name = timm name")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        source = os.path.join(scratch, f"{args.model}.safetensors")
        save_file(random_state_dict(args.model), source)
        out = os.path.join(scratch, f"{args.model}.weights.h5")
        command = ["convert", "--source=timm", f"--file={source}", f"--model={args.model}"]
        build, convert, build_cpu, convert_cpu = [], [], [], []
        models.get(args.model)  # warm-up: imports, first graph construction
        for _ in range(args.rounds):
            keras.backend.clear_session()
            start, cpu = time.perf_counter(), time.process_time()
            models.get(args.model)
            build.append(time.perf_counter() - start)
            build_cpu.append(time.process_time() - cpu)
            keras.backend.clear_session()
            start, cpu = time.perf_counter(), time.process_time()
            convert_main([*command, f"--out={out}"])
            convert.append(time.perf_counter() - start)
            convert_cpu.append(time.process_time() - cpu)
    b, c = statistics.median(build), statistics.median(convert)
    print(f"# {machine_description()}")
    spread = lambda t: f"median of {len(t)}, spread {min(t):.2f}-{max(t):.2f}"  # noqa: E731
    median = statistics.median
    print(f"build {args.model}: {b:.2f} s ({spread(build)}); CPU {median(build_cpu):.2f} s")
    print(
        f"convert {args.model} (timm .safetensors -> .weights.h5): {c:.2f} s ({spread(convert)}); "
        f"CPU {median(convert_cpu):.2f} s"
    )
    print(f"ratio convert / build: {c / b:.2f}")


if __name__ == "__main__":
    main()
