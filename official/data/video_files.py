"""Reading videos and frame folders into JPEG frames, for the clip converter and predict.py.

Videos are decoded with PyAV (FFmpeg's libraries, bundled in its wheels; requirements.txt says
why this decoder), resampled to a chosen frame rate and resized so that their short side is
`short_side`; every kept frame is re-encoded as an RGB JPEG.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from official.data.image_files import IMAGE_EXTENSIONS

JPEG_QUALITY = 90
# What predict.py treats as a video file; the converter tries every file in a class folder.
VIDEO_EXTENSIONS = (
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp",
)  # fmt: skip
_EPS = 1e-6


class NotAVideoError(ValueError):
    """The file or folder cannot be read as a video; the message says why."""


def is_video_path(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def resample(frames: Iterable[tuple[float, object]], fps: float) -> Iterator[object]:
    """The frames shown at times 0, 1/fps, 2/fps, ... of a stream of (timestamp, frame).

    Each target time takes the latest frame at or before it (so frames repeat when fps is above
    the source rate and are dropped below it); the stream lasts from its first timestamp to its
    last plus one frame interval. fps <= 0 keeps every frame. 10 frames at 10 fps become 5 at
    5 fps (the even ones) and 20 at 20 fps (each twice).
    """
    if fps <= 0:
        yield from (frame for _, frame in frames)
        return
    k, start, previous, interval = 0, None, None, 1.0 / fps
    for time, frame in frames:
        start = time if start is None else start
        time -= start
        if previous is not None:
            while k / fps < time - _EPS:
                yield previous[1]
                k += 1
            interval = time - previous[0]
        previous = (time, frame)
    if previous is not None:
        end = previous[0] + interval
        while k / fps < end - _EPS:
            yield previous[1]
            k += 1


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) scaled so that the shorter one is `short_side` (0: unchanged)."""
    if short_side <= 0:
        return height, width
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def encode_jpeg(rgb: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def read_video(
    path: str, fps: float = 0.0, short_side: int = 256, quality: int = JPEG_QUALITY
) -> tuple[list[bytes], int, int]:
    """(JPEG frames, height, width) of the first video stream of `path`, at `fps` (0: the
    source's frames). Raises NotAVideoError naming the reason for an empty, truncated or
    non-video file, or one that fails to decode part-way."""
    import av  # imported here: only the converter and predict.py decode videos

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise NotAVideoError("no video stream (not a video, or truncated)")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = float(stream.average_rate or 0) or 25.0

            def timed():
                for index, frame in enumerate(container.decode(stream)):
                    yield (frame.time if frame.time is not None else index / rate), frame

            frames, size, last, data = [], None, None, b""
            for frame in resample(timed(), fps):
                if frame is not last:  # a repeated frame reuses its bytes
                    size = size or short_side_size(frame.height, frame.width, short_side)
                    rgb = frame.to_ndarray(
                        height=size[0], width=size[1], format="rgb24", interpolation="AREA"
                    )
                    data, last = encode_jpeg(rgb, quality), frame
                frames.append(data)
    except av.FFmpegError as e:
        raise NotAVideoError(f"{type(e).__name__}: {e.strerror or e}") from None
    except (OSError, EOFError) as e:
        raise NotAVideoError(str(e) or type(e).__name__) from None
    if not frames:
        raise NotAVideoError("no frames decoded")
    return frames, size[0], size[1]


def _natural_key(name: str):
    """frame_2.jpg before frame_10.jpg."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def read_frames_folder(
    folder: str, short_side: int = 256, quality: int = JPEG_QUALITY
) -> tuple[list[bytes], int, int]:
    """(JPEG frames, height, width) from the image files of `folder` in natural name order, each
    resized so that its short side is `short_side`. One undecodable frame rejects the folder
    (a clip with a hole would teach the wrong motion)."""
    names = sorted(
        (n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)), key=_natural_key
    )
    if not names:
        raise NotAVideoError("folder holds no image files")
    frames, size = [], None
    for name in names:
        try:
            with Image.open(os.path.join(folder, name)) as image:
                rgb = image.convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise NotAVideoError(f"frame {name} is not a decodable image ({e})") from None
        size = size or short_side_size(rgb.height, rgb.width, short_side)
        if (rgb.height, rgb.width) != size:
            rgb = rgb.resize((size[1], size[0]), Image.BICUBIC)
        frames.append(encode_jpeg(np.asarray(rgb), quality))
    return frames, size[0], size[1]
