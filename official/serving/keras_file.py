"""`.keras` files that carry what serving them needs: the eval preprocessing
(`preprocessing.json`, official/data/eval_preprocessing.py) and the class names (`labels.json`),
stored as extra entries of the file's zip archive. `keras.saving.load_model` ignores them, so the
file stays an ordinary `.keras` file.

    save(model, "model.keras", EvalPreprocessing(224), class_names)
    model, preprocessing, names = load("model.keras")   # preprocessing None for other files
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import tempfile
import zipfile

import keras
import tensorflow as tf

from official import models  # noqa: F401  (registers the custom layers .keras files name)
from official.data import eval_preprocessing, tfrecord
from official.data.eval_preprocessing import EvalPreprocessing
from official.weights import storage

log = logging.getLogger(__name__)
DEFAULT_IMAGE_SIZE = 224


def save(
    model: keras.Model,
    path: str,
    preprocessing: EvalPreprocessing,
    class_names: list[str] | None = None,
) -> None:
    """model.save(path) plus the preprocessing and class-name entries (any gfile path)."""
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "model.keras")
        model.save(local)
        with zipfile.ZipFile(local, "a") as archive:
            archive.writestr(eval_preprocessing.FILE_NAME, preprocessing.to_json())
            if class_names:
                table = {str(i): name for i, name in enumerate(class_names)}
                archive.writestr(tfrecord.LABELS_FILE, json.dumps(table, indent=1))
        tf.io.gfile.copy(local, path, overwrite=True)


def read_entries(path: str) -> tuple[EvalPreprocessing | None, list[str] | None]:
    """The preprocessing and class names stored in the `.keras` file `path` (None if absent)."""
    with tf.io.gfile.GFile(path, "rb") as f:
        archive = zipfile.ZipFile(io.BytesIO(f.read()))
    names = set(archive.namelist())
    preprocessing = labels = None
    if eval_preprocessing.FILE_NAME in names:
        text = archive.read(eval_preprocessing.FILE_NAME).decode()
        preprocessing = EvalPreprocessing.from_json(text, f"{path}:{eval_preprocessing.FILE_NAME}")
    if tfrecord.LABELS_FILE in names:
        table = json.loads(archive.read(tfrecord.LABELS_FILE))
        labels = [table[str(i)] for i in range(len(table))]
    return preprocessing, labels


def load(
    path: str, flag: str = "--keras_file"
) -> tuple[keras.Model, EvalPreprocessing | None, list[str] | None]:
    """(model, stored preprocessing or None, class names or None); errors name `flag`."""
    model = storage.load_keras_file(path, flag, compile=False)
    return (model, *read_entries(path))


def serving_settings(
    path: str,
    model: keras.Model,
    stored: EvalPreprocessing | None,
    image_size: int | None = None,
) -> EvalPreprocessing:
    """The preprocessing to serve the `.keras` file `path` with: what it stores, with
    `image_size` replacing its size when given. A file without it gets the recipe default
    (crop padding 32, `tf2` resize and mean/std; `image_size`, else the model's fixed input
    size, else 224) and a warning."""
    if stored is not None:
        if image_size and image_size != stored.image_size:
            log.warning(
                "%s: image size %d instead of the stored %d", path, image_size, stored.image_size
            )
            stored = dataclasses.replace(stored, image_size=image_size)
        return stored
    size = image_size or model.input_shape[1] or DEFAULT_IMAGE_SIZE
    default = EvalPreprocessing(size)
    log.warning(
        "%s stores no preprocessing settings: using the recipe default (%s); a model trained "
        "with other settings will be less accurate",
        path,
        default,
    )
    return default
