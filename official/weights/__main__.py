"""Convert pretrained weights into a `.weights.h5` file of a registered model.

    python -m official.weights convert --source=timm --file=resnetrs50.safetensors \
        --model=resnetrs50 --out=resnetrs50.weights.h5 [--check]
    python -m official.weights convert --source=keras --file=imagenet --model=resnet50 \
        --out=resnet50.weights.h5
    python -m official.weights convert --source=tf --file=resnet-rs-50-i160/model.ckpt \
        --model=resnetrs50 --out=resnetrs50.weights.h5
    python -m official.weights convert --source=keras_hub --file=resnet_50_imagenet/ \
        --model=resnet50 --out=resnet50.keras     # a keras-hub preset folder (keras-hub installed)
    python -m official.weights export --to=timm --model=runs/mine --out=mine_timm/
    python -m official.weights table          # the registered names and their timm names

The output records the model name and the conventions the weights need (docs/weights.md), so
`train.init_weights` and `weights=` rebuild the right network from it. --check runs the source
model (timm + torch, or keras.applications) next to the converted one and prints the max logit
difference; it is refused when that framework is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from official import models  # noqa: E402
from official.data.eval_preprocessing import EvalPreprocessing  # noqa: E402
from official.serving import keras_file  # noqa: E402
from official.weights import converted, keras_apps, loading, timm_names  # noqa: E402

SOURCES = {"timm": "timm", "keras": "keras", "tf": "tf", "keras_hub": "keras_hub"}


def _check_available(source: str) -> None:
    if source == "keras_hub":
        raise SystemExit(
            "--check: not for keras-hub presets (tests/weights/test_keras_hub.py compares with "
            "the preset's own ImageClassifier); convert without --check."
        )
    if source == "tf":
        raise SystemExit(
            "--check: no reference model for TF checkpoints (the official TF1 model code is not a "
            "dependency of this library); convert without --check."
        )
    if source == "timm":
        try:
            import timm as _timm  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            raise SystemExit(
                "--check with --source=timm needs timm and torch installed "
                "(pip install torch timm); convert without --check."
            ) from None


def _check(source: str, prepared_info: dict, read: dict, model, image_size: int) -> float:
    """Max |logit difference| between the source model and `model` on one random image; `read`:
    what the conversion read (the state dict, or the keras.applications model)."""
    rng = np.random.default_rng(0)
    if source == "timm":
        import timm as timm_lib
        import torch

        name = prepared_info.get("timm_name")
        if not name:
            raise SystemExit("--check needs the timm name: pass --timm_name.")
        reference = timm_lib.create_model(name, pretrained=False).eval()
        state = {k: torch.from_numpy(v) for k, v in read["tensors"].items()}
        reference.load_state_dict(state)
        x = rng.normal(size=(1, image_size, image_size, 3)).astype("float32")
        with torch.no_grad():
            expected = reference(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
        got = np.asarray(model(x, training=False))
        return float(np.abs(got - expected).max())
    from official.layers.input_statistics import MEAN_RGB, STDDEV_RGB

    arch = prepared_info["keras_application"]
    reference = read["model"]
    if read["corrected"]:  # compare with what keras' weights='imagenet' model computes
        keras_apps.correct_variance(reference)
    pixels = rng.uniform(0, 255, size=(1, 224, 224, 3)).astype("float32")
    if arch.startswith("ResNet"):  # caffe: BGR, mean subtracted
        their_input = pixels[..., ::-1] - np.asarray(MEAN_RGB[::-1], "float32")
    else:
        their_input = pixels
    mean = np.asarray(prepared_info.get("input_mean", MEAN_RGB), "float32")
    ours = (pixels - mean) / np.asarray(STDDEV_RGB, "float32")
    expected = np.asarray(reference(their_input, training=False))
    got = np.asarray(model(ours, training=False))
    return float(np.abs(got - expected).max())


def convert(args: argparse.Namespace) -> str:
    if args.check:
        _check_available(args.source)
    kind = "keras" if args.file == "imagenet" else loading.kind_of(args.file)
    if kind != SOURCES[args.source]:
        raise SystemExit(f"--file={args.file!r} is a {kind} source, not --source={args.source}.")
    entry = models.entry(args.model)
    arguments = {"name": args.model, **entry.defaults}
    start = time.perf_counter()
    family_of = {name: models.entry(name).family for name in models.list_models()}
    prepared = loading.prepare(
        args.file, entry.family, arguments, {}, family_of, timm_name=args.timm_name or None
    )
    model = entry.builder(**{**arguments, **prepared.arguments}, **prepared.conventions)
    info = prepared.fill(model)
    metadata = {
        "model": args.model,
        "num_classes": int(model.output_shape[-1]),
        "include_top": True,
        "conventions": prepared.conventions,
        "source": prepared.description,
        "file": os.path.basename(args.file),
        **info,
    }
    preprocessing = None
    if "pretrained_cfg" in info:  # the source's eval transform travels with the weights
        preprocessing = EvalPreprocessing.from_pretrained_cfg(info["pretrained_cfg"], args.file)
        metadata["preprocessing"] = json.loads(preprocessing.to_json())
    if args.out.endswith(".keras"):
        keras_file.save(model, args.out, preprocessing or EvalPreprocessing(args.image_size))
    else:
        converted.save(model, args.out, metadata)
    seconds = time.perf_counter() - start
    conventions = ", ".join(f"{k}={v!r}" for k, v in prepared.conventions.items()) or "none"
    line = (
        f"wrote {args.out}: {args.model} from {prepared.description} ({args.file}), "
        f"conventions: {conventions}; {len(model.weights)} variables in {seconds:.1f} s"
    )
    if preprocessing is not None:
        origin = "its image converter" if args.source == "keras_hub" else "its pretrained_cfg"
        line += f"\npreprocessing (from {origin}): {preprocessing}"
    if args.check:
        difference = _check(args.source, info, prepared.read, model, args.image_size)
        line += f"\ncheck: max |logit difference| against the source = {difference:.3g}"
    return line


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m official.weights", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("convert", help="convert a weights file")
    c.add_argument("--source", required=True, choices=sorted(SOURCES))
    c.add_argument("--file", required=True, help="the file, a TF checkpoint prefix, or imagenet")
    c.add_argument("--model", required=True, help="a registered model name")
    c.add_argument(
        "--out",
        required=True,
        help="the .weights.h5 file to write, or a .keras file (model and "
        "its eval preprocessing: a hub snapshot's pretrained_cfg, else the library's default)",
    )
    c.add_argument("--timm_name", default="", help="the timm model (default: from the file name)")
    c.add_argument("--check", action="store_true", help="compare logits with the source")
    c.add_argument("--image_size", type=int, default=224, help="image size for --check")
    e = commands.add_parser("export", help="write a model as timm's hub snapshot layout")
    e.add_argument("--to", required=True, choices=["timm"])
    e.add_argument("--model", required=True, help="a run directory, .keras or .weights.h5 file")
    e.add_argument("--out", required=True, help="the folder for model.safetensors + config.json")
    e.add_argument("--timm_name", default="", help="the timm twin (default: by conventions)")
    commands.add_parser("table", help="print the registered names and their timm names")
    args = parser.parse_args(argv)
    if args.command == "table":
        print(timm_names.markdown_table())
        return
    try:
        if args.command == "export":
            from official.training import exporting  # the run-directory rules live there

            print(exporting.write_timm(args.model, args.out, args.timm_name or None))
            return
        print(convert(args))
    except (ValueError, OSError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
