"""Where full-integer int8 gains over float32 in LiteRT: batch-1 latency of each stage of a network
on one CPU thread (docs/litert.md).

    python benchmarks/litert_stages.py [--model=mnasnet_a1] [--repeats 100]

The network is cut after its stem, after each stage and after its head (Keras models from the
input to that layer, sharing the weights); each cut is exported as a float32 and an int8 .tflite
file, as benchmarks/litert_latency.py exports the whole network (same BN statistics, same
calibration images), and all files are timed in turn. A stage's time is the difference between
the p50 of its cut and of the cut before, so the rows add up to the whole network; the ratio
column is that stage's float32 / int8 speed-up. Cuts are found by layer name (`stem_*`,
`stage<n>_*`, `head_*`: the naming every 2D family here follows).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

from benchmarks import litert_latency  # noqa: E402
from official.serving import litert  # noqa: E402
from official.training.speed import machine_description  # noqa: E402

QUANTIZATIONS = ("float32", "int8")


def stage_cuts(model) -> list[tuple[str, str | None]]:
    """(label, last layer name) for the stem, each stage and the head in network order, then
    ("pool + classifier", None) for the rest (None: the model's own output)."""
    last = {}
    for layer in model.layers:  # a functional model lists its layers in network order
        match = re.match(r"(stem|stage\d+|head)_", layer.name)
        if match:
            last[match.group(1)] = layer.name
    if "stem" not in last or len(last) < 2:
        raise ValueError(
            f"{model.name} has no stem_* / stage<n>_* layer names to cut at; "
            "this script profiles the families of official/models."
        )
    return [*last.items(), ("pool + classifier", None)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mnasnet_a1")
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--calibration", type=int, default=50)
    args = parser.parse_args()
    litert_latency.set_up("litert_stages.py")
    size = args.image_size

    calibration = litert_latency.calibration_pixels(size, args.calibration)
    model = litert_latency.model_for_timing(args.model, size, calibration)
    cuts = stage_cuts(model)
    calls = {}
    with tempfile.TemporaryDirectory() as out:
        for index, (label, layer) in enumerate(cuts):
            cut = (
                model if layer is None else keras.Model(model.input, model.get_layer(layer).output)
            )
            paths = litert.export_litert(
                cut, out, size, QUANTIZATIONS, calibration, name=f"cut{index}"
            )
            for quantization in QUANTIZATIONS:
                calls[(label, quantization)] = litert_latency.litert_call(
                    paths[quantization], calibration[0]
                )
        times = litert_latency.time_in_turn(calls, args.repeats, args.block)

    print(machine_description())
    print(
        f"{args.model} at {size}, batch 1, one thread; {args.repeats} timed calls a file in "
        f"blocks of {args.block}, in turn; int8 calibrated on {len(calibration)} images"
    )
    print(f"{'stage (cut after)':34} {'float32 ms':>10} {'int8 ms':>9} {'ratio':>6}")
    before = dict.fromkeys(QUANTIZATIONS, 0.0)
    for label, layer in cuts:
        p50 = {q: litert_latency.percentiles(times[(label, q)])[0] for q in QUANTIZATIONS}
        spent = {q: p50[q] - before[q] for q in QUANTIZATIONS}
        ratio = spent["float32"] / spent["int8"] if spent["int8"] > 0 else float("nan")
        name = f"{label} ({layer})" if layer else label
        print(f"{name:34} {spent['float32']:10.2f} {spent['int8']:9.2f} {ratio:6.2f}")
        before = p50
    whole = before["float32"] / before["int8"]
    print(f"{'whole network':34} {before['float32']:10.2f} {before['int8']:9.2f} {whole:6.2f}")


if __name__ == "__main__":
    main()
