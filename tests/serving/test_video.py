"""The video export's serving functions (official/serving/video.py) on a stand-in model; the
export of a trained clip model end to end: tests/test_video_end_to_end.py."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from official.configs.config import VideoConfig
from official.serving.video import VideoServingModule


def test_an_empty_batch_is_a_clear_invalid_argument():
    inputs = keras.Input((None, None, None, 3))
    pooled = keras.layers.GlobalAveragePooling3D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4)(pooled))
    config = VideoConfig(num_frames=2, temporal_stride=1, min_image_size=16, num_test_clips=1)
    module = VideoServingModule(model, config, 16, ["a", "b", "c", "d"], top_k=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="frames: the batch is empty; send"):
        module.serve_frames(tf.zeros([0, 2], tf.string))
    with pytest.raises(tf.errors.InvalidArgumentError, match="clips: the batch is empty; send"):
        module.serve_clips(tf.zeros([0, 2, 20, 24, 3]))
    out = module.serve_clips(tf.fill([1, 2, 20, 24, 3], 128.0))  # a real batch still answers
    assert out["probabilities"].shape == (1, 4)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(), 1.0, rtol=1e-5)
