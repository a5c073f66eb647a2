"""SavedModel export of a video classifier for TF Serving (docs/video.md).

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

import os

import keras
import numpy as np
import tensorflow as tf

from official.configs.config import VideoConfig
from official.data import video
from official.export import _next_version, float32_copy, not_empty, read_class_names
from official.training.video_eval import view_averaged_probabilities


class VideoServingModule(tf.Module):
    def __init__(self, model, video_config: VideoConfig, crop_size: int, class_names, top_k):
        super().__init__()
        self.model = model
        self.video = video_config
        self.crop_size = crop_size
        self.top_k = min(top_k, len(class_names))
        self.class_names = tf.constant(class_names)
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
        probabilities = view_averaged_probabilities(self.model, views)
        scores, classes = tf.math.top_k(probabilities, k=self.top_k)
        return {
            "probabilities": probabilities,
            "classes": classes,
            "scores": scores,
            "class_names": tf.gather(self.class_names, classes),
        }

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


def write_warmup_requests(version_dir: str, video_config: VideoConfig) -> str:
    """assets.extra/tf_serving_warmup_requests: a PredictionLog of a serving_default request."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = os.path.join(version_dir, "assets.extra", "tf_serving_warmup_requests")
    tf.io.gfile.makedirs(os.path.dirname(path))
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(signature_name="serving_default")
    )
    request.inputs["frames"].CopyFrom(
        tf.make_tensor_proto([warmup_frames(video_config)], tf.string)
    )
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)
    )
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(log.SerializeToString())
    return path


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
    num_classes = model.output.shape[-1]
    class_names = class_names or [str(i) for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {num_classes} classes.")
    version = version or _next_version(export_dir)
    final = os.path.join(export_dir, str(version))
    if tf.io.gfile.exists(final):
        raise FileExistsError(f"{final} exists; TF Serving versions are immutable.")
    staging = os.path.join(export_dir, f".tmp-{version}")
    if tf.io.gfile.exists(staging):
        tf.io.gfile.rmtree(staging)
    module = VideoServingModule(float32_copy(model), video_config, crop_size, class_names, top_k)
    signatures = {
        "serving_default": module.serve_frames.get_concrete_function(),
        "serving_clips": module.serve_clips.get_concrete_function(),
    }
    tf.saved_model.save(module, staging, signatures=signatures)
    write_warmup_requests(staging, video_config)
    tf.io.gfile.rename(staging, final)
    return final


def usage_lines(version_dir: str) -> str:
    """Commands to paste: inspect the signatures, serve, classify a video file."""
    model_base = os.path.dirname(os.path.abspath(version_dir))
    name = os.path.basename(model_base)
    return "\n".join(
        [
            f"saved_model_cli show --dir {version_dir} --all",
            f"docker run -p 8501:8501 -v {model_base}:/models/{name} -e MODEL_NAME={name} "
            "tensorflow/serving",
            f"python -m official.predict --model={version_dir} clip.mp4",
        ]
    )


def export_trainer(trainer, export_dir: str, top_k: int = 5) -> str:
    """Exports a video training run's model (with its EMA weights when it has EMA)."""
    config = trainer.config
    names = read_class_names(config.data.data_dir, config.data.num_classes)
    with trainer.averaged_weights():
        path = export_video_model(
            trainer.model,
            export_dir,
            config.video,
            config.data.resolved_eval_image_size,
            names,
            top_k,
        )
    print(usage_lines(path))
    return path
