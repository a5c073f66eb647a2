"""Back to timm: a model of this library as timm's `model.safetensors` + `config.json`, the hub
snapshot layout `timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=...))`
reads (docs/weights.md, "Back to timm").

The tensors are the timm conversion run backwards: the same plan (official/weights/timm.py)
names each of our variables' timm key, and each layout change is undone; the key list and each
key's rank come from timm's own state-dict layouts (`timm_layouts.json.gz`, dumped from timm
1.0.31 with pretrained=False), so the file holds exactly the keys timm's model has. BN batch
counters are written as 0; a key that none of our variables fills is an error naming it.
"""

from __future__ import annotations

import functools
import gzip
import json
import os

import keras
import numpy as np

from official.weights import layouts, storage, strict, timm

LAYOUTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "timm_layouts.json.gz")
# timm's classifier modules (ResNets: fc, EfficientNet/MnasNet: classifier, NFNets: head.fc)
HEAD_KEYS = ("fc.", "classifier.", "head.fc.")

# Each forward layout change (timm -> ours) and its inverse, given timm's shape.
_INVERSE = {
    layouts.identity: lambda x, shape: x,
    layouts.torch_conv: lambda x, shape: np.transpose(x, (3, 2, 0, 1)),
    layouts.torch_depthwise: lambda x, shape: np.transpose(x, (2, 3, 0, 1)),
    layouts.torch_dense: lambda x, shape: np.transpose(x).reshape(
        (x.shape[1], x.shape[0], *shape[2:])
    ),
    layouts.flatten: lambda x, shape: x.reshape((x.shape[0], *shape[1:])),
}


@functools.cache
def _layouts() -> dict:
    with gzip.open(LAYOUTS, "rt") as f:
        return json.load(f)["models"]


def timm_layout(timm_name: str) -> list[tuple[str, tuple[int, ...]]]:
    """[(key, shape)] of timm's state dict for `timm_name` (1000 classes)."""
    if timm_name not in _layouts():
        raise ValueError(f"no timm layout for {timm_name!r}; known: {', '.join(_layouts())}.")
    return [(key, tuple(shape)) for key, shape in _layouts()[timm_name]]


def state_dict(model: keras.Model, mapping: str, timm_name: str) -> dict[str, np.ndarray]:
    """timm's state dict for `model`, whose layers map to timm's with `mapping` (a key of
    official/weights/timm.py's MAPPINGS: timm_names.TIMM_MAPPING[family]): every key of timm's
    layout."""
    plan = timm.plan(model, mapping)
    variables = {v.path: v for _, _, v in strict.owned_variables(model)}
    layout = dict(timm_layout(timm_name))
    tensors = {}
    for path, entry in plan.items():
        (key,) = entry.sources
        if key not in layout:
            raise ValueError(f"{model.name}: {path} maps to {key!r}, which {timm_name} lacks.")
        inverse = _INVERSE.get(entry.transform)
        if inverse is None:
            raise ValueError(f"{path}: its layout change to {key!r} cannot be undone.")
        value = np.asarray(keras.ops.convert_to_numpy(variables[path]), np.float32)
        tensor = inverse(value, layout[key])
        if tensor.size == np.prod(layout[key]):
            tensor = tensor.reshape(layout[key])
        elif not key.startswith(HEAD_KEYS):  # only the classifier may have another class count
            raise ValueError(
                f"{model.name}: {path} has shape {tuple(value.shape)}, which does not fit "
                f"{timm_name}'s {key!r} {layout[key]} (another width or input channel count); "
                "timm's model would not load it."
            )
        tensors[key] = np.array(tensor, order="C")  # (ascontiguousarray makes 0-d arrays 1-d)
    for key, shape in layout.items():
        if key.endswith(timm.COUNTER):
            tensors[key] = np.zeros(shape, np.int64)
        elif key not in tensors:
            raise ValueError(f"{timm_name}'s {key!r} has no counterpart in {model.name}.")
    return tensors


def write(
    folder: str,
    model: keras.Model,
    mapping: str,
    timm_name: str,
    pretrained_cfg: dict,
) -> str:
    """Writes `folder`/model.safetensors and config.json, each complete or not at all; returns
    the folder."""
    import tempfile

    from safetensors.numpy import save_file

    tensors = state_dict(model, mapping, timm_name)
    num_classes = int(model.output_shape[-1])
    config = {
        "architecture": timm_name,
        "num_classes": num_classes,
        "pretrained_cfg": {**pretrained_cfg, "num_classes": num_classes},
    }
    # Both files are written locally, then copied into place (any gfile path, gs:// too);
    # config.json last, so a folder with it names a complete model.safetensors.
    with tempfile.TemporaryDirectory() as tmp:
        save_file(tensors, os.path.join(tmp, "model.safetensors"))
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f, indent=1)
        storage.makedirs(folder)
        for name in ("model.safetensors", "config.json"):
            storage.copy_into_place(os.path.join(tmp, name), f"{folder.rstrip('/')}/{name}")
    return folder
