"""Images/second per CPU core of the ResNet-RS training input pipeline (docs/REFERENCE.md §2.2) at
224.

Real photos shipped with scikit-image are re-encoded as JPEGs of ImageNet-like sizes (about
500x375, and larger) and held in memory; tf.data runs the per-image work synchronously with one
op thread, so the figures are per core. Variants, timed in alternating rounds:
  fused            decode_and_crop_jpeg + bicubic resize + flip    (what the pipeline does)
  full+slice       decode_jpeg of the whole image, then slice      (the same crop, unfused)
  fused official   fused with preprocessing='official_tpu'         (TF1 resize_bicubic)
  fused+RA pil     fused, then RandAugment N=2, M=10, variant 'pil' (the earlier semantics)
  fused+RA tpu     fused, then RandAugment N=2, M=10, variant 'official_tpu'
  RA pil, RA tpu   RandAugment alone on the 30 crops held in memory (less noise from decoding)
and, paired call by call, the four ops whose arithmetic differs between pil and official_tpu
(the other twelve run the same code).
Prints the median images/second and CPU milliseconds per image, the fused/full ratio, the share
of time RandAugment adds and the milliseconds per image each RandAugment variant costs, by the
wall clock and by CPU time (official_tpu's target: no more than pil's, today's semantics).

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

from benchmarks import sample_photos  # noqa: E402
from official.data import preprocess, randaugment, video, video_record  # noqa: E402
from official.training.speed import machine_description  # noqa: E402

SIZES = [(500, 375), (500, 333), (375, 500), (640, 480), (800, 600)]  # ImageNet-like (w, h)


def skimage_data():
    return sample_photos.skimage_data("input_pipeline.py")


def make_jpegs() -> list[bytes]:
    skdata = skimage_data()
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


def pipeline(source, fn, batch_size: int) -> tf.data.Dataset:
    """fn(element, seed) over `source` (JPEG bytes or images), repeated; every element gets its
    own stateless seed, as in training. The map runs synchronously on the thread that asks for a
    batch, with no optimization that computes ahead: the iterators timed in turn do no work in
    the background, so each timing holds exactly its own batches (one op thread: per core)."""
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(source)).repeat().enumerate()
    seed = lambda i: tf.stack([tf.constant(0, tf.int64), i])  # noqa: E731
    dataset = dataset.map(lambda i, b: fn(b, seed(i))).batch(batch_size)
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    options.experimental_optimization.map_parallelization = False
    options.experimental_optimization.map_and_batch_fusion = False
    options.experimental_optimization.inject_prefetch = False
    return dataset.with_options(options)


def images_per_second(iterator, batches: int, batch_size: int) -> tuple[float, float]:
    """(images per wall-clock second, CPU milliseconds per image). The CPU time is the process's
    (every thread's), which a loaded machine inflates far less than the wall-clock time."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(iterator)
    images = batches * batch_size
    return images / (time.perf_counter() - start), (time.process_time() - cpu) * 1e3 / images


def differing_ops(crops: tf.Tensor, rounds: int, calls: int = 20) -> None:
    """Milliseconds per 224x224 image of the ops whose arithmetic differs between the variants,
    the two variants timed alternately, median over rounds."""
    images = tf.unstack(crops[:8])
    for name in ("Posterize", "Solarize", "Contrast", "Sharpness"):
        fns = {}
        for variant in ("pil", "official_tpu"):
            op = randaugment.op_with_magnitude(name, 10, variant)
            fns[variant] = tf.function(lambda op=op: [op(im, 1.0, (0, 0)) for im in images])
            fns[variant]()  # trace
        ms = {v: [] for v in fns}
        for round_ in range(rounds):
            for variant in list(fns) if round_ % 2 == 0 else list(reversed(fns)):
                fn = fns[variant]
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                ms[variant].append((time.perf_counter() - start) * 1e3 / (calls * len(images)))
        pil, tpu = (statistics.median(ms[v]) for v in fns)
        print(f"  {name:10s} pil {pil:.3f} ms, official_tpu {tpu:.3f} ms: ratio {tpu / pil:.3f}")


def image_rows(args) -> None:
    jpegs = make_jpegs()
    size = args.image_size
    crop = preprocess.crop_for_train

    def with_ra(variant):
        def fn(image_bytes, seed):
            ra_seed = tf.random.experimental.stateless_fold_in(seed, 1)
            return randaugment.randaugment(
                crop(image_bytes, size, seed=seed), 2, 10, variant, ra_seed
            )

        return fn

    variants = {
        "fused": lambda b, s: crop(b, size, seed=s),
        "full+slice": lambda b, s: crop(b, size, fused=False, seed=s),
        "fused official": lambda b, s: crop(b, size, seed=s, method="official_tpu"),
        "fused+RA pil": with_ra("pil"),
        "fused+RA tpu": with_ra("official_tpu"),
    }
    iterators = {k: iter(pipeline(jpegs, fn, args.batch_size)) for k, fn in variants.items()}
    crops = tf.stack([crop(tf.constant(b), size, seed=[0, i]) for i, b in enumerate(jpegs)])
    for variant, short in (("pil", "pil"), ("official_tpu", "tpu")):
        augment = lambda im, s, v=variant: randaugment.randaugment(im, 2, 10, v, s)  # noqa: E731
        iterators[f"RA {short}"] = iter(pipeline(crops, augment, args.batch_size))
    for it in iterators.values():  # warm-up: tracing and the first batches
        images_per_second(it, 2, args.batch_size)
    rates = {k: [] for k in iterators}
    cpu_ms = {k: [] for k in iterators}
    for round_ in range(args.rounds):  # every other round in reverse order: no order bias
        names = list(iterators) if round_ % 2 == 0 else list(reversed(iterators))
        for name in names:
            rate, ms = images_per_second(iterators[name], args.batches, args.batch_size)
            rates[name].append(rate)
            cpu_ms[name].append(ms)

    mean_pixels = np.mean([w * h for w, h in SIZES])
    print(
        f"tensorflow {tf.__version__}; one tf.data thread; {len(jpegs)} JPEGs of "
        f"{len(SIZES)} sizes (mean {mean_pixels / 1e3:.0f} kpixels); output {size}x{size}, "
        f"batch {args.batch_size}; {args.rounds} rounds x {args.batches} batches"
    )
    median = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {name: statistics.median(values) for name, values in cpu_ms.items()}
    for name, values in rates.items():
        print(
            f"{name:15s} {median[name]:8.1f} img/s/core (min {min(values):.1f}, "
            f"max {max(values):.1f}); CPU {cpu[name]:.3f} ms/image"
        )
    print(f"ratio fused / full+slice: {median['fused'] / median['full+slice']:.3f}")
    print(f"ratio fused official / fused: {median['fused official'] / median['fused']:.3f}")
    for label, table in (("wall", {k: 1e3 / v for k, v in median.items()}), ("CPU", cpu)):
        added = {v: table[f"fused+RA {v}"] - table["fused"] for v in ("pil", "tpu")}
        alone = {v: table[f"RA {v}"] for v in ("pil", "tpu")}
        for how, ms in (("fused+RA - fused", added), ("alone", alone)):
            print(
                f"RandAugment N=2 M=10, {label} ms/image ({how}): pil (today's) {ms['pil']:.3f}, "
                f"official_tpu {ms['tpu']:.3f}; official_tpu / pil = "
                f"{ms['tpu'] / ms['pil']:.3f} (target <= 1)"
            )
    paired = [t / p for t, p in zip(cpu_ms["RA tpu"], cpu_ms["RA pil"], strict=True)]
    print(
        f"RandAugment alone, official_tpu / pil CPU time, median of the per-round ratios "
        f"(each pair timed back to back): {statistics.median(paired):.3f} (target <= 1)"
    )
    print(
        f"RandAugment (official_tpu) share of the time per image: "
        f"{1 - median['fused+RA tpu'] / median['fused']:.3f} (target <= 0.50)"
    )
    print("ops that differ, m=10, ms per 224x224 image (median of alternating rounds):")
    differing_ops(crops, args.rounds)


# ---- Video --------------------------------------------------------------------------------------
def make_video_records(num_videos: int = 6, num_frames: int = 80) -> list[bytes]:
    """SequenceExamples of 256x340 JPEG frames (quality 90): each photo sliding 3 px a frame."""
    skdata = skimage_data()
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
        return lambda record, seed: tf.reduce_sum(tf.cast(fn(record), tf.float32))

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
            rates[name].append(images_per_second(it, args.video_batches, batch)[0])
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
    skimage_data()  # before any work
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
