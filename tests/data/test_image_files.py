"""official/data/image_files.py: what the converter does with one file's bytes."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from official.data.image_files import NotAnImageError, to_rgb_jpeg


def _png(width: int, height: int, claimed: tuple[int, int] | None = None) -> bytes:
    """A real PNG; with `claimed`, its header says that size instead (the CRC fixed), as a
    20,000 x 20,000 scan would, without this test allocating 1.2 GB to make one."""
    out = io.BytesIO()
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    if claimed:
        # IHDR: 8-byte signature, 4-byte length, b"IHDR", width, height, ..., CRC over type+data.
        data[16:24] = struct.pack(">II", *claimed)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_a_png_becomes_an_rgb_jpeg_of_its_size():
    jpeg, height, width = to_rgb_jpeg(_png(20, 12))
    assert (height, width) == (12, 20)
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG"


def test_an_oversized_image_is_refused_from_its_header_with_its_size():
    with pytest.raises(NotAnImageError, match="too large to convert: Image size \\(400000000"):
        to_rgb_jpeg(_png(8, 8, claimed=(20_000, 20_000)))


def test_any_decoder_failure_is_a_not_an_image_error():
    # A PNG cut inside its image data: Pillow raises OSError on load.
    data = _png(64, 64)
    with pytest.raises(NotAnImageError, match="damaged image data"):
        to_rgb_jpeg(data[: len(data) // 2])
    with pytest.raises(NotAnImageError, match="no image format"):
        to_rgb_jpeg(b"not an image")
