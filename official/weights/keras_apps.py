"""Source: keras.applications ResNet50/101/152 and EfficientNetB0-B7, from a model object, its
`.h5` weight file, or 'imagenet' (downloaded by keras through its own URL and hash).

ResNet (keras.applications, 2015): the stride on the first 1x1 conv, PyTorch-style padding,
BN epsilon 1.001e-5, convs with biases, and caffe inputs (BGR, mean subtracted, not scaled).
It converts into our ResNet built with RESNET_CONVENTIONS; each conv bias folds exactly into
the batch norm after it, and the BGR order and the scale fold into the stem kernel, so the
converted model takes this library's normalized RGB input (official/data/preprocess.py).

EfficientNet: the same network as ours (TF 'same' padding, BN epsilon 1e-3), with the input
rescaling and normalization inside the model; their per-channel scale folds into the stem
kernel. keras' imagenet files store the ImageNet std where the variance belongs, which keras
corrects with an extra rescaling for weights='imagenet' (tensorflow/tensorflow#49930); the
converter applies the same correction to a file whose variance is exactly that std.
"""

from __future__ import annotations

import logging
import os
import re

import h5py
import keras
import numpy as np

from official.layers.input_statistics import MEAN_RGB, STDDEV_RGB
from official.weights import layouts
from official.weights.strict import Entry, owned_variables

log = logging.getLogger(__name__)

RESNETS = {50: "ResNet50", 101: "ResNet101", 152: "ResNet152"}
EFFICIENTNETS = {f"b{i}": f"EfficientNetB{i}" for i in range(8)}
RESNET_CONVENTIONS = {"stride_in_1x1": True, "padding": "symmetric", "bn_epsilon": 1.001e-5}
EFFICIENTNET_CONVENTIONS: dict = {}
IMAGENET_STD = (0.229, 0.224, 0.225)  # keras.applications.efficientnet.IMAGENET_STDDEV_RGB


def architecture(family: str, arguments: dict) -> str:
    """The keras.applications class that a `family` builder with these arguments is."""
    if family == "resnet" and arguments.get("depth") in RESNETS:
        return RESNETS[arguments["depth"]]
    if family == "efficientnet" and arguments.get("variant") in EFFICIENTNETS:
        return EFFICIENTNETS[arguments["variant"]]
    raise ValueError(
        "keras.applications weights exist for resnet50, resnet101, resnet152 and "
        f"efficientnet_b0..b7 only, not for this {family} model (docs/weights.md)."
    )


def conventions(arch: str) -> dict:
    return dict(RESNET_CONVENTIONS if arch.startswith("ResNet") else EFFICIENTNET_CONVENTIONS)


def imagenet_file(arch: str, include_top: bool = True) -> str:
    """keras.applications' ImageNet weight file for `arch`, from keras' cache or downloaded by
    keras.utils.get_file with keras' own URL and hash."""
    if arch.startswith("ResNet"):
        from keras.src.applications import resnet as source

        key = arch.lower()
        fname = f"{key}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    else:
        from keras.src.applications import efficientnet as source

        key = arch[len("EfficientNet") :].lower()
        fname = f"{arch.lower()}{'' if include_top else '_notop'}.h5"
    file_hash = source.WEIGHTS_HASHES[key][0 if include_top else 1]
    try:
        return keras.utils.get_file(
            fname, source.BASE_WEIGHTS_PATH + fname, cache_subdir="models", file_hash=file_hash
        )
    except Exception as error:  # keras raises a bare Exception when the download fails
        cache = os.path.join(os.environ.get("KERAS_HOME", "~/.keras"), "models")
        raise OSError(
            f"weights='imagenet' needs keras.applications' {fname}, which is not in {cache}/ and "
            f"could not be downloaded ({type(error).__name__}); put the file there or pass its "
            "path as weights=."
        ) from None


def _has_top(path: str) -> bool:
    with h5py.File(path, "r") as f:
        names = f.attrs.get("layer_names", f.get("model_weights", f).attrs.get("layer_names", []))
        return any((n.decode() if isinstance(n, bytes) else n) == "predictions" for n in names)


def source_model(arch: str, path: str) -> tuple[keras.Model, bool]:
    """The keras.applications `arch` filled from its `.h5` file, and whether the file is one of
    keras' EfficientNet imagenet files (whose input needs keras' extra correction)."""
    model = getattr(keras.applications, arch)(
        weights=None, include_top=_has_top(path), classifier_activation=None
    )
    model.load_weights(path)
    corrected = False
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            variance = np.asarray(layer.variables[1]).reshape(-1)
            corrected = bool(np.allclose(variance, IMAGENET_STD, rtol=0, atol=1e-6))
    return model, corrected


