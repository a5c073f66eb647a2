"""official/weights/to_timm.py and `python -m official.weights export --to=timm`: ours -> timm's
hub layout -> ours gives the same logits, the file holds exactly timm's keys and shapes, and
its config.json carries the architecture and our eval preprocessing as pretrained_cfg. (That
timm.create_model loads such a folder and gives these logits was checked with timm 1.0.31 in a
separate venv: docs/weights.md, "Back to timm".)"""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from official import models
from official.data.eval_preprocessing import EvalPreprocessing
from official.serving import keras_file
from official.weights import to_timm
from official.weights.__main__ import main as weights_cli
from official.weights.timm_names import TIMM_NAMES
from tests.weights.conftest import randomize

FAST = {"resnet18"}
CASES = [
    pytest.param(name, timm_name, marks=() if timm_name in FAST else pytest.mark.slow)
    for name, timm_name in [
        ("resnet18", "resnet18"),
        ("efficientnet_b0", "tf_efficientnet_b0"),
        ("efficientnet_b0", "efficientnet_b0"),
        ("resnest14d", "resnest14d"),
        ("nfnet_f0", "dm_nfnet_f0"),
        ("mnasnet_a1", "semnasnet_100"),
        ("seresnext50_32x4d", "seresnext50_32x4d"),
    ]
]


@pytest.mark.parametrize("name, timm_name", CASES)
def test_ours_to_timm_and_back_gives_the_same_logits(name, timm_name, tmp_path):
    # built with the conventions of that timm twin (timm's ResNets pad as PyTorch does, ...)
    conventions = dict(TIMM_NAMES[name])[timm_name]
    model = models.get(name, num_classes=7, input_shape=(64, 64, 3), **conventions)
    randomize(model)
    path = str(tmp_path / f"{name}.keras")
    keras_file.save(model, path, EvalPreprocessing(64, crop_padding=8))
    folder = str(tmp_path / "timm")
    weights_cli(["export", "--to=timm", f"--model={path}", f"--out={folder}"])

    tensors = load_file(f"{folder}/model.safetensors")
    layout = dict(to_timm.timm_layout(timm_name))
    assert set(tensors) == set(layout)
    for key, shape in layout.items():  # the classifier has our 7 classes
        assert tensors[key].shape == shape or key.startswith(("fc.", "classifier.", "head."))
    config = json.load(open(f"{folder}/config.json"))
    assert config["architecture"] == timm_name and config["num_classes"] == 7
    assert config["pretrained_cfg"]["crop_pct"] == round(64 / 72, 6)
    assert config["pretrained_cfg"]["input_size"] == [3, 64, 64]

    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    back = models.get(name, weights=folder, num_classes=7, input_shape=(64, 64, 3))
    np.testing.assert_allclose(np.asarray(back(x)), np.asarray(model(x)), rtol=0, atol=1e-5)


def test_a_model_without_a_timm_twin_is_one_line(tmp_path):
    model = models.get("shufflenet_g3", num_classes=3, input_shape=(64, 64, 3))
    path = str(tmp_path / "s.keras")
    keras_file.save(model, path, EvalPreprocessing(64))
    with pytest.raises(SystemExit):
        weights_cli(["export", "--to=timm", f"--model={path}", f"--out={tmp_path / 'out'}"])
    assert not (tmp_path / "out").exists()


def test_a_model_that_timm_could_not_load_is_refused(tmp_path, capsys):
    # one input channel: the stem kernel no longer fits timm's resnet18 (3 channels)
    model = models.get("resnet18", num_classes=3, input_shape=(64, 64, 1), padding="symmetric")
    path = str(tmp_path / "grey.keras")
    keras_file.save(model, path, EvalPreprocessing(64))
    with pytest.raises(SystemExit):
        weights_cli(["export", "--to=timm", f"--model={path}", f"--out={tmp_path / 'out'}"])
    assert "does not fit resnet18's 'conv1.weight'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
