"""keras-hub presets (official/weights/keras_hub.py): a ResNet v1 preset folder, written here
by keras-hub with every weight randomised (BN statistics, gammas, betas, the head), converts
into the registered ResNet and gives the preset's own logits and features; its image converter
becomes the eval preprocessing; other presets are refused in one line."""

import json
import os

import numpy as np
import pytest

from official import models
from official.serving import keras_file
from official.weights.__main__ import main as convert_cli

keras_hub = pytest.importorskip("keras_hub")
pytestmark = pytest.mark.tensorflow_only

NUM_CLASSES = 7
SIZE = 64
# scale / offset of an Inception-style converter: (x - 127.5) / 127.5, other per channel
SCALE = [1 / 127.5, 1 / 100.0, 1 / 64.0]
OFFSET = [-1.0, -1.2, -1.5]


def _backbone(blocks, block_type):
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=blocks,
        stackwise_num_strides=[1, 2, 2, 2],
        block_type=block_type,
        use_pre_activation=False,
        image_shape=(None, None, 3),
    )


def _randomise(model, seed):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        if weight.path.endswith("moving_variance"):
            weight.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        elif weight.path.endswith(("gamma", "moving_mean", "beta", "bias")):
            weight.assign(
                rng.uniform(-0.5, 0.5, shape).astype("float32") + 1.0 * ("gamma" in weight.path)
            )
        else:
            fan_in = max(1, int(np.prod(shape[:-1])))
            weight.assign(rng.normal(0, np.sqrt(2 / fan_in), shape).astype("float32"))


def _classifier_preset(folder, blocks, block_type, seed):
    converter = keras_hub.layers.ResNetImageConverter(
        image_size=(SIZE, SIZE), scale=SCALE, offset=OFFSET
    )
    task = keras_hub.models.ResNetImageClassifier(
        backbone=_backbone(blocks, block_type),
        num_classes=NUM_CLASSES,
        preprocessor=keras_hub.models.ResNetImageClassifierPreprocessor(converter),
    )
    _randomise(task, seed)
    task.save_to_preset(str(folder))
    return task


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras_hub")
    return {
        "resnet18": (
            root / "r18",
            _classifier_preset(root / "r18", [2, 2, 2, 2], "basic_block", 1),
        ),
        "resnet26": (
            root / "r26",
            _classifier_preset(root / "r26", [2, 2, 2, 2], "bottleneck_block", 2),
        ),
    }


def _image():
    return np.random.default_rng(0).normal(0, 1, (2, SIZE, SIZE, 3)).astype("float32")


@pytest.mark.parametrize("name", ["resnet18", "resnet26"])
def test_a_resnet_classifier_preset_gives_its_own_logits(presets, name):
    folder, task = presets[name]
    ours = models.get(name, weights=str(folder), num_classes=NUM_CLASSES)
    x = _image()
    want = np.asarray(task(x, training=False))
    got = np.asarray(ours(x, training=False))
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-4


def test_a_backbone_preset_gives_the_backbones_stride_32_features(tmp_path):
    backbone = _backbone([2, 2, 2, 2], "basic_block")
    _randomise(backbone, 3)
    backbone.save_to_preset(str(tmp_path / "backbone"))
    with pytest.raises(ValueError, match="backbone preset .* build with include_top=False or"):
        models.get("resnet18", weights=str(tmp_path / "backbone"))
    features = models.get("resnet18", weights=str(tmp_path / "backbone"), features_only=True)
    x = _image()
    want = np.asarray(backbone(x, training=False))
    got = np.asarray(features(x, training=False)["P5"])
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-4


def test_the_converter_writes_the_presets_preprocessing(presets, tmp_path, capsys):
    folder, task = presets["resnet18"]
    out = str(tmp_path / "resnet18.keras")
    convert_cli(
        ["convert", "--source=keras_hub", f"--file={folder}", "--model=resnet18", f"--out={out}"]
    )
    line = "preprocessing (from its image converter): 64 px, timm eval transform (shorter side to "
    assert line + "64 px, bilinear, center crop)" in capsys.readouterr().out
    model, stored, _ = keras_file.load(out)
    mean, std = stored.mean_std()
    np.testing.assert_allclose(std, [127.5, 100.0, 64.0], rtol=1e-6)
    np.testing.assert_allclose(mean, [127.5, 120.0, 96.0], rtol=1e-6)  # -offset / scale
    # the record normalizes as the preset's converter does
    pixels = np.random.default_rng(1).uniform(0, 255, (1, SIZE, SIZE, 3)).astype("float32")
    normalized = task.preprocessor.image_converter(pixels)
    np.testing.assert_allclose((pixels - np.array(mean)) / np.array(std), normalized, atol=1e-5)
    x = _image()
    np.testing.assert_allclose(model(x), task(x, training=False), rtol=1e-4, atol=1e-4)


def test_other_presets_are_refused_in_one_line(presets, tmp_path):
    folder = tmp_path / "effnet"
    os.makedirs(folder)
    with open(folder / "config.json", "w") as f:
        json.dump({"registered_name": "keras_hub>EfficientNetBackbone", "config": {}}, f)
    (folder / "model.weights.h5").write_bytes(b"")
    with pytest.raises(ValueError, match=r"keras-hub keras_hub>EfficientNetBackbone preset; .*"):
        models.get("efficientnet_b0", weights=str(folder))
    with pytest.raises(ValueError, match=r"names timm's 'resnet18', which does not convert into "):
        models.get("resnet50", weights=str(presets["resnet18"][0]))
    max_pooled = keras_hub.models.ResNetImageClassifier(
        backbone=_backbone([2, 2, 2, 2], "basic_block"), num_classes=3, pooling="max"
    )
    max_pooled.save_to_preset(str(tmp_path / "max"))
    with pytest.raises(ValueError, match=r"pooling='max', activation=None; the ResNet head"):
        models.get("resnet18", weights=str(tmp_path / "max"), num_classes=3)
    v2 = tmp_path / "v2"
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[2, 2, 2, 2],
        stackwise_num_strides=[1, 2, 2, 2],
        block_type="basic_block",
        use_pre_activation=True,
    )
    backbone.save_to_preset(str(v2))
    with pytest.raises(ValueError, match=r"use_pre_activation=True; only ResNet v1 presets"):
        models.get("resnet18", weights=str(v2))
