"""sample_video end to end on a tiny clip set: one device and 2 mirrored devices, multi-view
evaluation against NumPy, a killed `train.py --config=sample_video` resumed, and its export
answering a clip (docs/video.md)."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest
import tensorflow as tf

from official.configs import overrides, recipes
from official.data import tfrecord, video, video_files, video_record, video_samples
from official.serving import predictor
from official.training import loop
from official.training.runtime import get_strategy

# Whole train.py runs of the clip recipe: CI runs these, the development subset leaves them out.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 120 clips: 96 train, 24 validation; batch 16 -> 6 steps an epoch.
SMALL = {"train.steps_per_loop": 3, "data.train_batch_size": 16, "data.eval_batch_size": 8}
# Evaluation only at the end (train_and_eval always evaluates after the last step).
SMALL.update(
    {"train.num_train_images": 96, "train.eval_every_epochs": None, "train.eval_every_steps": 99}
)


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory):
    return video_samples.build(str(tmp_path_factory.mktemp("clips") / "moving"), num_clips=120)


def _config(data_dir, **extra):
    config = recipes.get("sample_video")
    config.data.data_dir = data_dir
    return overrides.apply_overrides(config, {**SMALL, "train.epochs": 1.0, **extra})


def _numpy_eval(trainer):
    """Top-1 from NumPy: softmax of the model on every view of every validation video on its
    own, averaged per video."""
    config = trainer.config
    dataset = video.build_dataset(config.data.eval_split, config.data, video=config.video)
    top1, count, probabilities = 0, 0, []
    with trainer.averaged_weights():
        for views, labels in dataset:
            logits = np.stack([np.asarray(trainer.model(v, training=False)) for v in views])
            soft = np.exp(logits - logits.max(-1, keepdims=True))
            soft /= soft.sum(-1, keepdims=True)
            mean = soft.mean(axis=1)  # over the 2 clips x 3 crops
            top1 += int(np.sum(mean.argmax(-1) == labels.numpy()))
            count += len(labels)
            ours = video.view_averaged_probabilities(trainer.model, views)
            probabilities.append((np.asarray(ours), mean))
    return top1 / count, count, probabilities


def test_sample_video_trains_on_two_mirrored_devices_and_multi_view_eval_equals_numpy(
    clips_dir, tmp_path
):
    """(The `cpu` strategy trains in the train.py test below.)"""
    # All 24 validation videos in one global batch (12 per replica): one NumPy pass.
    config = _config(clips_dir, **{"runtime.strategy": "mirrored", "data.eval_batch_size": 24})
    trainer = loop.Trainer(config, get_strategy("mirrored"), str(tmp_path / "run"))
    assert trainer.strategy.num_replicas_in_sync == 2
    results = loop.train(trainer, None)
    assert trainer.step == 6 and np.isfinite(results["train_loss"])
    assert results["skipped_records"] == 0

    metrics = trainer.evaluate(loop.distributed_datasets(trainer, False))
    assert trainer.config.video.num_test_views == 6
    top1, count, probabilities = _numpy_eval(trainer)
    assert metrics["examples"] == count == 24
    assert metrics["top1"] == pytest.approx(top1)
    for ours, reference in probabilities:
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6)


def _train_cmd(model_dir, data_dir, epochs):
    override = json.dumps({**SMALL, "train.epochs": epochs})
    return [
        sys.executable,
        os.path.join(ROOT, "official", "train.py"),
        "--config=sample_video",
        f"--data_dir={data_dir}",
        f"--model_dir={model_dir}",
        f"--params_override={override}",
    ]


def _write_video(path, frames, fps=10):
    """An MPEG-4 video in an AVI container, written with PyAV's encoder."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width, stream.pix_fmt = *frames.shape[1:3], "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_killed_sample_video_run_resumes_then_exports_a_model_that_answers_clips(
    clips_dir, tmp_path
):
    model_dir = tmp_path / "run"
    cmd = _train_cmd(model_dir, clips_dir, 2)  # 12 steps, a checkpoint every 3
    proc = subprocess.Popen(cmd + ["--mode=train"], cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and tf.train.latest_checkpoint(str(model_dir)) is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    killed_at = int(tf.train.latest_checkpoint(str(model_dir)).rsplit("-", 1)[1])
    assert 0 < killed_at < 12

    resumed = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"at step {killed_at}" in resumed.stderr
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-12")
    top1 = float(re.search(r"validation top-1 ([\d.]+)", resumed.stdout).group(1))
    assert 0.0 <= top1 <= 1.0 and "on 24 videos " in resumed.stdout

    export_dir = model_dir / "export" / "1"
    served = tf.saved_model.load(str(export_dir))
    shard = tf.io.gfile.glob(os.path.join(clips_dir, tfrecord.file_pattern("validation")))[0]
    example = video_record.parse_sequence_example(next(iter(tf.data.TFRecordDataset(shard))))
    frames = example["frames"]
    out = served.signatures["serving_default"](frames=frames[None])
    assert out["probabilities"].shape == (1, 8) and out["class_names"].shape == (1, 5)
    names = tfrecord.read_labels(os.path.join(clips_dir, tfrecord.LABELS_FILE))
    top = int(np.argmax(out["probabilities"][0]))
    assert out["class_names"][0, 0].numpy().decode() == names[top]

    # The same answer from the decoded frames, and from the run's weights on the eval views.
    decoded = tf.cast(
        tf.map_fn(tf.io.decode_jpeg, frames, fn_output_signature=tf.uint8), tf.float32
    )
    by_clips = served.signatures["serving_clips"](clips=decoded[None])
    np.testing.assert_allclose(by_clips["probabilities"], out["probabilities"], atol=1e-5)
    from official import models

    config = overrides.load_config(str(model_dir / "params.yaml"))
    model = models.get(config.model.name, num_classes=8, **config.model.kwargs)
    model.load_weights(str(model_dir / "model.weights.h5"))  # the EMA weights, as exported
    views = video.eval_views(frames, 32, config.video)[None]
    expected = video.view_averaged_probabilities(model, views)
    np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-4, atol=1e-5)

    # official.predict on a video file: PyAV decodes it, the export answers.
    video_path = tmp_path / "clip.avi"
    _write_video(video_path, decoded.numpy().astype(np.uint8))
    from_file = video_files.read_video(str(video_path))[0]
    assert len(from_file) == len(frames)
    expected = served.signatures["serving_default"](frames=tf.constant([from_file]))
    top = predictor.classify_file(
        predictor.Classifier(str(export_dir), 3, 0, None), str(video_path)
    )
    names = [n.decode() for n in expected["class_names"][0, :3].numpy()]
    assert [n for n, _ in top] == names
    np.testing.assert_allclose([p for _, p in top], expected["scores"][0, :3], rtol=1e-6)

    warmup = export_dir / "assets.extra" / "tf_serving_warmup_requests"
    from tensorflow_serving.apis import prediction_log_pb2

    (raw,) = list(tf.data.TFRecordDataset(str(warmup)))
    request = prediction_log_pb2.PredictionLog.FromString(raw.numpy()).predict_log.request
    warm_frames = tf.make_ndarray(request.inputs["frames"])
    assert request.model_spec.signature_name == "serving_default"
    assert warm_frames.shape == (1, (8 - 1) * 2 + 1)
    answer = served.signatures["serving_default"](frames=tf.constant(warm_frames))
    np.testing.assert_allclose(np.sum(answer["probabilities"]), 1.0, rtol=1e-5)
