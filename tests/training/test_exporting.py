"""Exports and weights from a training run: EMA weights, .weights.h5, predict.py (in this process,
as tests/command_line.py runs it; tests/test_first_run.py runs it as a process)."""

import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage import data as skdata

from official import models, predict
from official.configs import overrides, recipes
from official.training import exporting, loop
from official.training.runtime import get_strategy
from tests import command_line

# The fixture trains a run: the slow set.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(sample_dir, tmp_path_factory):
    config = recipes.get("sample")
    config.data.data_dir = sample_dir
    overrides.apply_overrides(
        config,
        {
            "train.epochs": 0.5,
            "train.steps_per_loop": 11,
            "data.train_batch_size": 32,
            "optimizer.ema_decay": 0.9,
        },
    )
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path_factory.mktemp("run")))
    loop.train(trainer, None)
    return trainer


def test_export_uses_the_ema_weights(trained, tmp_path):
    path = exporting.export_trainer(trained, str(tmp_path / "export"))
    saved = tf.saved_model.load(path)
    loaded = {v.name: v.numpy() for v in saved.signatures["serving_default"].variables}
    kernel = next(v for k, v in loaded.items() if "classifier" in k and "kernel" in k)
    ema_kernel = next(s for s in trained.ema.shadows if s.name.startswith("classifier_kernel"))
    raw_kernel = np.asarray(trained.model.get_layer("classifier").kernel)
    np.testing.assert_allclose(kernel, ema_kernel.numpy(), rtol=1e-6)
    assert not np.allclose(kernel, raw_kernel)  # the run's own weights differ from the average


def test_weights_file_loads_into_a_freshly_built_model(trained):
    path = os.path.join(trained.model_dir, "model.weights.h5")
    fresh = models.get(trained.config.model.name, num_classes=10, **trained.config.model.kwargs)
    fresh.load_weights(path)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    with trained.ema.swapped():
        expected = np.asarray(trained.model(x, training=False))
    np.testing.assert_allclose(np.asarray(fresh(x, training=False)), expected, atol=1e-5)


def _jpeg(image):
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG")
    return out.getvalue()


def predict_output(argv, capsys):
    """What `python -m official.predict ARGV` prints, run in this process: (stdout, stderr)."""
    values, paths = command_line.program_flags(predict, argv)
    capsys.readouterr()  # what the test printed before (the export's saved_model_cli hint)
    status = predict.run(values, paths)
    out, err = capsys.readouterr()
    assert status == 0, err[-2000:]
    return out, err


def test_predict_cli_prints_a_row_per_image_and_skips_non_images(trained, tmp_path, capsys):
    path = exporting.export_trainer(trained, str(tmp_path / "export"))
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(_jpeg(skdata.chelsea()))
    (folder / "rocket.jpg").write_bytes(_jpeg(skdata.rocket()))
    (folder / "notes.txt").write_bytes(b"not an image")
    argv = [f"--model={path}", "--top_k=2"]
    out, err = predict_output([*argv, str(folder)], capsys)
    rows = out.strip().splitlines()
    assert [r.split(":")[0] for r in rows] == [str(folder / "cat.jpg"), str(folder / "rocket.jpg")]
    assert all(len(r.split(":")[1].split(",")) == 2 for r in rows)
    assert f"skipped {folder / 'notes.txt'}: not a decodable image" in err

    as_json, _ = predict_output([*argv, "--json", str(folder / "cat.jpg")], capsys)
    row = json.loads(as_json.strip())
    assert row["file"].endswith("cat.jpg") and len(row["top"]) == 2
    assert 0 <= row["top"][0]["probability"] <= 1
