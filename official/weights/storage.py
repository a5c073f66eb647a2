"""Files on local disk or cloud storage (gs://...), through TensorFlow's gfile, imported on first
use: official.models imports this package on every Keras backend, and a JAX or PyTorch user
without TensorFlow must still be able to build models (docs/backends.md)."""

from __future__ import annotations


def _gfile():
    import tensorflow as tf  # on use only: see the module docstring

    return tf.io.gfile


def exists(path: str) -> bool:
    return _gfile().exists(path)


def isdir(path: str) -> bool:
    return _gfile().isdir(path)


def makedirs(path: str) -> None:
    _gfile().makedirs(path)


def open_file(path: str, mode: str = "rb"):
    return _gfile().GFile(path, mode)


def copy_into_place(local: str, path: str) -> None:
    """`local` copied to `path` complete or not at all: through `path.partial`, then renamed."""
    gfile = _gfile()
    gfile.copy(local, path + ".partial", overwrite=True)
    gfile.rename(path + ".partial", path, overwrite=True)
