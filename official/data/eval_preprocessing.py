"""The eval preprocessing a model was trained for, as data that travels with the model.

Stored as `preprocessing.json` in every export (`<version>/assets.extra/`) and in every `.keras`
file this library writes (an entry of its zip archive, official/serving/keras_file.py); read back by
official/predict.py and official/export.py, so that a model is fed what it was trained on (the
sample recipe crops with padding 0, ImageNet recipes with 32: the wrong one costs accuracy).

`method` is the preprocessing setting of official/data/preprocess.py (data.preprocessing): it
fixes the resize (`tf2`: TF2 bicubic clipped to 0..255; `official_tpu`: TF1 resize_bicubic) and
the mean/std (`tf2`: 123.68, 116.779, 103.939 / 58.393, 57.12, 57.375; `official_tpu`: 255 x
the torchvision statistics); both are written into the record too, for a reader of the file.
`method: timm` is the eval transform of weights converted from timm (official/data/resize_crop.py)
with free values from the source's `pretrained_cfg`: mean and std (pixel units), the crop
fraction (timm's crop_pct) and the interpolation. The other methods take mean and std too when a
run normalizes with its own (data.mean_rgb, data.stddev_rgb: fine-tuned from weights trained with
other statistics); the record then says `"normalization": "given"`.
"""

from __future__ import annotations

import dataclasses
import json
import math

import tensorflow as tf

from official.configs.config import PREPROCESSINGS
from official.data import preprocess, resize_crop

