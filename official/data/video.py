"""tf.data pipeline for clips: SequenceExample shards -> batches of clips (docs/video.md).

    dataset = build_dataset("train", config.data, input_context, video=config.video)

Files are listed, sharded over input pipelines and interleaved by the image pipeline's
`record_dataset` (official/data/pipeline.py), and undecodable training records are skipped and
counted the same way. Temporal sampling follows TF Model Garden's video reader
(official/vision/ops/preprocess_ops_3d.py): training takes num_frames frames every
temporal_stride frames from a random start, looping over videos that are too short, then ONE
random crop (decoded straight from each JPEG) and ONE flip for the whole clip: [T, S, S, 3].
Evaluation takes num_test_clips evenly spaced clips, resizes the short side to min_image_size,
and cuts num_test_crops crops (left/centre/right along the long side):
[views, T, S, S, 3] per video, views = crops x clips (crop-major). The model's softmax is
averaged over the views (`view_averaged_probabilities`, as TF Model Garden's video task does at
inference, official/vision/tasks/video_classification.py `inference_step`). Every shape is static.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from official.configs.config import DataConfig, VideoConfig
from official.data import pipeline, preprocess, seeds, video_record

AUTOTUNE = tf.data.AUTOTUNE


# ---- Frame indices (Model Garden's sample_sequence / sample_linspace_sequence) ---------------
def train_frame_indices(length, num_frames: int, stride: int, offset) -> tf.Tensor:
    """(offset + i * stride) mod length, i < num_frames: a clip that loops over short videos."""
    return tf.math.floormod(offset + tf.range(num_frames) * stride, length)


def random_train_offset(length, num_frames: int, stride: int, seed=None) -> tf.Tensor:
    """Uniform in [0, length - (num_frames - 1) * stride) when the clip fits in the video,
    otherwise in [0, length). `seed`: a stateless seed of shape [2] (None: a fresh one)."""
    span = (num_frames - 1) * stride
    max_offset = tf.where(length > span, length - span, length)
    seed = seeds.random_seed() if seed is None else seed
    return tf.random.stateless_uniform([], seed, maxval=max_offset, dtype=tf.int32)


def eval_frame_indices(length, num_frames: int, stride: int, num_clips: int) -> tf.Tensor:
    """[num_clips, num_frames]: clips starting at int(linspace(0, max(0, length - num_frames *
    stride), num_clips)), looping like training clips; one clip is the centred one, starting at
    max(0, (length - num_frames * stride) // 2)."""
    max_offset = tf.maximum(0, length - num_frames * stride)
    if num_clips == 1:
        offsets = (max_offset // 2)[None]
    else:
        spaced = tf.linspace(0.0, tf.cast(max_offset, tf.float32), num_clips)
        offsets = tf.cast(spaced, tf.int32)
    return tf.math.floormod(offsets[:, None] + tf.range(num_frames)[None] * stride, length)


# ---- Spatial ------------------------------------------------------------------------------------
def frame_shape(frame: tf.Tensor) -> tf.Tensor:
    """[height, width, channels] of an encoded frame, from the JPEG header when it is one."""
    return tf.cond(
        tf.io.is_jpeg(frame),
        lambda: tf.image.extract_jpeg_shape(frame),
        lambda: tf.shape(tf.io.decode_image(frame, channels=3, expand_animations=False)),
    )


def decode_frames(frames: tf.Tensor, window_fn) -> tf.Tensor:
    """Decodes the window of every frame of [T] encoded frames: uint8 [T, h, w, 3]."""
    return tf.map_fn(
        lambda f: preprocess.decode_and_crop(f, window_fn),
        frames,
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
    )


def resize_smallest(frames: tf.Tensor, min_size: int) -> tf.Tensor:
    """Bilinear resize of [T, H, W, 3] so that min(H, W) is min_size (Model Garden's rule:
    each side max(min_size, side * min_size // other side)); unchanged when it already is."""
    height, width = tf.shape(frames)[1], tf.shape(frames)[2]
    out_h = tf.maximum(min_size, height * min_size // width)
    out_w = tf.maximum(min_size, width * min_size // height)
    return tf.cond(
        tf.logical_and(tf.equal(height, out_h), tf.equal(width, out_w)),
        lambda: frames,
        lambda: tf.image.resize(frames, tf.stack([out_h, out_w])),
    )


def crop_offsets(height, width, size: int, num_crops: int) -> list[tuple]:
    """(y, x) of each size x size crop. One crop: the centre. Three: along the long side (the
    height when height >= width) at 0, round(long / 2 - size // 2) and long - size, centred on
    the short side."""
    centre_y, centre_x = (height - size) // 2, (width - size) // 2
    if num_crops == 1:
        return [(centre_y, centre_x)]
    tall = height >= width
    long = tf.where(tall, height, width)
    middle = tf.cast(tf.math.round(tf.cast(long, tf.float32) / 2 - size // 2), tf.int32)
    offsets = []
    for along in (tf.constant(0), middle, long - size):
        offsets.append((tf.where(tall, along, centre_y), tf.where(tall, centre_x, along)))
    return offsets


def train_clip(frames: tf.Tensor, config: DataConfig, video: VideoConfig, seed=None) -> tf.Tensor:
    """[T] encoded frames of one video -> one augmented, normalized clip [T, S, S, 3]. Every
    draw is stateless, from `seed` (shape [2]; None: a fresh one), as for images."""
    size, length = config.image_size, tf.shape(frames)[0]
    seed = seeds.random_seed() if seed is None else seed
    offset_seed, window_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 3)
    )
    offset = random_train_offset(length, video.num_frames, video.temporal_stride, offset_seed)
    clip = tf.gather(
        frames, train_frame_indices(length, video.num_frames, video.temporal_stride, offset)
    )
    # One window for the clip (all frames of a video have the size of the first).
    window = preprocess.random_window(
        frame_shape(clip[0]),
        size,
        area_range=(config.crop_area_min, 1.0),
        aspect_ratio_range=(video.aspect_ratio_min, video.aspect_ratio_max),
        max_attempts=100,
        min_object_covered=min(0.1, config.crop_area_min),
        padding=0,
        seed=window_seed,
    )
    clip = tf.image.resize(decode_frames(clip, lambda shape: window), [size, size])
    if video.random_flip:
        flip = tf.random.stateless_uniform([], flip_seed) < 0.5
        clip = tf.cond(flip, lambda: tf.reverse(clip, axis=[2]), lambda: clip)
    clip = preprocess.normalize(clip, config.dtype)
    clip.set_shape([video.num_frames, size, size, 3])
    return clip


def eval_views(frames: tf.Tensor, size: int, video: VideoConfig, dtype=tf.float32) -> tf.Tensor:
    """One video's encoded [F] (tf.string) or decoded [F, H, W, 3] (0..255) frames -> its
    normalized views [crops * clips, T, size, size, 3]. The export runs this too."""
    length = tf.shape(frames)[0]
    clips = video.num_test_clips
    indices = eval_frame_indices(length, video.num_frames, video.temporal_stride, clips)
    frames = tf.gather(frames, tf.reshape(indices, [-1]))
    if frames.dtype == tf.string:
        frames = decode_frames(frames, lambda shape: (0, 0, shape[0], shape[1]))
    frames = resize_smallest(tf.cast(frames, tf.float32), max(video.min_image_size, size))
    height, width = tf.shape(frames)[1], tf.shape(frames)[2]
    crops = [
        frames[:, y : y + size, x : x + size]
        for y, x in crop_offsets(height, width, size, video.num_test_crops)
    ]
    shape = [len(crops) * clips, video.num_frames, size, size, 3]
    return preprocess.normalize(tf.reshape(tf.stack(crops), shape), dtype)


def view_averaged_probabilities(model, videos: tf.Tensor) -> tf.Tensor:
    """videos [B, V, T, H, W, 3] -> float32 [B, C]: mean over the V views of softmax(model), each
    of a video's num_test_clips x num_test_crops views classified on its own (evaluation and the
    video export)."""
    views = tf.reshape(videos, [-1, *videos.shape[2:]])
    probabilities = tf.nn.softmax(tf.cast(model(views, training=False), tf.float32))
    return tf.reduce_mean(
        tf.reshape(probabilities, [-1, videos.shape[1], probabilities.shape[-1]]), 1
    )


# ---- The pipeline -------------------------------------------------------------------------------
def _sentinel_record(label_offset: int) -> bytes:
    """A one-frame clip labelled SENTINEL_LABEL, appended to every training epoch so that the
    skip counter sees a gap after a bad last record (see pipeline.SkippedRecords)."""
    return video_record.encode_sequence_example(
        [pipeline.sentinel_jpeg()], pipeline.SENTINEL_LABEL + label_offset
    )


def build_dataset(
    split: str,
    config: DataConfig,
    input_context: tf.distribute.InputContext | None = None,
    *,
    video: VideoConfig,
    training: bool | None = None,
    repeat: bool | None = None,
    drop_remainder: bool | None = None,
    skipped: pipeline.SkippedRecords | None = None,
    pad: bool = False,
) -> tf.data.Dataset:
    """Batches of (clips, labels) for one input pipeline; pipeline.build_dataset's contract
    (pad: evaluation padded with masked examples, every batch full).

    Training clips are [B, T, S, S, 3] at data.image_size; evaluation yields every view of a
    video together, [B, views, T, S, S, 3] at data.eval_image_size. Labels are int32.
    """
    training = split == config.train_split if training is None else training
    repeat = training if repeat is None else repeat
    global_batch = config.train_batch_size if training else config.eval_batch_size
    batch_size = (
        input_context.get_per_replica_batch_size(global_batch) if input_context else global_batch
    )
    dtype = tf.as_dtype(config.dtype)

    base = seeds.base_seed(config.seed)
    pipeline_id = input_context.input_pipeline_id if input_context else 0

    def to_example(record, index=None):  # training passes the clip's index, for its seed
        example = video_record.parse_sequence_example(record, config.label_offset)
        if training:
            seed = seeds.example_seed(base, pipeline_id, index)
            clip = train_clip(example["frames"], config, video, seed)
        else:
            clip = eval_views(example["frames"], config.resolved_eval_image_size, video, dtype)
        return clip, example["label"]

    dataset = pipeline.record_dataset(split, config, input_context, training)
    if not training and config.num_eval_images:  # the first num_eval_images videos
        dataset = dataset.take(pipeline._pipeline_share(config.num_eval_images, input_context))
    if config.cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(config.shuffle_buffer, seed=config.seed)
        sentinel = _sentinel_record(config.label_offset)
        dataset = dataset.concatenate(tf.data.Dataset.from_tensors(sentinel))
    if repeat:
        dataset = dataset.repeat()
    if training:
        dataset = (skipped or pipeline.SkippedRecords()).decode(
            dataset.enumerate(), lambda i, r: to_example(r, i), chunk=1
        )
        dataset = dataset.filter(lambda clip, label: label != pipeline.SENTINEL_LABEL)
    else:
        dataset = dataset.map(to_example, num_parallel_calls=AUTOTUNE, deterministic=True)
        if pad:
            dataset = pipeline.padded(dataset)
    drop_remainder = training or pad if drop_remainder is None else drop_remainder
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)


def dataset_builder(video: VideoConfig):
    """build_dataset with the video settings bound: pipeline.build_dataset's signature."""
    return functools.partial(build_dataset, video=video)
