"""Source: timm (PyTorch) state dicts, from `.safetensors` (read with the safetensors package's
NumPy API, no torch needed) or `.pth` / `.bin` / `.pt` (needs torch).

One mapping per family turns our layer names into timm module names; the variable layouts
follow from our layer types (official/weights/layouts.py). `num_batches_tracked` counters carry
no weights and are the only tensors left unused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import keras
import numpy as np

from official.weights import layouts
from official.weights.strict import Entry, owned_variables

TORCH_SUFFIXES = (".pth", ".bin", ".pt")
COUNTER = ".num_batches_tracked"


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    """A PyTorch state dict as NumPy arrays (float32), from .safetensors or .pth/.bin/.pt."""
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            tensors = load_file(path)
        except (SafetensorError, TypeError) as error:
            hint = (
                "; convert bfloat16 tensors to float32 first"
                if "bf16" in str(error).lower()
                else ""
            )
            raise ValueError(f"{path}: not readable as safetensors ({error}){hint}.") from None
    elif path.endswith(TORCH_SUFFIXES):
        try:
            import torch
        except ImportError:
            raise ImportError(
                f"{path}: reading a PyTorch pickle needs torch (pip install torch), which this "
                "library does not require; or save the state dict as .safetensors."
            ) from None
        state = torch.load(path, map_location="cpu", weights_only=True)
        for key in ("state_dict", "model"):  # training checkpoints nest the weights
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
        tensors = {k.removeprefix("module."): v.float().numpy() for k, v in state.items()}
    else:
        raise ValueError(f"{path}: a timm state dict is .safetensors, .pth, .bin or .pt.")
    return {k: np.asarray(v, np.float32) if v.dtype != np.int64 else v for k, v in tensors.items()}


# ---- Variables: our layer type and variable name -> torch parameter suffix and layout.
def _torch_parameter(layer: keras.layers.Layer, variable: str) -> tuple[str, Callable]:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return {"kernel": (".weight", layouts.torch_depthwise)}[variable]
    if isinstance(layer, keras.layers.Conv2D):
        return {
            "kernel": (".weight", layouts.torch_conv),
            "bias": (".bias", layouts.identity),
            "gain": (".gain", layouts.flatten),
        }[variable]
    if isinstance(layer, keras.layers.Dense):
        return {"kernel": (".weight", layouts.torch_dense), "bias": (".bias", layouts.identity)}[
            variable
        ]
    if isinstance(layer, keras.layers.BatchNormalization | keras.layers.GroupNormalization):
        return {
            "gamma": ".weight",
            "beta": ".bias",
            "moving_mean": ".running_mean",
            "moving_variance": ".running_var",
        }[variable], layouts.identity
    if variable == "gain":  # SkipInitGain: a bare parameter, named by its module path
        return "", layouts.identity
    raise KeyError(variable)


def torch_plan(model: keras.Model, module_of: Callable[[str], str | None]) -> dict[str, Entry]:
    """{variable path: Entry} for a PyTorch state dict whose module names `module_of` gives
    for each of our layer paths (None: no counterpart; the strict fill then names it)."""
    plan = {}
    for layer, variable, weight in owned_variables(model):
        module = module_of(layer.path)
        if module is None:
            continue
        try:
            suffix, transform = _torch_parameter(layer, variable)
        except KeyError:
            continue
        plan[weight.path] = Entry((module + suffix,), transform)
    return plan


# ---- One mapping per family: our layer path -> timm module name.
_BLOCK = re.compile(r"stage(\d+)_block(\d+)_(.+)")

_RESNET_STEM = {
    "basic": {"stem_conv1": "conv1", "stem_bn1": "bn1", "stem_conv2": "maxpool.0"},
    "deep": {
        "stem_conv1": "conv1.0",
        "stem_bn1": "conv1.1",
        "stem_conv2": "conv1.3",
        "stem_bn2": "conv1.4",
        "stem_conv3": "conv1.6",
        "stem_bn3": "bn1",
        "stem_conv4": "maxpool.0",
        "stem_bn4": "maxpool.1",
    },
}
_RESNET_STEM["basic"]["stem_bn2"] = "maxpool.1"
_RESNET_BLOCK = {
    "conv1": "conv1",
    "bn1": "bn1",
    "conv2": "conv2",
    "bn2": "bn2",
    "conv3": "conv3",
    "bn3": "bn3",
    "se/reduce": "se.fc1",
    "se/expand": "se.fc2",
    # ResNeSt's split-attention conv (timm SplitAttn)
    "splat_conv": "conv2.conv",
    "splat_bn0": "conv2.bn0",
    "splat_fc1": "conv2.fc1",
    "splat_bn1": "conv2.bn1",
    "splat_fc2": "conv2.fc2",
}


def resnet_modules(model: keras.Model) -> Callable[[str], str | None]:
    """timm's ResNet trunk (resnet.py, resnest.py): conv1/bn1 (or the deep stem's conv1.0..6),
    maxpool.0/1 for ResNet-RS's stem conv, layer{1..4}.{i}, downsample.{0,1} (.{1,2} in ResNet-D
    networks, whose downsample starts with a pool or an identity), fc."""
    names = {layer.name for layer in model.layers}
    stem = _RESNET_STEM["deep" if "stem_conv3" in names else "basic"]
    # timm's ResNet-D downsample is Sequential(pool or Identity, conv, norm) in every block.
    avg_down = any(name.endswith("_shortcut_pool") for name in names)

    def module(path: str) -> str | None:
        if path == "classifier":
            return "fc"
        if path in stem:
            return stem[path]
        match = _BLOCK.fullmatch(path)
        if not match:
            return None
        stage, block, part = int(match[1]), int(match[2]), match[3]
        prefix = f"layer{stage - 1}.{block - 1}"
        if part in ("shortcut_conv", "shortcut_bn"):
            return f"{prefix}.downsample.{int(avg_down) + (part == 'shortcut_bn')}"
        return f"{prefix}.{_RESNET_BLOCK[part]}" if part in _RESNET_BLOCK else None

    return module


def mbconv_modules(model: keras.Model) -> Callable[[str], str | None]:
    """timm's EfficientNet / MnasNet: conv_stem, bn1, blocks.{stage}.{block} (a DepthwiseSeparable
    block when it has no expansion: conv_dw, bn1, se, conv_pw, bn2; else an InvertedResidual:
    conv_pw, bn1, conv_dw, bn2, se, conv_pwl, bn3), conv_head, bn2, classifier."""
    names = {layer.name for layer in model.layers}
    top = {"stem_conv1": "conv_stem", "stem_bn": "bn1", "head_conv": "conv_head"}
    top.update({"head_bn": "bn2", "classifier": "classifier"})
    expanded = {
        "expand_conv": "conv_pw",
        "expand_bn": "bn1",
        "dwconv": "conv_dw",
        "bn": "bn2",
        "project_conv": "conv_pwl",
        "project_bn": "bn3",
    }
    separable = {"dwconv": "conv_dw", "bn": "bn1", "project_conv": "conv_pw", "project_bn": "bn2"}
    se = {"se/reduce": "se.conv_reduce", "se/expand": "se.conv_expand"}

    def module(path: str) -> str | None:
        if path in top:
            return top[path]
        match = _BLOCK.fullmatch(path)
        if not match:
            return None
        stage, block, part = int(match[1]), int(match[2]), match[3]
        parts = expanded if f"stage{stage}_block{block}_expand_conv" in names else separable
        parts = {**parts, **se}
        return f"blocks.{stage - 1}.{block - 1}.{parts[part]}" if part in parts else None

    return module


def nfnet_modules(model: keras.Model) -> Callable[[str], str | None]:
    """timm's NormFreeNet (dm_nfnet_*): stem.conv1..4, stages.{s}.{i} with conv1, conv2, conv2b,
    conv3 (our conv0, conv1, conv1b, conv2), downsample.conv, attn_last.fc1/fc2 (SE),
    skipinit_gain; final_conv; head.fc."""
    top = {f"stem_conv{i}": f"stem.conv{i + 1}" for i in range(4)}
    top.update({"final_conv": "final_conv", "classifier": "head.fc"})
    parts = {
        "conv0": "conv1",
        "conv1": "conv2",
        "conv1b": "conv2b",
        "conv2": "conv3",
        "shortcut_conv": "downsample.conv",
        "se/reduce": "attn_last.fc1",
        "se/expand": "attn_last.fc2",
        "skip_gain": "skipinit_gain",
    }

    def module(path: str) -> str | None:
        if path in top:
            return top[path]
        match = _BLOCK.fullmatch(path)
        if not match or match[3] not in parts:
            return None
        return f"stages.{int(match[1]) - 2}.{int(match[2]) - 1}.{parts[match[3]]}"

    return module


MAPPINGS = {"resnet": resnet_modules, "mbconv": mbconv_modules, "nfnet": nfnet_modules}


def plan(model: keras.Model, family: str) -> dict[str, Entry]:
    """The strict-fill plan of `model` (a builder `family`) from a timm state dict."""
    return torch_plan(model, MAPPINGS[family](model))


def ignored(tensors: dict, include_top: bool = True) -> list[str]:
    """Source tensors with no weights to copy: BN counters, and timm's classifier when the model
    is built without one."""
    head = ("fc.", "classifier.", "head.fc.")
    return [k for k in tensors if k.endswith(COUNTER) or (not include_top and k.startswith(head))]


def guess_timm_name(path: str, names: list[str]) -> str | None:
    """The longest of `names` that the file's own name spells as a token (timm's downloads are
    named `<arch>.<tag>`, e.g. `tf_efficientnet_b0.ns_jft_in1k.safetensors`). Folder names are
    not read: a folder named after one of our models says nothing about which timm twin the file
    inside came from (a hub snapshot's config.json does: official/weights/hub.py)."""
    text = os.path.basename(path)
    found = [n for n in names if re.search(rf"(^|[\-_.]){re.escape(n)}($|[\-.])", text)]
    # A name preceded by '_' is only a match when no longer name covers it (tf_efficientnet_b0
    # contains efficientnet_b0): the longest wins.
    return max(found, key=len) if found else None
