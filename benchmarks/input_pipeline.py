"""Images/second per CPU core of the ResNet-RS training input pipeline (SPEC 2.2) at 224.

Real photos shipped with scikit-image are re-encoded as JPEGs of ImageNet-like sizes (about
500x375, and larger) and held in memory; tf.data runs the per-image work on ONE thread (a
private threadpool of size 1), so the figures are per core. Variants, timed in alternating rounds:
  fused        decode_and_crop_jpeg + bicubic resize + flip    (what the pipeline does)
  full+slice   decode_jpeg of the whole image, then slice      (the same crop, unfused)
  fused+RA     fused, then RandAugment N=2, M=10
Prints the median images/second, the fused/full ratio and the share of time RandAugment adds.

Video row (docs/video.md): the Kinetics recipe's training clips (32 frames at stride 2, one
224x224 crop of area 0.08-1 and aspect 0.5-2, flip) from SequenceExamples of 256x340 JPEG frames
(the photos sliding sideways), on one tf.data thread: clips/s per core, the share of that time
spent decoding (parse, sample, decode-and-crop of the 32 frames, without resize or
normalization), and the 3D ResNet-RS-50 training step (batch 1, SGD) on one core of the same
machine, alternating with the pipeline rounds; the ratio pipeline / model must be >= 1 for one
core of input to keep one core of training fed.

    python benchmarks/input_pipeline.py [--rounds 3] [--batches 6] [--rows image,video]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skdata  # noqa: E402

from official.benchmark import machine_description  # noqa: E402
from official.data import preprocess, randaugment, video, video_record  # noqa: E402

SIZES = [(500, 375), (500, 333), (375, 500), (640, 480), (800, 600)]  # ImageNet-like (w, h)


def make_jpegs() -> list[bytes]:
    photos = [
        skdata.astronaut(),
        skdata.chelsea(),
        skdata.coffee(),
        skdata.rocket(),
        skdata.immunohistochemistry(),
        skdata.hubble_deep_field(),
    ]
    out = []
    for photo in photos:
        for size in SIZES:
            buffer = io.BytesIO()
            Image.fromarray(photo).resize(size, Image.BICUBIC).save(buffer, "JPEG", quality=90)
            out.append(buffer.getvalue())
    return out


def pipeline(jpegs: list[bytes], fn, batch_size: int) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(jpegs)).repeat()
    dataset = dataset.map(fn, num_parallel_calls=1).batch(batch_size)
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    return dataset.with_options(options)


def images_per_second(iterator, batches: int, batch_size: int) -> float:
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def image_rows(args) -> None:
    jpegs = make_jpegs()
    size = args.image_size
    variants = {
        "fused": lambda b: preprocess.crop_for_train(b, size),
        "full+slice": lambda b: preprocess.crop_for_train(b, size, fused=False),
        "fused+RA": lambda b: randaugment.randaugment(preprocess.crop_for_train(b, size), 2, 10),
    }
    iterators = {k: iter(pipeline(jpegs, fn, args.batch_size)) for k, fn in variants.items()}
    for it in iterators.values():  # warm-up: tracing and the first batches
        images_per_second(it, 2, args.batch_size)
    rates = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, it in iterators.items():
            rates[name].append(images_per_second(it, args.batches, args.batch_size))

    mean_pixels = np.mean([w * h for w, h in SIZES])
    print(
        f"tensorflow {tf.__version__}; one tf.data thread; {len(jpegs)} JPEGs of "
        f"{len(SIZES)} sizes (mean {mean_pixels / 1e3:.0f} kpixels); output {size}x{size}, "
        f"batch {args.batch_size}; {args.rounds} rounds x {args.batches} batches"
    )
    for name, values in rates.items():
        print(
            f"{name:12s} {statistics.median(values):8.1f} img/s/core "
            f"(min {min(values):.1f}, max {max(values):.1f})"
        )
    fused = statistics.median(rates["fused"])
    full = statistics.median(rates["full+slice"])
    with_ra = statistics.median(rates["fused+RA"])
    print(f"ratio fused / full+slice: {fused / full:.3f}")
    print(
        f"RandAugment share of the time per image: {1 - with_ra / fused:.3f} "
        f"(target <= 0.50: it may at most halve the throughput)"
    )


# ---- Video --------------------------------------------------------------------------------------
def make_video_records(num_videos: int = 6, num_frames: int = 80) -> list[bytes]:
    """SequenceExamples of 256x340 JPEG frames (quality 90): each photo sliding 3 px a frame."""
    photos = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket()]
    records = []
    for index in range(num_videos):
        photo = np.asarray(Image.fromarray(photos[index % 4]).resize((340, 256), Image.BICUBIC))
        frames = []
        for t in range(num_frames):
            buffer = io.BytesIO()
            Image.fromarray(np.roll(photo, 3 * t, axis=1)).save(buffer, "JPEG", quality=90)
            frames.append(buffer.getvalue())
        records.append(video_record.encode_sequence_example(frames, index))
    return records


def video_rows(args) -> None:
    from official import models
    from official.configs import recipes

    config = recipes.get("resnetrs50_3d_k400")
    data, settings = config.data, config.video
    data.dtype = "float32"  # this CPU trains in float32
    size, frames, stride = data.image_size, settings.num_frames, settings.temporal_stride

    def decode_only(record):
        clip = video_record.parse_sequence_example(record)["frames"]
        length = tf.shape(clip)[0]
        offset = video.random_train_offset(length, frames, stride)
        clip = tf.gather(clip, video.train_frame_indices(length, frames, stride, offset))
        window = preprocess.random_window(
            video.frame_shape(clip[0]),
            size,
            area_range=(data.crop_area_min, 1.0),
            aspect_ratio_range=(settings.aspect_ratio_min, settings.aspect_ratio_max),
            max_attempts=100,
            padding=0,
        )
        return video.decode_frames(clip, lambda shape: window)

    def full(record):
        example = video_record.parse_sequence_example(record)
        return video.train_clip(example["frames"], data, settings)

    records = make_video_records()
    batch = args.video_batch_size

    def summed(fn):  # one scalar per clip: both variants end alike and batch whatever their shape
        return lambda record: tf.reduce_sum(tf.cast(fn(record), tf.float32))

    iterators = {
        name: iter(pipeline(records, summed(fn), batch))
        for name, fn in (("clips", full), ("decode", decode_only))
    }

    model = models.get(
        "resnetrs50_3d", num_classes=400, input_shape=(frames, size, size, 3), **config.model.kwargs
    )
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True)
    clip = tf.random.uniform((1, frames, size, size, 3))
    label = tf.constant([7])

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            logits = model(clip, training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label, logits=logits)
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    for it in iterators.values():
        images_per_second(it, 1, batch)
    float(train_step())  # warm-up: tracing
    rates = {"clips": [], "decode": [], "model": []}
    for _ in range(args.rounds):
        for name, it in iterators.items():
            rates[name].append(images_per_second(it, args.video_batches, batch))
        start = time.perf_counter()
        for _ in range(args.model_steps):
            float(train_step())
        rates["model"].append(args.model_steps / (time.perf_counter() - start))

    median = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"video: {len(records)} SequenceExamples of 80 JPEG frames 256x340; clips of {frames} "
        f"frames (stride {stride}) cropped to {size}x{size}; batch {batch}; {args.rounds} rounds"
    )
    print(
        f"pipeline      {median['clips']:8.3f} clips/s/core "
        f"(min {min(rates['clips']):.3f}, max {max(rates['clips']):.3f})"
    )
    print(f"decoding share of the pipeline's time: {median['clips'] / median['decode']:.3f}")
    print(
        f"model step    {median['model']:8.3f} clips/s/core (resnetrs50_3d, batch 1, SGD; "
        f"min {min(rates['model']):.3f}, max {max(rates['model']):.3f})"
    )
    ratio = median["clips"] / median["model"]
    print(f"ratio pipeline / model step: {ratio:.1f} (target >= 1: one core feeds one core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=6, help="timed batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", default="image,video", help="image, video or both")
    parser.add_argument("--video_batch_size", type=int, default=4)
    parser.add_argument("--video_batches", type=int, default=3, help="timed batches per round")
    parser.add_argument("--model_steps", type=int, default=1, help="timed steps per round")
    args = parser.parse_args()
    # The model step runs on one core like the pipeline (its own one-thread pool).
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    print(machine_description())
    rows = args.rows.split(",")
    if "image" in rows:
        image_rows(args)
    if "video" in rows:
        video_rows(args)


if __name__ == "__main__":
    main()
