"""Convert videos (or folders of frames) into sharded clip TFRecords (docs/video.md).

Layout: <input_dir>/<split>/<class>/<item>, the classes being the sub-folders of the first
split; an item is a video file (any container and codec FFmpeg reads, decoded with PyAV) or a
folder of frames (image files in natural name order).

    python -m official.data.build_video_tfrecords --input_dir=/data/k400_raw \
        --output_dir=/data/k400 --fps=25 --short_side=256

Writes <split>-NNNNN-of-MMMMM shards of SequenceExamples (JPEG frames in `image/encoded`,
0-based `clip/label/index`, `clip/label/text`; official/data/video_record.py), labels.json and
dataset.json (class names and clips per split, which training reads:
official/data/dataset_record.py). A split gets one shard per 20 clips (about 140 MB for
10 s clips at 25 fps: see CLIPS_PER_SHARD), at most 1024 (train) / 128, unless --train_shards /
--validation_shards say.
Videos are resampled to --fps (0 keeps the source's frames; frame folders are kept as they
are) and resized to a short side of --short_side. A file that is empty, truncated or not a
video, or a folder with an undecodable frame, is skipped and listed with its reason; the run
fails only when nothing could be read.
"""

from __future__ import annotations

import collections
import functools
import os
import sys

from absl import flags

from official.console import program, quiet_start
from official.data import shard_writer, video_files


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
    flags.DEFINE_integer(
        "train_shards",
        None,
        f"Shards for the train split (default: one per {CLIPS_PER_SHARD} clips).",
    )
    flags.DEFINE_integer(
        "validation_shards",
        None,
        f"Shards for every other split (default: one per {CLIPS_PER_SHARD} clips).",
    )
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Processes decoding videos.")
    flags.DEFINE_integer("seed", 0, "Seed of the train order (shards mix classes).")


# An estimate, not measured on Kinetics: a frame at short side 256, JPEG quality 90 is ~28 KB
# (scikit-image's photos), so a 10 s clip at 25 fps is ~7 MB and 20 clips ~140 MB.
CLIPS_PER_SHARD = 20


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
    if os.path.isdir(path):
        return video_files.read_frames_folder(path, short_side, quality)[0]
    return video_files.read_video(path, fps, short_side, quality)[0]


def encode_clip(
    path: str, label: int, text: str, *, fps: float, short_side: int, quality: int
) -> bytes:
    """One video or frame folder as a serialized SequenceExample (0-based label)."""
    from official.data import video_record  # in a worker, after quiet_start imported TensorFlow

    frames = read_item(path, fps, short_side, quality)
    return video_record.encode_sequence_example(
        frames, label, text=text, media_id=os.path.basename(path)
    )


def summarize(failures: list[tuple[str, str]]) -> str:
    """'skipped N: k x reason, ...' then one line per skipped item."""
    reasons = collections.Counter(reason.split(" (")[0] for _, reason in failures)
    lines = [f"skipped {len(failures)}: " + "; ".join(f"{n} x {r}" for r, n in reasons.items())]
    lines += [f"  {path}: {reason}" for path, reason in failures]
    return "\n".join(lines)


def main(argv):
    del argv
    quiet_start.import_tensorflow()
    from official.data import video_record

    FLAGS = flags.FLAGS
    classes, splits = shard_writer.scan_tree(
        FLAGS.input_dir,
        FLAGS.splits,
        lambda _split, folder, classes: scan_split(folder, classes),
        FLAGS.seed,
    )
    encode = functools.partial(
        encode_clip, fps=FLAGS.fps, short_side=FLAGS.short_side, quality=FLAGS.jpeg_quality
    )
    try:
        written, failures = shard_writer.convert(
            splits,
            classes,
            FLAGS.output_dir,
            encode,
            (video_files.NotAVideoError, OSError),
            train_shards=FLAGS.train_shards,
            validation_shards=FLAGS.validation_shards,
            label_offset=video_record.LABEL_OFFSET,
            items_per_shard=CLIPS_PER_SHARD,
            num_workers=FLAGS.num_workers,
            unit="video",
        )
    except shard_writer.ConversionFailed as e:  # one line, as the image converter says it
        print(
            f"error: the conversion stopped at {e}; nothing of it was left in {FLAGS.output_dir}.",
            file=sys.stderr,
        )
        sys.exit(1)
    counts = ", ".join(f"{split} {n}" for split, n in written.items())
    print(f"wrote {counts} clips of {len(classes)} classes to {FLAGS.output_dir}")
    if failures:
        print(summarize(failures))
    if sum(written.values()) == 0:
        print("error: no video could be read", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    define_flags()
    program.run(main)
