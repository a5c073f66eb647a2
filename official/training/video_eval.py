"""Multi-view video evaluation: the softmax averaged over every view of a video (docs/video.md).

As TF Model Garden's video task does at inference (official/vision/tasks/video_classification.py,
`inference_step`): each of a video's num_test_clips x num_test_crops views is classified on its
own and the class probabilities are averaged before top-1 / top-5.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def view_averaged_probabilities(model: keras.Model, videos: tf.Tensor) -> tf.Tensor:
    """videos [B, V, T, H, W, 3] -> float32 [B, C]: mean over the V views of softmax(model)."""
    views = tf.reshape(videos, [-1, *videos.shape[2:]])
    probabilities = tf.nn.softmax(tf.cast(model(views, training=False), tf.float32))
    return tf.reduce_mean(
        tf.reshape(probabilities, [-1, videos.shape[1], probabilities.shape[-1]]), 1
    )