def correct_variance(model: keras.Model) -> None:
    """What keras' extra rescaling does for weights='imagenet' (tensorflow/tensorflow#49930),
    folded into the Normalization layer: the variance it holds (the std) becomes std**2. Makes
    a model from an imagenet file compute what keras' weights='imagenet' model computes."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            mean, variance, count = layer.get_weights()
            layer.set_weights([mean, np.square(variance), count])
            layer.finalize_state()


def tensors_of(model: keras.Model) -> dict[str, np.ndarray]:
    return {v.path: np.asarray(v) for _, _, v in owned_variables(model)}


# ---- The input transform each source expects, as a per-channel scale (and order) of ours.
def _input_affine(source: keras.Model, corrected: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """(a, c, used tensors): the source's in-model preprocessing computes a * pixels + c."""
    a, c, used = np.ones(3), np.zeros(3), []
    for layer in source.layers:
        if isinstance(layer, keras.layers.Rescaling):
            a, c = a * np.asarray(layer.scale), c * np.asarray(layer.scale) + layer.offset
        elif isinstance(layer, keras.layers.Normalization):
            mean, variance = (np.asarray(v, np.float64).reshape(-1) for v in layer.variables[:2])
            std = np.maximum(np.sqrt(variance), keras.config.epsilon())
            a, c = a / std, (c - mean) / std
            used = [layer.variables[0].path, layer.variables[1].path]
        elif isinstance(layer, keras.layers.Conv2D):
            break
    if corrected:
        a, c = a / np.sqrt(IMAGENET_STD), c / np.sqrt(IMAGENET_STD)
    return a, c, used


def input_fold(source: keras.Model, arch: str, corrected: bool = False):
    """(per-channel scale, channel order, tensors used, source mean in pixels) that turn the
    source's stem kernel into one for this library's normalized input."""
    std, mean = np.asarray(STDDEV_RGB), np.asarray(MEAN_RGB)
    if arch.startswith("ResNet"):  # caffe: x[c] = pixels_bgr[c] - mean_bgr[c], outside the model
        order = np.array([2, 1, 0])
        return std[order], order, [], mean
    a, c, used = _input_affine(source, corrected)
    return a * std, None, used, -c / a


# ---- One mapping per family: our layer name -> the keras.applications layer name.
_BLOCK = re.compile(r"stage(\d+)_block(\d+)_(.+)")
_RESNET_PARTS = {"shortcut": "0", "conv1": "1", "conv2": "2", "conv3": "3"}


def _resnet_layer(name: str) -> str | None:
    """stem_conv1 / stem_bn1 -> conv1_conv / conv1_bn; stage{s}_block{b}_conv{k} / bn{k} /
    shortcut_conv / shortcut_bn -> conv{s}_block{b}_{k or 0}_conv / _bn; classifier ->
    predictions."""
    fixed = {"stem_conv1": "conv1_conv", "stem_bn1": "conv1_bn", "classifier": "predictions"}
    if name in fixed:
        return fixed[name]
    match = _BLOCK.fullmatch(name)
    if not match:
        return None
    part = match[3]
    if part.startswith("shortcut_"):
        index, kind = "0", part.split("_")[1]
    elif part[:-1] in ("conv", "bn") and part[-1] in "123":
        index, kind = part[-1], part[:-1]
    else:
        return None
    return f"conv{match[1]}_block{match[2]}_{index}_{kind}"


def _efficientnet_layer(name: str) -> str | None:
    """stage{i}_block{j}_X -> block{i}{letter j}_X (se/reduce -> se_reduce); stem_conv1 ->
    stem_conv; head_conv / head_bn -> top_conv / top_bn; classifier -> predictions."""
    fixed = {"stem_conv1": "stem_conv", "stem_bn": "stem_bn", "head_conv": "top_conv"}
    fixed.update({"head_bn": "top_bn", "classifier": "predictions"})
    if name in fixed:
        return fixed[name]
    match = _BLOCK.fullmatch(name)
    if not match:
        return None
    return f"block{match[1]}{chr(96 + int(match[2]))}_{match[3].replace('/', '_')}"


def plan(model: keras.Model, source: keras.Model, arch: str, corrected: bool = False):
    """(tensors, plan, ignored, source input mean) to fill `model` from the keras.applications
    `source` model of class `arch`."""
    tensors = tensors_of(source)
    resnet = arch.startswith("ResNet")
    layer_of = _resnet_layer if resnet else _efficientnet_layer
    scale, order, input_tensors, source_mean = input_fold(source, arch, corrected)
    entries = {}
    for layer, variable, weight in owned_variables(model):
        their = layer_of(layer.path)
        if their is None:
            continue
        key = f"{their}/{variable}"
        if layer.path == "stem_conv1" and variable == "kernel":
            entries[weight.path] = Entry(
                (key, *input_tensors),
                lambda k, *_, s=scale, o=order: layouts.fold_input(k, s, o),
            )
        elif resnet and variable == "moving_mean":  # the conv before it has a bias
            entries[weight.path] = Entry(
                (key, their.removesuffix("_bn") + "_conv/bias"), layouts.fold_bias_into_mean
            )
        elif "se/" in layer.path and variable == "kernel":
            entries[weight.path] = Entry((key,), layouts.conv_1x1_to_dense)
        else:
            entries[weight.path] = Entry((key,), layouts.identity)
    ignored = [k for k in tensors if k.endswith("/count")]
    if not any(layer.name == "classifier" for layer in model.layers):
        ignored += [k for k in tensors if k.startswith("predictions/")]
    offset = np.abs(np.asarray(source_mean) - np.asarray(MEAN_RGB))
    if offset.max() > 1e-3:
        log.warning(
            "%s normalizes with mean %s (pixels); this library's pipeline subtracts %s: "
            "the converted model equals the source on inputs normalized with the source's mean.",
            arch,
            np.round(source_mean, 3).tolist(),
            list(MEAN_RGB),
        )
    return tensors, entries, ignored, [float(m) for m in source_mean]
