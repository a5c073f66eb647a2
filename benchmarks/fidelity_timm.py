"""Fidelity of the timm conversion: logits of timm's models against ours with their tensors.

For every (registered name, timm name) pair of official/weights/timm_names.py: build timm's model
(no pretrained download), give every tensor a random value (BN weights, biases, running means and
variances, WS gains, SkipInit gains too, so no residual branch starts at zero), write its state
dict to a .safetensors file, convert it with `official.models.get(name, weights=file)`, and run
both on the same normalized input. Prints a markdown table of the max |logit difference|, the
max |logit| for scale, and the conversion time. --ablate adds the difference when the same
tensors fill our model built with its default conventions (what the conventions are for). Needs
timm and torch, which this library does not require (not in requirements*.txt):

    pip install torch timm safetensors -r requirements.txt
    python benchmarks/fidelity_timm.py [--names resnet50,dm_nfnet_f0] [--image_size 160] [--ablate]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from official import models  # noqa: E402
from official.training.speed import machine_description  # noqa: E402
from official.weights import strict, timm_names  # noqa: E402
from official.weights import timm as timm_source  # noqa: E402
from official.weights.timm_names import TIMM_NAMES  # noqa: E402

timm = torch = save_file = None  # imported by import_torch(): no requirements file has them


def import_torch() -> None:
    """timm, torch and safetensors, or one line saying how to install them."""
    global timm, torch, save_file
    try:
        import timm
        import torch
        from safetensors.torch import save_file
    except ImportError as e:
        sys.exit(
            f"error: benchmarks/fidelity_timm.py runs timm's models, and {e.name} is not "
            "installed (no requirements file has it): pip install torch timm safetensors"
        )


def randomize(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Random values in every parameter and statistic that timm initializes to a constant."""

    def uniform(t, low, high):
        t.copy_(torch.rand(t.shape, generator=generator) * (high - low) + low)

    def normal(t, std):
        t.copy_(torch.randn(t.shape, generator=generator) * std)

    # A residual branch's last norm: small gains keep deep networks' activations O(1) (a
    # residual sum of many O(1) branches grows). timm zero-initializes it in its ResNets; its
    # MBConv blocks with a skip end in bn3 (bn2 in the separable first block).
    last = {
        id(getattr(m, "bn3", getattr(m, "bn2", None)))
        for m in model.modules()
        if getattr(m, "has_skip", False)
    }
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d | torch.nn.GroupNorm):
                small = id(module) in last or float(module.weight.abs().max()) == 0.0
                uniform(module.weight, *((0.05, 0.25) if small else (0.5, 1.5)))
                normal(module.bias, 0.1)
                if getattr(module, "running_mean", None) is not None:
                    normal(module.running_mean, 0.1)
                    uniform(module.running_var, 0.5, 1.5)
        for name, tensor in model.named_parameters():
            if name.endswith("skipinit_gain"):
                uniform(tensor, 0.5, 1.0)
            elif name.endswith(".gain"):
                uniform(tensor, 0.5, 1.5)
            elif name.endswith(".bias") and float(tensor.abs().max()) == 0.0:
                normal(tensor, 0.1)
            elif float(tensor.std()) == 0.0 if tensor.numel() > 1 else False:
                normal(tensor, 0.05)  # zero-initialized classifiers and last convs


def without_conventions(ours_name: str, path: str, x: np.ndarray, image_size: int):
    """Logits of our model built with its default conventions, filled with the same tensors."""
    model = models.get(ours_name, input_shape=(image_size, image_size, 3))
    tensors = timm_source.read_state_dict(path)
    mapping = timm_names.TIMM_MAPPING[models.entry(ours_name).family]
    plan = timm_source.plan(model, mapping)
    strict.fill(model, tensors, plan, source=path, ignored=timm_source.ignored(tensors))
    return np.asarray(model(x, training=False))


def compare(ours_name: str, timm_name: str, image_size: int, scratch: str, ablate: bool) -> dict:
    generator = torch.Generator().manual_seed(0)
    source = timm.create_model(timm_name, pretrained=False).eval()
    randomize(source, generator)
    path = os.path.join(scratch, f"{timm_name}.safetensors")
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, path)
    x = torch.randn(2, 3, image_size, image_size, generator=generator)
    with torch.no_grad():
        expected = source(x).numpy()
    del source
    start = time.perf_counter()
    model = models.get(ours_name, weights=path, input_shape=(image_size, image_size, 3))
    seconds = time.perf_counter() - start
    ours_x = x.permute(0, 2, 3, 1).numpy()
    got = np.asarray(model(ours_x, training=False))
    del model
    ablated = without_conventions(ours_name, path, ours_x, image_size) if ablate else None
    os.remove(path)
    difference = float(np.abs(got - expected).max())
    scale = float(np.abs(expected).max())
    if ablated is not None:
        ablated = float(np.abs(ablated - expected).max())
    return dict(difference=difference, scale=scale, seconds=seconds, ablated=ablated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="", help="comma-separated timm names (default: all)")
    parser.add_argument("--image_size", type=int, default=160)
    parser.add_argument("--ablate", action="store_true", help="also without the conventions")
    args = parser.parse_args()
    import_torch()
    wanted = set(filter(None, args.names.split(",")))
    pairs = [
        (ours, timm_name, conventions)
        for ours, entries in TIMM_NAMES.items()
        for timm_name, conventions in entries
        if not wanted or timm_name in wanted
    ]
    print(f"# {machine_description()}; timm {timm.__version__}, torch {torch.__version__}")
    print(f"# input 2 x {args.image_size} x {args.image_size}, float32, random N(0, 1)")
    extra = " without the conventions |" if args.ablate else ""
    print(
        f"| timm | ours | conventions | max abs logit diff | max abs logit | relative | s |{extra}"
    )
    print("|---|---|---|---|---|---|---|" + ("---|" if args.ablate else ""))
    with tempfile.TemporaryDirectory() as scratch:
        for ours, timm_name, conventions in pairs:
            r = compare(ours, timm_name, args.image_size, scratch, args.ablate)
            used = ", ".join(f"{k}={v}" for k, v in conventions.items()) or "-"
            row = (
                f"| {timm_name} | {ours} | {used} | {r['difference']:.2e} | {r['scale']:.2f} "
                f"| {r['difference'] / r['scale']:.1e} | {r['seconds']:.1f} |"
            )
            if args.ablate:
                row += f" {r['ablated']:.2e} |"
            print(row, flush=True)
            gc.collect()


if __name__ == "__main__":
    main()
