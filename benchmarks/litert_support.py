"""Which model families convert to LiteRT with which quantization, and how close each file's
logits are to the Keras model's (docs/litert.md holds this script's table).

    python benchmarks/litert_support.py [--size=32] [--families=mnasnet,shufflenet] \
        [--write docs/litert.md]

Each family's reference variant at a small size (one block per stage, a quarter of the width,
32 px by default, 10 classes), its BN statistics set by training-mode passes over the images (as
training would leave them, not their initial values) and its all-zero weights (NFNets'
classifier and SkipInit gains) given noise, so that every branch reaches the logits; the same
8 images (smooth noise, 0..255)
through Keras and each .tflite, the int8 file calibrated on them.
For int8 files the column gives the top-1 agreement with Keras instead of a distance.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from official import models  # noqa: E402
from official.data import preprocess  # noqa: E402
from official.serving import litert  # noqa: E402

ONE_BLOCK = dict(width_multiplier=0.25, block_repeats=(1, 1, 1, 1))
FAMILIES = {
    "resnet": ("resnetrs50", ONE_BLOCK),
    "resnet_gn": ("resnet50_gn", ONE_BLOCK),
    "resnext": ("resnext50_32x4d", ONE_BLOCK),
    "resnest": ("resnest14d", ONE_BLOCK),
    "nfnet": ("nfnet_f0", dict(ONE_BLOCK, width_multiplier=0.125)),
    "efficientnet": ("efficientnet_b0", dict(width_multiplier=0.25, block_repeats=(1,) * 7)),
    "mnasnet": ("mnasnet_a1", dict(width_multiplier=0.25, block_repeats=(1,) * 7)),
    "shufflenet": ("shufflenet_g3", dict(scale=0.25, block_repeats=(1, 1, 1))),
    "attention": ("attention56", dict(width_multiplier=0.125, modules=(1, 1, 1))),
    "video": ("resnetrs50_3d", dict(ONE_BLOCK, input_shape=(4, None, None, 3))),
}


def smooth_images(count: int, size: int, rng) -> np.ndarray:
    """Blurred noise in 0..255: images with structure at several scales."""
    import tensorflow as tf

    coarse = rng.uniform(0, 255, (count, size // 4, size // 4, 3)).astype(np.float32)
    fine = rng.normal(0, 20, (count, size, size, 3)).astype(np.float32)
    up = tf.image.resize(coarse, (size, size), "bicubic").numpy()
    return np.clip(up + fine, 0, 255)


def survey(families: list[str], size: int) -> list[str]:
    rng = np.random.default_rng(0)
    rows = [
        "| family | model | " + " | ".join(litert.QUANTIZATIONS) + " |",
        "|---|---|" + "---|" * len(litert.QUANTIZATIONS),
    ]
    images = smooth_images(8, size, rng)
    for family in families:
        name, kwargs = FAMILIES[family]
        shape = kwargs.get("input_shape", (size, size, 3))
        model = models.get(name, **{"num_classes": 10, **kwargs, "input_shape": shape})
        cells = []
        if len(model.input.shape) != 4:
            cells = ["no: 5-D input (clips); not an image classifier export"] * 4
            rows.append(f"| {family} | {name} | " + " | ".join(cells) + " |")
            continue
        for weight in model.weights:  # NFNets' zero-initialized classifier and SkipInit gains
            value = np.asarray(weight)
            if np.issubdtype(value.dtype, np.floating) and not value.any():
                weight.assign(rng.normal(0.0, 0.1, value.shape).astype(value.dtype))
        normalized = preprocess.normalize(images).numpy()
        for _ in range(30):  # BN statistics of these images, as training would leave them
            model(normalized, training=True)
        reference = np.asarray(model(normalized, training=False))
        with tempfile.TemporaryDirectory() as out:
            for quantization in litert.QUANTIZATIONS:
                try:
                    (path,) = litert.export_litert(
                        model, out, size, [quantization], images
                    ).values()
                    logits = litert.litert_logits(path, images)
                except Exception as e:  # the table reports what fails
                    cells.append(f"fails: {type(e).__name__}: {str(e).splitlines()[0][:80]}")
                    continue
                kib = os.path.getsize(path) / 1024
                if quantization == "int8":
                    agree = np.mean(logits.argmax(-1) == reference.argmax(-1))
                    cells.append(f"ok, top-1 agrees {agree:.0%} ({kib:.0f} KiB)")
                else:
                    rel = np.abs(logits - reference).max() / np.abs(reference).max()
                    cells.append(f"ok, rel {rel:.0e} ({kib:.0f} KiB)")
        rows.append(f"| {family} | {name} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    return rows


START, END = "<!-- litert-support:start -->", "<!-- litert-support:end -->"


def write_table(path: str, rows: list[str], line: str) -> None:
    """Replaces what lies between START and END in `path` with the machine line and the table."""
    with open(path) as f:
        text = f.read()
    head, rest = text.split(START)
    _, tail = rest.split(END)
    body = "\n".join([line, "", *rows])
    with open(path, "w") as f:
        f.write(f"{head}{START}\n{body}\n{END}{tail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--write", help="a Markdown file with the table's markers to update")
    args = parser.parse_args()
    rows = survey([f.strip() for f in args.families.split(",")], args.size)
    from importlib.metadata import version

    from official.training.speed import machine_description

    line = (
        f"`python benchmarks/litert_support.py --size={args.size}`; {machine_description()}, "
        f"ai-edge-litert {version('ai-edge-litert')}"
    )
    print(line)
    print("\n".join(rows))
    if args.write:
        write_table(args.write, rows, line)


if __name__ == "__main__":
    main()
