"""The clip pipeline (official/data/video.py) against hand computations and self-describing
frames: temporal sampling, one crop and one flip per clip, left/centre/right eval crops."""

import numpy as np
import pytest
import tensorflow as tf

from official.configs.config import DataConfig, VideoConfig
from official.data import pipeline, preprocess, tfrecord, video, video_files, video_record


# ---- Frame indices: T=8, s=2, worked out by hand --------------------------------------------
@pytest.mark.parametrize(
    "length,offset,expected",
    [
        (40, 5, [5, 7, 9, 11, 13, 15, 17, 19]),  # long video: no wrap
        (40, 25, [25, 27, 29, 31, 33, 35, 37, 39]),  # the last start that fits (40 - 14 - 1)
        (10, 3, [3, 5, 7, 9, 1, 3, 5, 7]),  # 10 frames < 15 spanned: loops (11 -> 1, 13 -> 3)
        (5, 4, [4, 1, 3, 0, 2, 4, 1, 3]),
    ],
)
def test_train_indices_equal_hand_computation(length, offset, expected):
    indices = video.train_frame_indices(tf.constant(length), 8, 2, tf.constant(offset))
    assert indices.numpy().tolist() == expected


@pytest.mark.parametrize("length,high", [(40, 25), (15, 0), (10, 9)])
def test_train_offsets_cover_exactly_the_starts_that_fit(length, high):
    """A clip spans (8 - 1) * 2 + 1 = 15 frames: starts 0..length-15 when it fits, else any frame
    (Model Garden's sample_sequence)."""
    offsets = {int(video.random_train_offset(tf.constant(length), 8, 2)) for _ in range(300)}
    assert offsets == set(range(high + 1))


@pytest.mark.parametrize(
    "length,clips,expected",
    [
        # linspace(0, 40 - 16, 2) = [0, 24]
        (40, 2, [list(range(0, 16, 2)), list(range(24, 40, 2))]),
        # linspace(0, 24, 3) = [0, 12, 24]
        (40, 3, [list(range(0, 16, 2)), list(range(12, 28, 2)), list(range(24, 40, 2))]),
        # one clip: centred, (40 - 16) // 2 = 12
        (40, 1, [list(range(12, 28, 2))]),
        # linspace(0, 25 - 16, 4) = [0, 3, 6, 9]
        (25, 4, [[o + 2 * i for i in range(8)] for o in (0, 3, 6, 9)]),
        # short: every clip starts at 0 and loops (16 % 10 = 6 ...)
        (10, 2, [[0, 2, 4, 6, 8, 0, 2, 4]] * 2),
    ],
)
def test_eval_indices_equal_hand_computation(length, clips, expected):
    indices = video.eval_frame_indices(tf.constant(length), 8, 2, clips)
    assert indices.numpy().tolist() == expected


