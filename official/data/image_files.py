"""Reading image files for the converter: any format Pillow reads becomes RGB JPEG bytes."""

from __future__ import annotations

import io
import re

from PIL import Image, UnidentifiedImageError

JPEG_QUALITY = 95
# The largest image the converter decodes is Pillow's own limit, 2 x PIL.Image.MAX_IMAGE_PIXELS
# (about 179 Mpixels, 13,400 x 13,400), checked from the header before any pixel is decoded.
# Larger files (a 20,000 x 20,000 scan, a decompression bomb) are skipped and listed like
# undecodable ones: decoding one takes gigabytes in each converter worker, for a network that
# sees 224 x 224 crops. Resize such files first to keep them.
# What a folder of unlabeled images is searched for (official/pseudo_label.py).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")


class NotAnImageError(ValueError):
    """The file is not an image Pillow can decode."""


def to_rgb_jpeg(data: bytes) -> tuple[bytes, int, int]:
    """(JPEG bytes, height, width). RGB JPEGs are kept byte for byte; PNG, GIF, BMP, CMYK or
    grayscale images are converted to RGB and re-encoded (quality 95)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every pixel: truncated files fail here, not in training
            if image.format == "JPEG" and image.mode == "RGB":
                return data, image.height, image.width
            rgb = image.convert("RGB")
    except UnidentifiedImageError as e:
        # Pillow's message names its BytesIO object ("cannot identify image file <_io...>").
        raise NotAnImageError("no image format Pillow reads (JPEG, PNG, GIF, BMP...)") from e
    except MemoryError:  # the machine, not the file: a converter worker must stop, not skip
        raise
    except Image.DecompressionBombError as e:
        raise NotAnImageError(f"too large to convert: {e} Resize it first.") from e
    except Exception as e:  # whatever the decoder raises: the file is listed and skipped
        text = re.sub(r"\s*<[^>]* object at 0x[0-9a-f]+>", "", str(e)).strip()
        raise NotAnImageError(f"damaged image data: {text or type(e).__name__}") from e
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue(), rgb.height, rgb.width
