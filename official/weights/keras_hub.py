"""keras-hub presets of the ResNet family (docs/weights.md, "keras-hub presets").

A preset is a folder with `config.json` (the backbone, `"registered_name":
"keras_hub>ResNetBackbone"`), `model.weights.h5` and, for a classifier, `task.json` and
`task.weights.h5`. keras-hub's weight files key variables by layer class and order, not by
layer name, so the preset is loaded with keras-hub itself (an optional dependency: `pip install
keras-hub`) and read layer by layer. keras-hub's ResNet v1 (`resnet_18_imagenet` ...
`resnet_152_imagenet`) is timm's ResNet with keras-hub's layer names: `read` returns timm's state
dict (keys and PyTorch layouts), which the timm mapping then fills exactly
(official/weights/loading.py). The preset's image converter is described as timm's
`pretrained_cfg` (what the converter turns into the eval-preprocessing record): its centre
square crop as crop_pct 1, its interpolation, and its scale / offset as mean and std.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from official.weights import storage

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
RESNET = "keras_hub>ResNetBackbone"
# keras-hub ResNet v1 settings -> the timm model with that network
_BLOCKS_TO_TIMM = {
    ((2, 2, 2, 2), "basic_block"): "resnet18",
    ((3, 4, 6, 3), "basic_block"): "resnet34",
    ((2, 2, 2, 2), "bottleneck_block"): "resnet26",
    ((3, 4, 6, 3), "bottleneck_block"): "resnet50",
    ((3, 4, 23, 3), "bottleneck_block"): "resnet101",
    ((3, 8, 36, 3), "bottleneck_block"): "resnet152",
}
_V1 = {
    "stackwise_num_filters": [64, 128, 256, 512],
    "stackwise_num_strides": [1, 2, 2, 2],
    "input_conv_filters": [64],
    "input_conv_kernel_sizes": [7],
    "use_pre_activation": False,
}


@dataclasses.dataclass(frozen=True)
class Preset:
    timm_name: str
    tensors: dict  # timm state-dict keys -> arrays in PyTorch layouts
    pretrained_cfg: dict  # its image converter as timm's eval entries ({} without one)


def registered_name(path) -> str | None:
    """The class a keras-hub preset folder's config.json registers, or None for a path that is
    no keras-hub preset."""
    if not isinstance(path, str) or not storage.isdir(path):
        return None
    config_path = os.path.join(path, CONFIG_FILE)
    if not (storage.exists(config_path) and storage.exists(os.path.join(path, WEIGHTS_FILE))):
        return None
    try:
        with storage.open_file(config_path, "r") as f:
            name = json.load(f).get("registered_name")
    except (ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name.startswith("keras_hub>") else None


def timm_name(path: str) -> str:
    """The timm model whose network the preset at `path` holds; a one-line error for a preset
    of another family or another ResNet variant."""
    name = registered_name(path)
    if name != RESNET:
        raise ValueError(
            f"weights={path!r} is a keras-hub {name} preset; keras-hub presets convert from "
            "ResNetBackbone (v1: resnet_18_imagenet ... resnet_152_imagenet) only."
        )
    with storage.open_file(os.path.join(path, CONFIG_FILE), "r") as f:
        config = json.load(f)["config"]
    differs = [k for k, v in _V1.items() if config.get(k) != v]
    blocks = (tuple(config.get("stackwise_num_blocks", ())), config.get("block_type"))
    if differs or blocks not in _BLOCKS_TO_TIMM:
        what = f"{differs[0]}={config.get(differs[0])!r}" if differs else f"blocks {blocks}"
        raise ValueError(
            f"weights={path!r}: a keras-hub ResNet with {what}; only ResNet v1 presets convert "
            f"({', '.join(_BLOCKS_TO_TIMM.values())} networks)."
        )
    return _BLOCKS_TO_TIMM[blocks]


def num_classes(path: str) -> int | None:
    """The class count of a classifier preset's head (its task.json), None for a backbone."""
    task = os.path.join(path, "task.json")
    if not storage.exists(task):
        return None
    with storage.open_file(task, "r") as f:
        return json.load(f).get("config", {}).get("num_classes")


