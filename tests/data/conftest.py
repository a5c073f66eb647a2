"""Real images for the data tests: scikit-image's sample photos (shipped in its wheel)."""

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from official.data import tfrecord


def encode(image: np.ndarray, fmt: str = "JPEG", mode: str | None = None, **kwargs) -> bytes:
    pil = Image.fromarray(image)
    if mode:
        pil = pil.convert(mode)
    out = io.BytesIO()
    pil.save(out, format=fmt, **kwargs)
    return out.getvalue()


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return {
        "astronaut": skdata.astronaut(),
        "chelsea": skdata.chelsea(),
        "coffee": skdata.coffee(),
        "rocket": skdata.rocket(),
    }


def write_records(path, images_and_labels):
    """Writes a one-shard TFRecord of (encoded bytes, stored label) pairs."""
    records = [
        tfrecord.encode_example(data, label, height=0, width=0, filename=f"img{i}.jpg")
        for i, (data, label) in enumerate(images_and_labels)
    ]
    tfrecord.write_shard(str(path), records)
