"""The bundled clip set: scikit-learn's digits moving on a torus; the label is the direction.

Each of the 1,797 8x8 digit images (they ship inside the scikit-learn wheel, nothing downloads)
becomes one clip of FRAMES frames of HEIGHT x WIDTH pixels: the digit, upscaled to 16x16,
starts at a random position and moves one pixel per frame in one of 8 directions, wrapping
around the edges. Wrapping makes the digit's position uniform in every frame whatever the
direction, so no single frame tells the label: only motion does (chance is 1/8). Frames are
JPEGs in clip TFRecords (official/data/video_record.py); every fifth clip goes to validation.
"""

from __future__ import annotations

import os

import numpy as np

from official.data import shard_writer, video_files, video_record

# (dy, dx) per frame; image rows grow downwards.
DIRECTIONS = {
    "right": (0, 1),
    "up-right": (-1, 1),
    "up": (-1, 0),
    "up-left": (-1, -1),
    "left": (0, -1),
    "down-left": (1, -1),
    "down": (1, 0),
    "down-right": (1, 1),
}
CLASS_NAMES = list(DIRECTIONS)
NUM_CLASSES = len(CLASS_NAMES)
FRAMES, HEIGHT, WIDTH = 20, 32, 40
DIGIT_SIZE = 16
SHARDS = {"train": 4, "validation": 2}


def default_dir() -> str:
    root = os.environ.get("OFFICIAL_DATA_CACHE", os.path.join(os.path.expanduser("~"), ".cache"))
    return os.path.join(root, "resnet_family", "moving_digits_tfrecords")


def make_clip(digit_8x8: np.ndarray, direction: str, start: tuple[int, int]) -> np.ndarray:
    """uint8 [FRAMES, HEIGHT, WIDTH, 3]: the digit at `start` (top-left, y x) in frame 0, moved
    by DIRECTIONS[direction] pixels every frame on a torus."""
    scale = DIGIT_SIZE // digit_8x8.shape[0]
    digit = np.kron(digit_8x8 * (255.0 / 16.0), np.ones((scale, scale)))
    canvas = np.zeros((HEIGHT, WIDTH))
    canvas[:DIGIT_SIZE, :DIGIT_SIZE] = digit
    dy, dx = DIRECTIONS[direction]
    frames = [
        np.roll(canvas, (start[0] + t * dy, start[1] + t * dx), axis=(0, 1)) for t in range(FRAMES)
    ]
    grey = np.clip(np.round(np.stack(frames)), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def _splits(num_clips: int | None, seed: int) -> dict[str, list[bytes]]:
    """Serialized clips per split: every fifth goes to validation."""
    from sklearn.datasets import load_digits  # the images ship in the wheel; nothing downloads

    digits = load_digits().images[:num_clips]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, size=len(digits))
    starts = np.stack(
        [rng.integers(0, HEIGHT, size=len(digits)), rng.integers(0, WIDTH, size=len(digits))], 1
    )
    splits = {"train": [], "validation": []}
    for index, (image, label, start) in enumerate(zip(digits, labels, starts, strict=True)):
        clip = make_clip(image, CLASS_NAMES[label], tuple(start))
        record = video_record.encode_sequence_example(
            [video_files.encode_jpeg(frame, quality=95) for frame in clip],
            int(label),
            text=CLASS_NAMES[label],
            media_id=f"moving_digit_{index:04d}",
        )
        splits["validation" if index % 5 == 0 else "train"].append(record)
    return splits


def build(output_dir: str | None = None, num_clips: int | None = None, seed: int = 0) -> str:
    """Writes the clip set once (atomically) and returns its directory. `num_clips` keeps the
    first that many digits (tests); the default uses all 1,797."""
    return shard_writer.write_sample_set(
        output_dir or default_dir(), lambda: _splits(num_clips, seed), SHARDS, CLASS_NAMES
    )