# ---- Frames that encode their index and their pixels' positions ---------------------------------
def _frame(t, height, width):
    """R = 4 x, G = 4 y, B = 8 t (t < 32): a crop and a flip are readable from the pixels."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([4 * x, 4 * y, np.full_like(x, 8 * t)], -1).astype(np.uint8)


def _write_video(path, num_frames, height, width, label=3):
    frames = [
        video_files.encode_jpeg(_frame(t, height, width), quality=100) for t in range(num_frames)
    ]
    record = video_record.encode_sequence_example(frames, label, text="three")
    tfrecord.write_shard(str(path), [record])


def _pixels(clip):
    """Normalized float clip -> pixel values."""
    return np.asarray(clip, np.float32) * preprocess.STDDEV_RGB + preprocess.MEAN_RGB


def _data(data_dir, **kwargs):
    base = dict(
        kind="video",
        data_dir=str(data_dir),
        num_classes=5,
        label_offset=0,
        image_size=16,
        eval_image_size=24,
        crop_area_min=0.08,
        train_batch_size=4,
        eval_batch_size=1,
        shuffle_buffer=4,
        augmentation="none",
    )
    return DataConfig(**{**base, **kwargs})


def test_one_window_and_one_flip_for_every_frame_of_a_clip(tmp_path):
    _write_video(tmp_path / tfrecord.shard_name("train", 0, 1), 11, 48, 60)
    config = _data(tmp_path)
    settings = VideoConfig(num_frames=8, temporal_stride=2, aspect_ratio_min=0.5)
    dataset = video.build_dataset("train", config, video=settings)
    flips = []
    for clips, labels in dataset.take(6):  # 24 clips, in tf.data
        assert clips.shape == (4, 8, 16, 16, 3) and labels.numpy().tolist() == [3] * 4
        for clip in _pixels(clips):
            red, green, blue = clip[..., 0], clip[..., 1], clip[..., 2]
            # The same window in every frame (JPEG and bilinear noise: a few levels).
            assert np.abs(red - red[0]).max() < 6 and np.abs(green - green[0]).max() < 6
            # The frame indices: a stride-2 clip from a start that fits, or one that loops.
            index = np.round(blue.mean(axis=(1, 2)) / 8).astype(int)
            assert index.tolist() == ((index[0] + 2 * np.arange(8)) % 11).tolist()
            # x grows left to right, or right to left when the clip is flipped: never mixed.
            slope = np.sign(red[:, :, -1].mean(axis=1) - red[:, :, 0].mean(axis=1))
            assert len(set(slope)) == 1 and slope[0] != 0
            flips.append(slope[0] < 0)
    assert 0 < sum(flips) < len(flips)  # both happen


def test_no_flip_when_the_recipe_turns_it_off(tmp_path):
    _write_video(tmp_path / tfrecord.shard_name("train", 0, 1), 9, 40, 40)
    settings = VideoConfig(num_frames=4, temporal_stride=1, random_flip=False)
    frames = tf.constant(
        [video_files.encode_jpeg(_frame(t, 40, 40), quality=100) for t in range(9)]
    )
    for _ in range(12):  # eagerly, outside tf.data
        red = _pixels(video.train_clip(frames, _data(tmp_path), settings))[..., 0]
        assert np.all(red[:, :, -1].mean(1) > red[:, :, 0].mean(1))


def test_eval_views_are_left_centre_right_crops_of_evenly_spaced_clips(tmp_path):
    # 24 x 40 frames (short side = min_image_size: no resize), crops of 24 along the width.
    _write_video(tmp_path / tfrecord.shard_name("validation", 0, 1), 30, 24, 40)
    settings = VideoConfig(num_frames=8, temporal_stride=2, min_image_size=24, num_test_clips=2)
    dataset = video.build_dataset("validation", _data(tmp_path), video=settings)
    (views, labels), *rest = list(dataset)
    assert not rest and views.shape == (1, 6, 8, 24, 24, 3) and labels.numpy().tolist() == [3]
    pixels = _pixels(views[0])
    # Crop-major: views 0-1 at x = 0, 2-3 at x = round(40 / 2 - 24 // 2) = 8, 4-5 at 40 - 24.
    left_x = np.round(pixels[..., 0].mean(axis=(1, 2, 3)) / 4 - 11.5)  # mean x = left + 11.5
    assert left_x.tolist() == [0, 0, 8, 8, 16, 16]
    # Clips start at linspace(0, 30 - 16, 2) = [0, 14].
    index = np.round(pixels[..., 2].mean(axis=(2, 3)) / 8).astype(int)
    assert index[0].tolist() == list(range(0, 16, 2)) and index[1].tolist() == list(
        range(14, 30, 2)
    )
    assert np.array_equal(index[::2], np.repeat(index[:1], 3, 0))


def test_eval_resizes_the_short_side_first_and_crops_the_centre_of_tall_frames():
    frames = tf.constant(np.stack([_frame(t, 60, 30) for t in range(4)]), tf.float32)
    settings = VideoConfig(num_frames=2, temporal_stride=1, min_image_size=20, num_test_clips=1)
    views = _pixels(video.eval_views(frames, 20, settings))
    # 60 x 30 -> 40 x 20 (bilinear, short side 20: row i samples input row 1.5 i + 0.25); crops
    # of 20 along the height at 0, round(40 / 2 - 10) = 10 and 20: their top rows are input rows
    # 0.25, 15.25 and 30.25 -> G = 4 y = 1, 61, 121.
    assert views.shape == (3, 2, 20, 20, 3)
    np.testing.assert_allclose(views[:, 0, 0, 10, 1], [1.0, 61.0, 121.0], atol=1.0)


def test_the_same_seed_gives_the_same_clips_and_another_seed_others(tmp_path):
    """Offsets, windows and flips are stateless, from data.seed and each clip's index (as for
    images), so however tf.data schedules its parallel decoding the batches repeat."""
    _write_video(tmp_path / tfrecord.shard_name("train", 0, 1), 11, 48, 60)
    settings = VideoConfig(num_frames=4, temporal_stride=2, aspect_ratio_min=0.5)

    def clips(seed):
        config = _data(tmp_path, seed=seed)
        return np.concatenate(
            [c.numpy() for c, _ in video.build_dataset("train", config, video=settings).take(3)]
        )

    first = clips(7)
    np.testing.assert_array_equal(first, clips(7))
    assert not np.array_equal(first, clips(8))
    assert len({clip.tobytes() for clip in first}) > 1  # the clips of one run differ


def test_undecodable_training_records_are_skipped_and_counted(tmp_path):
    good = [video_files.encode_jpeg(_frame(t, 20, 20)) for t in range(4)]
    records = [
        video_record.encode_sequence_example(good, 1),
        video_record.encode_sequence_example([b"not a jpeg"] * 4, 1),
        video_record.encode_sequence_example([], 1),  # no frames
        video_record.encode_sequence_example(good, 2),
    ]
    tfrecord.write_shard(str(tmp_path / tfrecord.shard_name("train", 0, 1)), records)
    skipped = pipeline.SkippedRecords()
    settings = VideoConfig(num_frames=4, temporal_stride=1)
    config = _data(tmp_path, train_batch_size=1, shuffle_buffer=1)
    dataset = video.build_dataset("train", config, video=settings, skipped=skipped, repeat=False)
    labels = [int(y[0]) for _, y in dataset]
    assert sorted(labels) == [1, 2] and skipped.count == 2
