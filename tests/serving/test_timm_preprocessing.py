"""The preprocessing timm weights were trained with travels with them: a hub snapshot whose
pretrained_cfg has non-default mean, std and crop_pct converts into a `.keras` file carrying
that eval transform, and the SavedModel exported from it gives, on real photos, the
probabilities of the model fed timm's own transform (computed here with PIL, as torchvision's
Resize / CenterCrop / Normalize do it)."""

import io
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage import data as skdata

from official.serving import image as image_export
from official.serving import keras_file
from official.weights.__main__ import main as convert_cli
from tests.weights import reference_weights
from tests.weights.conftest import write_safetensors

pytestmark = pytest.mark.tensorflow_only
CFG = {
    "input_size": [3, 64, 64],
    "interpolation": "bicubic",
    "crop_pct": 0.8,
    "crop_mode": "center",
    "mean": [0.5, 0.4, 0.3],
    "std": [0.2, 0.25, 0.3],
}


def _timm_eval_transform(jpeg: bytes) -> np.ndarray:
    """torchvision's eval transform for CFG: Resize(floor(64 / 0.8)) of the shorter side with
    PIL bicubic, CenterCrop(64), ToTensor, Normalize: [64, 64, 3]."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    short = math.floor(64 / CFG["crop_pct"])
    w, h = image.size
    size = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    image = image.resize(size, Image.BICUBIC)
    w, h = image.size
    top, left = int(round((h - 64) / 2.0)), int(round((w - 64) / 2.0))
    pixels = np.asarray(image.crop((left, top, left + 64, top + 64)), np.float32) / 255.0
    return (pixels - np.float32(CFG["mean"])) / np.float32(CFG["std"])


def _jpegs() -> list[bytes]:
    out = []
    for photo in (skdata.astronaut(), skdata.chelsea(), skdata.coffee()):
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, format="JPEG", quality=92)
        out.append(buffer.getvalue())
    return out


@pytest.mark.slow
def test_a_snapshots_pretrained_cfg_is_the_exported_eval_transform(tmp_path, capsys):
    folder = tmp_path / "snapshot"
    os.makedirs(folder)
    tensors = reference_weights.state_dict("resnet18")
    os.rename(write_safetensors(tmp_path, "model", tensors), folder / "model.safetensors")
    with open(folder / "config.json", "w") as f:
        json.dump({"architecture": "resnet18", "pretrained_cfg": CFG}, f)
    out = tmp_path / "resnet18.keras"
    convert_cli(
        ["convert", "--source=timm", f"--file={folder}", "--model=resnet18", f"--out={out}"]
    )
    assert "preprocessing (from its pretrained_cfg): 64 px, timm eval transform" in (
        capsys.readouterr().out
    )
    model, stored, _ = keras_file.load(str(out))
    assert (stored.method, stored.crop_fraction, stored.interpolation) == ("timm", 0.8, "bicubic")
    np.testing.assert_allclose(stored.mean_rgb, [127.5, 102.0, 76.5])

    version = image_export.export_keras_file(str(out), str(tmp_path / "served"))
    jpegs = _jpegs()
    served = (
        tf.saved_model.load(version)
        .signatures["serving_default"](image_bytes=tf.constant(jpegs))["probabilities"]
        .numpy()
    )
    x = np.stack([_timm_eval_transform(j) for j in jpegs])
    expected = tf.nn.softmax(model(x, training=False)).numpy()
    assert np.abs(served - expected).max() / np.abs(expected).max() < 1e-3


def test_the_timm_record_round_trips_and_computes_pils_pixels():
    from official.data.eval_preprocessing import EvalPreprocessing

    record = EvalPreprocessing.from_pretrained_cfg(CFG, "config.json")
    assert EvalPreprocessing.from_json(record.to_json(), "x") == record
    for jpeg in _jpegs():
        got = record(tf.constant(jpeg)).numpy()
        # one uint8 level of PIL's result, in normalized units, in a few pixels at most
        difference = np.abs(got - _timm_eval_transform(jpeg)) * np.float32(CFG["std"]) * 255
        assert difference.max() <= 1.0001 and np.mean(difference > 0.5) < 0.001


@pytest.mark.parametrize(
    "change, message",
    [({"crop_mode": "squash"}, "crop_mode 'squash'"), ({"mean": None}, "not a timm eval")],
)
def test_a_pretrained_cfg_we_cannot_compute_is_one_line(change, message):
    from official.data.eval_preprocessing import EvalPreprocessing

    with pytest.raises(ValueError, match=message):
        EvalPreprocessing.from_pretrained_cfg({**CFG, **change}, "config.json")
