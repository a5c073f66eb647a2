"""Random timm state dicts that keep a network's activations O(1) at every depth, from NumPy
alone: the weights tests/weights/record_timm_reference.py gives timm's own models (in a venv
with timm and torch) and the tests give our converter, so timm's recorded outputs and ours come
from the same tensors. Kernels N(0, 1/fan in); norm gains, WS gains and running variances
U(0.5, 1.5); SkipInit gains U(0.5, 1); biases, betas and running means N(0, 0.1)."""

from __future__ import annotations

import gzip
import json
import os

import numpy as np

LAYOUTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "official",
    "weights",
    "timm_layouts.json.gz",
)


def layout(timm_name: str) -> list:
    """[(key, shape)] of timm's state dict (dumped from timm 1.0.31, pretrained=False)."""
    with gzip.open(LAYOUTS, "rt") as f:
        return json.load(f)["models"][timm_name]


def state_dict(timm_name: str, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tensors = {}
    for key, shape in layout(timm_name):
        shape = tuple(shape)
        if key.endswith("num_batches_tracked"):
            tensors[key] = np.zeros(shape, np.int64)
            continue
        if key.endswith("running_var") or key.endswith(".gain"):
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("skipinit_gain"):
            value = rng.uniform(0.5, 1.0, shape)
        elif key.endswith(".weight") and len(shape) == 1:  # a norm's gain
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith(".weight"):  # conv OIHW (I already per group) or linear (out, in)
            value = rng.normal(0.0, 1.0 / np.sqrt(int(np.prod(shape[1:]))), shape)
        else:  # bias, running_mean
            value = rng.normal(0.0, 0.1, shape)
        tensors[key] = np.asarray(value, np.float32)
    return tensors


def image(size: int, seed: int = 1) -> np.ndarray:
    """One normalized input [1, size, size, 3] (NHWC; timm gets it transposed to NCHW)."""
    return np.random.default_rng(seed).normal(size=(1, size, size, 3)).astype(np.float32)


def projections(feature_nhwc: np.ndarray, count: int = 16, seed: int = 2):
    """(count sums of the tensor times fixed random sign-free Gaussians, their natural scales):
    a per-element relative error e moves projection k by about e x scale k."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(count, *feature_nhwc.shape)).astype(np.float64)
    products = weights * feature_nhwc.astype(np.float64)
    sums = products.reshape(count, -1).sum(axis=1)
    scales = np.sqrt((products.reshape(count, -1) ** 2).sum(axis=1))
    return sums, scales
