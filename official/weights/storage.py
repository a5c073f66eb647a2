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


def load_keras_file(path: str, flag: str, **kwargs):
    """keras.saving.load_model(path) after two checks that give one line naming `flag` (e.g.
    "--keras_file"): the file exists, and it is a zip archive, as every `.keras` file is (Keras'
    own error for another file says "File not found")."""
    import keras

    if not exists(path):
        raise FileNotFoundError(f"{flag}={path}: no such file.")
    if not is_zip(path):
        raise ValueError(
            f"{flag}={path} is not a .keras file (Keras writes a zip archive; this is not one)."
        )
    return keras.saving.load_model(path, **kwargs)


def is_zip(path: str) -> bool:
    """Whether the existing file `path` starts as a zip archive does (every `.keras` file)."""
    with open_file(path) as f:
        return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or empty