def read(path: str) -> Preset:
    """The preset's weights as timm's state dict, with its head when it is a classifier."""
    name = timm_name(path)
    try:
        import keras_hub
    except ImportError:
        raise ValueError(
            f"weights={path!r} is a keras-hub preset: reading it needs keras-hub "
            "(pip install keras-hub)."
        ) from None
    task = None
    if storage.exists(os.path.join(path, "task.json")):
        task = keras_hub.models.ImageClassifier.from_preset(path)
        backbone = task.backbone
    else:
        backbone = keras_hub.models.Backbone.from_preset(path)
    tensors = _resnet_tensors(backbone)
    if task is not None and (task.pooling != "avg" or task.activation not in (None, "linear")):
        raise ValueError(
            f"weights={path!r}: a keras-hub classifier with pooling={task.pooling!r}, "
            f"activation={task.activation!r}; the ResNet head here averages and gives logits "
            "(pooling 'avg', activation None)."
        )
    if task is not None:
        kernel, bias = (np.asarray(v) for v in task.output_dense.weights)
        tensors.update({"fc.weight": kernel.T.copy(), "fc.bias": bias})
    converter = getattr(getattr(task, "preprocessor", None), "image_converter", None)
    return Preset(name, tensors, _pretrained_cfg(converter))


def _resnet_tensors(backbone) -> dict:
    """keras-hub ResNet v1 layer names -> timm's: conv1_conv / conv1_bn is the stem,
    stack{s}_block{b}_{i}_conv / _bn the i-th convolution of a block (0: the shortcut's)."""
    tensors = {}

    def conv(layer: str, key: str):
        kernel = np.asarray(backbone.get_layer(layer).kernel)  # [kh, kw, in, out]
        tensors[f"{key}.weight"] = kernel.transpose(3, 2, 0, 1).copy()

    def bn(layer: str, key: str):
        norm = backbone.get_layer(layer)
        for field, variable in (
            ("weight", norm.gamma),
            ("bias", norm.beta),
            ("running_mean", norm.moving_mean),
            ("running_var", norm.moving_variance),
        ):
            tensors[f"{key}.{field}"] = np.asarray(variable)
        tensors[f"{key}.num_batches_tracked"] = np.zeros((), np.int64)

    conv("conv1_conv", "conv1")
    bn("conv1_bn", "bn1")
    convs = 3 if backbone.block_type == "bottleneck_block" else 2
    for s, repeats in enumerate(backbone.stackwise_num_blocks):
        for b in range(repeats):
            ours, theirs = f"stack{s}_block{b}", f"layer{s + 1}.{b}"
            if b == 0 and (convs == 3 or s > 0):  # the projection shortcut
                conv(f"{ours}_0_conv", f"{theirs}.downsample.0")
                bn(f"{ours}_0_bn", f"{theirs}.downsample.1")
            for i in range(1, convs + 1):
                conv(f"{ours}_{i}_conv", f"{theirs}.conv{i}")
                bn(f"{ours}_{i}_bn", f"{theirs}.bn{i}")
    return tensors


def _pretrained_cfg(converter) -> dict:
    """x * scale + offset on 0..255 pixels is (x / 255 - mean) / std in timm's units, with
    std = 1 / (255 scale) and mean = -offset / (255 scale); crop_to_aspect_ratio keeps the
    centre square (crop_pct 1: the shorter side resized to the size, then the centre crop)."""
    if converter is None or converter.scale is None or not converter.image_size:
        return {}
    if not converter.crop_to_aspect_ratio or converter.pad_to_aspect_ratio:
        raise ValueError(
            "a keras-hub image converter that squashes or pads to the aspect ratio "
            "(crop_to_aspect_ratio=False or pad_to_aspect_ratio=True); only its centre crop "
            "(crop_to_aspect_ratio=True) has an eval preprocessing record here."
        )
    scale = np.broadcast_to(np.asarray(converter.scale, np.float64), (3,))
    offset = np.broadcast_to(np.asarray(converter.offset or 0.0, np.float64), (3,))
    size = int(converter.image_size[0])
    interpolation = converter.interpolation if converter.interpolation == "bicubic" else "bilinear"
    return {
        "input_size": [3, size, size],
        "interpolation": interpolation,
        "crop_pct": 1.0,
        "crop_mode": "center",
        "mean": [float(m) for m in -offset / scale / 255.0],
        "std": [float(s) for s in 1.0 / scale / 255.0],
    }
