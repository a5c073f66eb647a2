"""The clip converter on real videos written with PyAV's own encoder, frame folders and broken
files; frame-rate resampling against a hand computation."""

import os
import subprocess
import sys

import av
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from official.data import dataset_record, tfrecord, video_files, video_record

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write_video(path, num_frames, fps, height=36, width=48):
    """An MPEG-4 video whose frame t is a bright bar at column 2 t on a grey ramp."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(num_frames):
            image = np.tile(
                np.linspace(0, 200, width, dtype=np.uint8)[None, :, None], (height, 1, 3)
            )
            image[:, 2 * t % width] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize(
    "fps,expected",
    [
        (5, [0, 2, 4, 6, 8]),  # 10 frames at 10 fps last 1 s: 5 frames at 5 fps, the even ones
        (20, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]),
        (10, list(range(10))),
        (0, list(range(10))),  # 0: every frame
    ],
)
def test_resample_picks_the_latest_frame_at_each_target_time(fps, expected):
    frames = [(1.5 + i / 10, i) for i in range(10)]  # timestamps need not start at 0
    assert list(video_files.resample(frames, fps)) == expected


def test_resample_irregular_timestamps():
    # Frames at 0, 0.1, 0.5, 0.6 s (a gap); at 10 fps the gap repeats frame 1: targets 0 .. 0.6.
    frames = [(0.0, "a"), (0.1, "b"), (0.5, "c"), (0.6, "d")]
    assert list(video_files.resample(frames, 10)) == ["a", "b", "b", "b", "b", "c", "d"]


def _read(output_dir, split):
    pattern = str(output_dir / tfrecord.file_pattern(split))
    out = {}
    for record in tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern))):
        parsed = video_record.parse_sequence_example(record)
        example = tf.train.SequenceExample.FromString(record.numpy())
        name = example.context.feature[video_record.MEDIA_ID_KEY].bytes_list.value[0].decode()
        first = tf.io.decode_jpeg(parsed["frames"][0]).numpy()
        out[name] = (int(parsed["label"]), parsed["text"].numpy().decode(), len(parsed["frames"]))
        out[name] += (first.shape,)
    return out


@pytest.mark.slow
def test_converter_writes_good_videos_and_skips_broken_ones_with_reasons(tmp_path):
    raw = tmp_path / "raw"
    for folder in ("train/jump", "train/run", "validation/jump", "train/run/frames_clip"):
        (raw / folder).mkdir(parents=True)
    _write_video(raw / "train/jump/a.mp4", 10, 10)  # 1.0 s
    _write_video(raw / "train/jump/b.avi", 15, 10)  # 1.5 s (AVI container)
    _write_video(raw / "train/run/c.mp4", 8, 5)  # 1.6 s at 5 fps
    _write_video(raw / "validation/jump/d.mp4", 12, 24)  # 0.5 s at 24 fps
    for t in range(6):  # a folder of frames, names in natural order (frame_10 after frame_9)
        frame = np.full((30, 40, 3), 40 * t, np.uint8)
        Image.fromarray(frame).save(raw / f"train/run/frames_clip/frame_{t * 5}.png")
    good = (raw / "train/jump/a.mp4").read_bytes()
    (raw / "train/run/empty.mp4").write_bytes(b"")
    (raw / "train/run/truncated.mp4").write_bytes(good[: len(good) // 2])
    (raw / "train/jump/notes.mp4").write_text("a text file, not a video\n" * 20)

    classes = ["jump", "run"]
    command = [
        sys.executable,
        "-m",
        "official.data.build_video_tfrecords",
        f"--input_dir={raw}",
        f"--output_dir={tmp_path / 'out'}",
        "--fps=10",
        "--short_side=24",
        "--train_shards=2",
        "--validation_shards=1",
        "--num_workers=1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == f"wrote train 4, validation 1 clips of 2 classes to {tmp_path / 'out'}"
    # Frames at 10 fps: duration x 10; the frame folder keeps its 6 frames. Short side 24:
    # 36 x 48 -> 24 x 32, 30 x 40 -> 24 x 32.
    assert _read(tmp_path / "out", "train") == {
        "a.mp4": (0, "jump", 10, (24, 32, 3)),
        "b.avi": (0, "jump", 15, (24, 32, 3)),
        "c.mp4": (1, "run", 16, (24, 32, 3)),
        "frames_clip": (1, "run", 6, (24, 32, 3)),
    }
    assert _read(tmp_path / "out", "validation") == {"d.mp4": (0, "jump", 5, (24, 32, 3))}
    assert tfrecord.read_labels(str(tmp_path / "out" / tfrecord.LABELS_FILE)) == classes
    record = dataset_record.read(str(tmp_path / "out"))
    assert (record.classes, record.label_offset) == (classes, 0)  # clip labels are 0-based
    assert record.examples == {"train": 4, "validation": 1}

    # "skipped 3: <count> x <reason>; ..." then "  <path>: <reason>" for each.
    reasons = dict(line.strip().split(": ", 1) for line in lines[2:])
    reasons = {path.rsplit("/", 1)[1]: reason for path, reason in reasons.items()}
    assert reasons.keys() == {"empty.mp4", "truncated.mp4", "notes.mp4"}
    assert reasons["empty.mp4"].startswith("InvalidDataError")
    assert reasons["notes.mp4"].startswith("InvalidDataError")
    # Half an MP4: FFmpeg finds the header broken, or no stream index (it sits at the end).
    assert reasons["truncated.mp4"].startswith(("InvalidDataError", "no video stream"))
    invalid = sum(r.startswith("InvalidDataError") for r in reasons.values())
    assert lines[1].startswith(f"skipped 3: {invalid} x InvalidDataError") and len(lines) == 5


def test_frame_order_and_a_broken_frame_rejects_the_folder(tmp_path):
    for t in (0, 2, 10):
        Image.fromarray(np.full((8, 8, 3), 20 * t, np.uint8)).save(tmp_path / f"f{t}.png")
    frames, height, width = video_files.read_frames_folder(str(tmp_path), short_side=0)
    means = [tf.io.decode_jpeg(f).numpy().mean() for f in frames]
    assert (height, width) == (8, 8) and np.allclose(means, [0, 40, 200], atol=2)
    (tmp_path / "f5.png").write_bytes(b"broken")
    with pytest.raises(video_files.NotAVideoError, match="frame f5.png is not a decodable"):
        video_files.read_frames_folder(str(tmp_path))
