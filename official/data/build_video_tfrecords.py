"""Convert videos (or folders of frames) into sharded clip TFRecords (docs/video.md).

Layout: <input_dir>/<split>/<class>/<item>, the classes being the sub-folders of the first
split; an item is a video file (any container and codec FFmpeg reads, decoded with PyAV) or a
folder of frames (image files in natural name order).

    python -m official.data.build_video_tfrecords --input_dir=/data/k400_raw \
        --output_dir=/data/k400 --fps=25 --short_side=256

Writes <split>-NNNNN-of-MMMMM shards of SequenceExamples (JPEG frames in `image/encoded`,
0-based `clip/label/index`, `clip/label/text`; official/data/video_record.py) and labels.json.
Videos are resampled to --fps (0 keeps the source's frames; frame folders are kept as they
are) and resized to a short side of --short_side. A file that is empty, truncated or not a
video, or a folder with an undecodable frame, is skipped and listed with its reason; the run
fails only when nothing could be read.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import random
import sys

from absl import app, flags


def define_flags() -> None:
    """The CLI's flags, defined only when run as a program (so that importing this module next to
    the image converter, which defines flags of the same names, works)."""
    flags.DEFINE_string(
        "input_dir", None, "Root of the <split>/<class>/<video> tree.", required=True
    )
    flags.DEFINE_string("output_dir", None, "Where the shards and labels.json go.", required=True)
    flags.DEFINE_list(
        "splits", ["train", "validation"], "Split folders to convert (those present)."
    )
    flags.DEFINE_float("fps", 0.0, "Frames per second to keep (0: every frame of the source).")
    flags.DEFINE_integer("short_side", 256, "Frames are resized to this shorter side (0: kept).")
    flags.DEFINE_integer("jpeg_quality", 90, "JPEG quality of the stored frames.")
    flags.DEFINE_integer("train_shards", 1024, "Shards for the train split.")
    flags.DEFINE_integer("validation_shards", 64, "Shards for every other split.")
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Processes decoding videos.")
    flags.DEFINE_integer("seed", 0, "Seed of the train order (shards mix classes).")


def scan_split(split_dir: str, classes: list[str]) -> list[tuple[str, int]]:
    """[(path, class index)] of every file and sub-folder of <split_dir>/<class>/ (hidden ones
    excepted); what is not a video is found out when decoded, and reported."""
    unknown = sorted(
        d
        for d in os.listdir(split_dir)
        if os.path.isdir(os.path.join(split_dir, d)) and d not in classes
    )
    if unknown:
        raise ValueError(f"{split_dir} has class folders absent from the first split: {unknown}")
    items = []
    for index, name in enumerate(classes):
        class_dir = os.path.join(split_dir, name)
        if os.path.isdir(class_dir):
            items += [
                (os.path.join(class_dir, entry), index)
                for entry in sorted(os.listdir(class_dir))
                if not entry.startswith(".")
            ]
    return items


def read_item(path: str, fps: float, short_side: int, quality: int) -> list[bytes]:
    from official.data import video_files

    if os.path.isdir(path):
        return video_files.read_frames_folder(path, short_side, quality)[0]
    return video_files.read_video(path, fps, short_side, quality)[0]


def _write_shard(task):
    """Worker: decode the videos of one shard and write it -> (written, seen, [(path, why)])."""
    from official.console import quiet_start

    quiet_start.import_tensorflow()  # a spawned process imports TensorFlow afresh
    from official.data import tfrecord, video_files, video_record

    path, items, classes, fps, short_side, quality = task
    failures = []

    def records():
        for item, label in items:
            try:
                frames = read_item(item, fps, short_side, quality)
            except (video_files.NotAVideoError, OSError) as e:
                failures.append((item, str(e)))
                continue
            yield video_record.encode_sequence_example(
                frames, label, text=classes[label], media_id=os.path.basename(item)
            )

    written = tfrecord.write_shard(path, records())
    return written, len(items), failures


def convert(
    splits: dict[str, list[tuple[str, int]]],
    classes: list[str],
    output_dir: str,
    shards: dict[str, int],
    *,
    fps: float = 0.0,
    short_side: int = 256,
    quality: int = 90,
    num_workers: int = 1,
    progress: bool = True,
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Writes every split; returns ({split: clips written}, [(path, why it was skipped)])."""
    from official.data import tfrecord

    os.makedirs(output_dir, exist_ok=True)
    tasks = []
    for split, items in splits.items():
        n = max(1, min(shards[split], len(items)))
        for shard in range(n):
            path = os.path.join(output_dir, tfrecord.shard_name(split, shard, n))
            tasks.append((split, (path, items[shard::n], classes, fps, short_side, quality)))
    written, failures = collections.Counter(), []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(len(i) for i in splits.values()), unit="video", file=sys.stderr)
    with contextlib.ExitStack() as stack:
        mapper = map  # one worker: in this process
        if num_workers > 1:
            mapper = stack.enter_context(
                multiprocessing.get_context("spawn").Pool(num_workers)
            ).imap
        results = mapper(_write_shard, [task for _, task in tasks])
        for (split, _), (done, seen, failed) in zip(tasks, results, strict=True):
            written[split] += done
            failures.extend(failed)
            if bar:
                bar.update(seen)
    if bar:
        bar.close()
    tfrecord.write_labels(output_dir, classes)
    return dict(written), sorted(failures)


def summarize(failures: list[tuple[str, str]]) -> str:
    """'skipped N: k x reason, ...' then one line per skipped item."""
    reasons = collections.Counter(reason.split(" (")[0] for _, reason in failures)
    lines = [f"skipped {len(failures)}: " + "; ".join(f"{n} x {r}" for r, n in reasons.items())]
    lines += [f"  {path}: {reason}" for path, reason in failures]
    return "\n".join(lines)


def main(argv):
    del argv
    from official.console import quiet_start

    quiet_start.import_tensorflow()
    FLAGS = flags.FLAGS
    first = os.path.join(FLAGS.input_dir, FLAGS.splits[0])
    if not os.path.isdir(first):
        raise app.UsageError(f"--input_dir has no {FLAGS.splits[0]!r} folder: {first}")
    classes = sorted(d for d in os.listdir(first) if os.path.isdir(os.path.join(first, d)))
    if not classes:
        raise app.UsageError(f"{first} has no class sub-folders.")
    splits = {}
    for split in FLAGS.splits:
        split_dir = os.path.join(FLAGS.input_dir, split)
        if os.path.isdir(split_dir):
            splits[split] = scan_split(split_dir, classes)
            if split == "train":
                random.Random(FLAGS.seed).shuffle(splits[split])
    shards = {s: FLAGS.train_shards if s == "train" else FLAGS.validation_shards for s in splits}
    written, failures = convert(
        splits,
        classes,
        FLAGS.output_dir,
        shards,
        fps=FLAGS.fps,
        short_side=FLAGS.short_side,
        quality=FLAGS.jpeg_quality,
        num_workers=FLAGS.num_workers,
    )
    counts = ", ".join(f"{split} {n}" for split, n in written.items())
    print(f"wrote {counts} clips of {len(classes)} classes to {FLAGS.output_dir}")
    if failures:
        print(summarize(failures))
    if sum(written.values()) == 0:
        print("error: no video could be read", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    define_flags()
    app.run(main)
