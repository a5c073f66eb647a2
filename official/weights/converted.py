"""The converter's output: a Keras `.weights.h5` file plus, in an HDF5 attribute at its root,
what a reader needs to rebuild the network: the registered model name, its class count and the
conventions the weights need (official/weights/timm_names.py), the source and its input mean.
Keras' own `load_weights` ignores the attribute, so the file stays a plain weights file;
`official.models.get_converted` rebuilds the network from it."""

from __future__ import annotations

import json
import os
import tempfile

import h5py
import keras

from official.weights import storage

ATTRIBUTE = "official.weights"


def save(model: keras.Model, path: str, metadata: dict) -> None:
    """Writes `model`'s weights and `metadata` to `path` (.weights.h5), complete or not at all:
    a temporary file next to it (or on local disk for a remote path) is renamed into place."""
    if not path.endswith(".weights.h5"):
        raise ValueError(f"--out={path!r}: the converter writes a Keras '.weights.h5' file.")
    remote = "://" in path
    directory = tempfile.mkdtemp() if remote else os.path.dirname(os.path.abspath(path))
    handle, local = tempfile.mkstemp(suffix=".weights.h5", dir=directory)
    os.close(handle)
    try:
        model.save_weights(local, overwrite=True)
        with h5py.File(local, "a") as f:
            f.attrs[ATTRIBUTE] = json.dumps(metadata)
        if remote:
            storage.copy_into_place(local, path)
        else:
            os.replace(local, path)
    finally:
        if os.path.exists(local):
            os.remove(local)
        if remote:
            os.rmdir(directory)


def read_metadata(path: str) -> dict | None:
    """The converter's metadata of a `.weights.h5` file, or None for a plain weights file."""
    if not storage.exists(path):
        raise FileNotFoundError(f"{path}: no such file.")
    with storage.open_file(path) as handle, h5py.File(handle, "r") as f:
        text = f.attrs.get(ATTRIBUTE)
    return json.loads(text) if text is not None else None