TIMM = "timm"  # a record-only method: converted timm weights (not a training preprocessing)

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
    # the source's own values (pixel units for mean and std); method 'timm' needs all four, the
    # others may take mean and std instead of their own (data.mean_rgb, data.stddev_rgb)
    mean_rgb: tuple[float, float, float] | None = None
    stddev_rgb: tuple[float, float, float] | None = None
    crop_fraction: float | None = None
    interpolation: str | None = None

    def __post_init__(self):
        if self.method not in (*PREPROCESSINGS, TIMM):
            raise ValueError(
                f"preprocessing {self.method!r}; use one of {(*PREPROCESSINGS, TIMM)} (timm: "
                "converted timm weights' own transform)."
            )
        free = (self.mean_rgb, self.stddev_rgb, self.crop_fraction, self.interpolation)
        if self.method != TIMM and (self.mean_rgb is None) != (self.stddev_rgb is None):
            raise ValueError("preprocessing: give mean_rgb and stddev_rgb together, or neither.")
        for values in (self.mean_rgb, self.stddev_rgb):
            if values is not None and not (
                len(values) == 3 and all(math.isfinite(float(v)) for v in values)
            ):
                raise ValueError(f"preprocessing: {values} is not three finite values (RGB).")
        if self.stddev_rgb is not None and min(self.stddev_rgb) <= 0:
            raise ValueError(f"preprocessing: stddev_rgb {self.stddev_rgb} must be > 0.")
        if self.method == TIMM and None in free:
            raise ValueError(
                "preprocessing 'timm' needs mean_rgb, stddev_rgb, crop_fraction and interpolation."
            )
        if self.method == TIMM and not 0 < self.crop_fraction <= 1:
            raise ValueError(f"crop_fraction {self.crop_fraction}; use a value in (0, 1].")
        if self.method == TIMM and self.interpolation not in resize_crop.INTERPOLATIONS:
            raise ValueError(
                f"interpolation {self.interpolation!r}; use one of {resize_crop.INTERPOLATIONS}."
            )

    @classmethod
    def from_pretrained_cfg(cls, cfg: dict, where: str) -> EvalPreprocessing:
        """timm's eval transform as a `pretrained_cfg` (a hub config.json's) describes it."""
        try:
            size = int(cfg.get("test_input_size", cfg["input_size"])[-1])
            if cfg.get("crop_mode", "center") != "center":
                raise ValueError(f"crop_mode {cfg['crop_mode']!r} (only 'center' is supported)")
            return cls(
                size,
                crop_padding=0,
                method=TIMM,
                mean_rgb=tuple(255.0 * float(m) for m in cfg["mean"]),
                stddev_rgb=tuple(255.0 * float(s) for s in cfg["std"]),
                crop_fraction=float(cfg.get("test_crop_pct", cfg.get("crop_pct", 0.875))),
                interpolation=str(cfg.get("interpolation", "bicubic")),
            )
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ValueError(
                f"{where}: pretrained_cfg is not a timm eval transform ({e})."
            ) from None

    @classmethod
    def from_config(cls, data) -> EvalPreprocessing:
        """What a run's evaluation uses (official/data/pipeline.py::eval_preprocess_fn)."""
        mean, std = data.given_mean_std or (None, None)
        size = data.resolved_eval_image_size
        return cls(size, data.eval_crop_padding, data.preprocessing, mean, std)

    def to_pretrained_cfg(self) -> dict:
        """This record as timm's `pretrained_cfg` eval entries (official/weights/to_timm.py):
        the library's own crop keeps image_size / (image_size + crop_padding) of the shorter
        side, timm's crop_pct."""
        mean, std = self.mean_std()
        crop = self.crop_fraction or self.image_size / (self.image_size + self.crop_padding)
        return {
            "input_size": [3, self.image_size, self.image_size],
            "interpolation": self.interpolation or "bicubic",
            "crop_pct": round(crop, 6),
            "crop_mode": "center",
            "mean": [round(m / 255.0, 6) for m in mean],
            "std": [round(s / 255.0, 6) for s in std],
        }

    def mean_std(self) -> tuple[tuple, tuple]:
        """(mean, std) per RGB channel in pixel units (0..255) that this record normalizes with."""
        if self.mean_rgb is not None:
            return self.mean_rgb, self.stddev_rgb
        return _MEAN_STD[self.method]

    def _given_mean_std(self) -> tuple[tuple, tuple] | None:
        return None if self.mean_rgb is None else (self.mean_rgb, self.stddev_rgb)

    def to_json(self) -> str:
        if self.method == TIMM:
            return json.dumps(dataclasses.asdict(self), indent=1)
        mean, std = self.mean_std()
        described = {"resize": _RESIZE[self.method], "mean_rgb": mean, "stddev_rgb": std}
        if self.mean_rgb is not None:
            described["normalization"] = "given"
        return json.dumps({**dataclasses.asdict(self), **described}, indent=1)

    @classmethod
    def from_json(cls, text: str, where: str) -> EvalPreprocessing:
        """The record's settings; the descriptive entries must agree with what `method`
        computes in this version of the library."""
        try:
            values = json.loads(text)
            if values.get("method") == TIMM:
                free = {k: values[k] for k in ("mean_rgb", "stddev_rgb")}
                return cls(
                    values["image_size"],
                    values["crop_padding"],
                    TIMM,
                    tuple(free["mean_rgb"]),
                    tuple(free["stddev_rgb"]),
                    values["crop_fraction"],
                    values["interpolation"],
                )
            if values.get("normalization") == "given":
                given = tuple(values["mean_rgb"]), tuple(values["stddev_rgb"])
                return cls(values["image_size"], values["crop_padding"], values["method"], *given)
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
        mean, std = self.mean_std()
        if self.method == TIMM:
            return (
                f"{self.image_size} px, timm eval transform (shorter side to "
                f"{resize_crop.scale_size(self.image_size, self.crop_fraction)} px, "
                f"{self.interpolation}, center crop), mean {[round(m, 3) for m in mean]}, "
                f"std {[round(s, 3) for s in std]}"
            )
        return (
            f"{self.image_size} px, crop padding {self.crop_padding}, {self.method} "
            f"({_RESIZE[self.method]}, mean {[round(m, 3) for m in mean]}, "
            f"std {[round(s, 3) for s in std]})"
        )

    def __call__(self, image_bytes: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
        """Encoded image -> normalized [image_size, image_size, 3] model input."""
        if self.method == TIMM:
            return self.decoded(resize_crop.decode_like_pil(image_bytes), dtype)
        return preprocess.preprocess_for_eval(
            image_bytes,
            self.image_size,
            dtype,
            self.crop_padding,
            self.method,
            self._given_mean_std(),
        )

    def pixels(self, image_bytes: tf.Tensor) -> tf.Tensor:
        """The crop and resize alone: float32 [image_size, image_size, 3] in 0..255, what a
        LiteRT file (which normalizes inside) takes."""
        if self.method == TIMM:
            return resize_crop.resize_shorter_then_crop(
                resize_crop.decode_like_pil(image_bytes),
                self.image_size,
                self.crop_fraction,
                self.interpolation,
            )
        return preprocess.crop_for_eval(
            image_bytes, self.image_size, self.crop_padding, self.method
        )

    def decoded(self, image: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
        """The same for a decoded [H, W, 3] image in 0..255."""
        if self.method == TIMM:
            crop = resize_crop.resize_shorter_then_crop(
                image, self.image_size, self.crop_fraction, self.interpolation
            )
            mean = tf.constant(self.mean_rgb, tf.float32)
            std = tf.constant(self.stddev_rgb, tf.float32)
            return tf.cast((crop - mean) / std, dtype)
        return preprocess.preprocess_decoded_for_eval(
            image, self.image_size, dtype, self.crop_padding, self.method, self._given_mean_std()
        )


def _close(a, b) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))
