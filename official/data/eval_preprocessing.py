"""The eval preprocessing a model was trained for, as data that travels with the model.

Stored as `preprocessing.json` in every export (`<version>/assets.extra/`) and in every `.keras`
file this library writes (an entry of its zip archive, official/serving/keras_file.py); read back by
official/predict.py and official/export.py, so that a model is fed what it was trained on (the
sample recipe crops with padding 0, ImageNet recipes with 32: the wrong one costs accuracy).

`method` is the preprocessing setting of official/data/preprocess.py (data.preprocessing): it
fixes the resize (`tf2`: TF2 bicubic clipped to 0..255; `official_tpu`: TF1 resize_bicubic) and
the mean/std (`tf2`: 123.68, 116.779, 103.939 / 58.393, 57.12, 57.375; `official_tpu`: 255 x
the torchvision statistics); both are written into the record too, for a reader of the file.
"""

from __future__ import annotations

import dataclasses
import json

import tensorflow as tf

from official.configs.config import PREPROCESSINGS
from official.data import preprocess

FILE_NAME = "preprocessing.json"
_RESIZE = {"tf2": "TF2 bicubic, clipped to 0..255", "official_tpu": "TF1 resize_bicubic"}
_MEAN_STD = {
    "tf2": (preprocess.MEAN_RGB, preprocess.STDDEV_RGB),
    "official_tpu": (preprocess.OFFICIAL_MEAN_RGB, preprocess.OFFICIAL_STDDEV_RGB),
}


@dataclasses.dataclass(frozen=True)
class EvalPreprocessing:
    """Center crop of image_size / (image_size + crop_padding) of the shorter side, resized to
    image_size, then (pixels - mean) / std, both as `method` computes them."""

    image_size: int
    crop_padding: int = preprocess.CROP_PADDING
    method: str = "tf2"

    def __post_init__(self):
        if self.method not in PREPROCESSINGS:
            raise ValueError(f"preprocessing {self.method!r}; use one of {PREPROCESSINGS}.")

    @classmethod
    def from_config(cls, data) -> EvalPreprocessing:
        """What a run's evaluation uses (official/data/pipeline.py::eval_preprocess_fn)."""
        return cls(data.resolved_eval_image_size, data.eval_crop_padding, data.preprocessing)

    def to_json(self) -> str:
        mean, std = _MEAN_STD[self.method]
        described = {"resize": _RESIZE[self.method], "mean_rgb": mean, "stddev_rgb": std}
        return json.dumps({**dataclasses.asdict(self), **described}, indent=1)

    @classmethod
    def from_json(cls, text: str, where: str) -> EvalPreprocessing:
        """The record's settings; the descriptive entries must agree with what `method`
        computes in this version of the library."""
        try:
            values = json.loads(text)
            record = cls(values["image_size"], values["crop_padding"], values["method"])
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{where}: not a preprocessing record ({e}).") from None
        mean, std = _MEAN_STD[record.method]
        for key, expected in (("mean_rgb", mean), ("stddev_rgb", std)):
            stored = values.get(key)
            if stored is not None and not _close(stored, expected):
                raise ValueError(
                    f"{where}: {key} {stored} differs from the {expected} that preprocessing "
                    f"{record.method!r} applies here; the model was made by another version."
                )
        return record

    def __str__(self) -> str:
        mean, std = _MEAN_STD[self.method]
        return (
            f"{self.image_size} px, crop padding {self.crop_padding}, {self.method} "
            f"({_RESIZE[self.method]}, mean {[round(m, 3) for m in mean]}, "
            f"std {[round(s, 3) for s in std]})"
        )

    def __call__(self, image_bytes: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
        """Encoded image -> normalized [image_size, image_size, 3] model input."""
        return preprocess.preprocess_for_eval(
            image_bytes, self.image_size, dtype, self.crop_padding, self.method
        )

    def decoded(self, image: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
        """The same for a decoded [H, W, 3] image in 0..255."""
        return preprocess.preprocess_decoded_for_eval(
            image, self.image_size, dtype, self.crop_padding, self.method
        )


def _close(a, b) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))
