"""SavedModel export of a video classifier for TF Serving (docs/video.md), on the shared export
base (official/serving/saved_model.py).

Signatures (both run the evaluation's multi-view protocol inside the graph: num_test_clips
evenly spaced clips of num_frames frames at temporal_stride, short side resized to
min_image_size, num_test_crops crops; softmax averaged over the views):
  serving_default  frames: string [N, F], the F encoded frames (JPEG/PNG) of each of N videos;
  serving_clips    clips: float32 [N, F, H, W, 3] in 0..255, any F, H, W;
both returning probabilities [N, C], classes [N, k], scores [N, k] and class_names [N, k].
A video shorter than a clip loops, as in evaluation; an empty batch is an InvalidArgument error
that says so. Float32 weights (EMA ones when the run had EMA);
assets.extra/tf_serving_warmup_requests holds PredictRequests of a real-looking clip.
"""

from __future__ import annotations

import shlex

import keras
import numpy as np
import tensorflow as tf

from official.configs.config import VideoConfig
from official.data import video
from official.serving.saved_model import (
    ClassifierModule,
    checked_class_names,
    float32_copy,
    not_empty,
    serving_commands,
    write_version,
)


class VideoServingModule(ClassifierModule):
    def __init__(self, model, video_config: VideoConfig, crop_size: int, class_names, top_k):
        super().__init__(model, class_names, top_k)
        self.video = video_config
        self.crop_size = crop_size
        views = video_config.num_test_views
        self.views_spec = tf.TensorSpec(
            [views, video_config.num_frames, crop_size, crop_size, 3], tf.float32
        )

    def _outputs(self, frames, name: str):
        with tf.control_dependencies([not_empty(frames, name, "video")]):
            views = tf.map_fn(
                lambda f: video.eval_views(f, self.crop_size, self.video),
                frames,
                fn_output_signature=self.views_spec,
            )
        return self.outputs(video.view_averaged_probabilities(self.model, views))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="frames")])
    def serve_frames(self, frames):
        return self._outputs(frames, "frames")

    @tf.function(
        input_signature=[tf.TensorSpec([None, None, None, None, 3], tf.float32, name="clips")]
    )
    def serve_clips(self, clips):
        return self._outputs(clips, "clips")


def warmup_frames(video_config: VideoConfig) -> list[bytes]:
    """One clip's JPEG frames: a noisy ramp that slides sideways, at the eval short side and a
    4:3 aspect, as many frames as one clip spans."""
    rng = np.random.default_rng(0)
    height = video_config.min_image_size
    width = height * 4 // 3
    ramp = np.linspace(0, 255, width)[None, :, None] * np.ones((height, 1, 3))
    count = (video_config.num_frames - 1) * video_config.temporal_stride + 1
    frames = []
    for t in range(count):
        image = np.roll(ramp, 2 * t, axis=1) + rng.normal(0, 20, ramp.shape)
        frames.append(tf.io.encode_jpeg(np.clip(image, 0, 255).astype(np.uint8)).numpy())
    return frames


def export_video_model(
    model: keras.Model,
    export_dir: str,
    video_config: VideoConfig,
    crop_size: int,
    class_names: list[str] | None = None,
    top_k: int = 5,
    version: int | None = None,
) -> str:
    """Writes <export_dir>/<version>/ (next free integer by default), staged under a temporary
    name and renamed when complete; returns its path."""
    class_names = checked_class_names(model, class_names)
    module = VideoServingModule(float32_copy(model), video_config, crop_size, class_names, top_k)
    signatures = {
        "serving_default": module.serve_frames.get_concrete_function(),
        "serving_clips": module.serve_clips.get_concrete_function(),
    }
    warmup = [{"frames": [warmup_frames(video_config)]}]
    return write_version(export_dir, module, signatures, warmup, version=version)


def usage_lines(version_dir: str) -> str:
    """Commands to paste: inspect the signatures, serve, classify a video file."""
    return "\n".join(
        [
            *serving_commands(version_dir),
            f"python -m official.predict --model={shlex.quote(version_dir)} clip.mp4",
        ]
    )
