"""The teacher of knowledge distillation (train.teacher, docs/training.md): a `.keras` file or
a SavedModel, called on the student's batch inside the training step."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from official.data.eval_preprocessing import EvalPreprocessing
from official.serving import image, keras_file
from official.weights import storage

log = logging.getLogger("official.train")


def load(path: str, data):
    """A `.keras` file, or a SavedModel whose `serve` endpoint takes the student's inputs. The
    teacher gets the student's batch normalized as the teacher was trained: the statistics its
    record names (a .keras file's entry, a SavedModel's assets.extra/preprocessing.json), else
    data.preprocessing's, where the student's own (data.mean_rgb, data.stddev_rgb) differ."""
    if path.endswith(".keras"):
        teacher = storage.load_keras_file(path, "train.teacher")
        teacher.trainable = False
        stored = keras_file.read_entries(path)[0]
        call = lambda images: teacher(images, training=False)  # noqa: E731
    else:
        loaded = tf.saved_model.load(path)
        if not hasattr(loaded, "serve"):
            raise ValueError(
                f"train.teacher={path!r}: a .keras file or a SavedModel with a `serve` endpoint."
            )
        stored = image.read_record(path)
        # The closure keeps `loaded` alive: its variables are freed with it.
        call = lambda images: loaded.serve(images)  # noqa: E731
    student = EvalPreprocessing.from_config(data).mean_std()
    own = (stored or EvalPreprocessing(data.image_size, method=data.preprocessing)).mean_std()
    if np.allclose(np.asarray(student), np.asarray(own), rtol=1e-3, atol=0):
        return call
    log.info("train.teacher=%s normalizes with mean %s, std %s", path, *own)
    scale = tf.constant(np.asarray(student[1]) / np.asarray(own[1]), tf.float32)
    shift = tf.constant(
        (np.asarray(student[0]) - np.asarray(own[0])) / np.asarray(own[1]), tf.float32
    )

    def renormalized(images):  # (x - m_s) / s_s  ->  (x - m_t) / s_t
        return call(tf.cast(tf.cast(images, tf.float32) * scale + shift, images.dtype))

    return renormalized
