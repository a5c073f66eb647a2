"""Shared inputs of the weight-conversion tests: real photos, random source weights, and timm's
state-dict layouts (official/weights/timm_layouts.json.gz: every key and shape of each
supported timm model, dumped from timm 1.0.31 with pretrained=False; no torch needed here)."""

import functools
import gzip
import json
import os

import keras
import numpy as np
import pytest
from safetensors.numpy import save_file
from skimage import data as skdata
from skimage.transform import resize

from official.data.preprocess import MEAN_RGB, STDDEV_RGB
from official.weights.to_timm import LAYOUTS


@functools.cache
def _layouts() -> dict:
    with gzip.open(LAYOUTS, "rt") as f:
        return json.load(f)["models"]


def timm_layout(timm_name: str) -> list:
    return _layouts()[timm_name]


def timm_names() -> list[str]:
    return list(_layouts())


def random_state_dict(timm_name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """timm's exact keys and shapes, random values (variances positive)."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for key, shape in timm_layout(timm_name):
        if key.endswith("num_batches_tracked"):
            tensors[key] = np.zeros(shape, np.int64)
        elif key.endswith("running_var"):
            tensors[key] = np.asarray(rng.uniform(0.5, 1.5, shape), np.float32)
        else:  # (a 0-d array, not a NumPy scalar, for timm's scalar SkipInit gains)
            tensors[key] = np.asarray(rng.standard_normal(shape, dtype=np.float32) * 0.05)
    return tensors


def write_safetensors(directory, name: str, tensors: dict) -> str:
    path = os.path.join(str(directory), f"{name}.safetensors")
    save_file(tensors, path)
    return path


def photos(size: int) -> np.ndarray:
    """scikit-image's astronaut, cat and coffee, resized to size x size: [3, size, size, 3]
    pixels in [0, 255]."""
    images = (skdata.astronaut(), skdata.chelsea(), skdata.coffee())
    return np.stack(
        [resize(i, (size, size), preserve_range=True, anti_aliasing=True) for i in images]
    ).astype(np.float32)


def normalize(pixels: np.ndarray) -> np.ndarray:
    """This library's input: (pixels - ImageNet mean) / std (official/data/preprocess.py)."""
    return (pixels - np.float32(MEAN_RGB)) / np.float32(STDDEV_RGB)


def randomize(model: keras.Model, seed: int = 0) -> None:
    """Every weight of a keras model random, BN statistics, biases and gammas included; kernels
    scaled by 1/sqrt(fan in) so that activations stay O(1)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if not layer.weights or isinstance(layer, keras.layers.Normalization):
            continue
        values = []
        for variable in layer.weights:
            kind, shape = variable.path.rsplit("/", 1)[-1], tuple(variable.shape)
            if kind == "gamma":
                value = rng.uniform(0.5, 1.5, shape)
            elif kind == "moving_variance":
                value = rng.uniform(0.5, 1.5, shape)
            elif kind == "kernel":
                fan_in = (
                    int(np.prod(shape[:-1]))
                    if isinstance(layer, keras.layers.Dense | keras.layers.Conv2D)
                    and not isinstance(layer, keras.layers.DepthwiseConv2D)
                    else int(np.prod(shape[:2]))
                )
                value = rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)
            else:  # beta, moving_mean, bias
                value = rng.normal(0.0, 0.1, shape)
            values.append(value.astype(np.float32))
        layer.set_weights(values)


def relative_error(got, expected) -> float:
    return float(np.abs(np.asarray(got) - np.asarray(expected)).max() / np.abs(expected).max())


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test here may download: keras' downloader fails as it does offline."""

    def offline(fname=None, origin=None, **_):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
