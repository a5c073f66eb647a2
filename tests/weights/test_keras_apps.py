"""keras.applications -> ours (docs/weights.md): randomized source models (every weight and BN
statistic random, weights=None, nothing downloaded), logits compared on real photos; the model
object through weights=, its .h5 file through the converter."""

import h5py
import keras
import numpy as np
import pytest

from official import models
from official.weights import keras_apps, strict
from official.weights.__main__ import main as cli
from tests.weights.conftest import normalize, photos, randomize, relative_error

SIZE = 64
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def _keras_resnet(arch: str):
    source = getattr(keras.applications, arch)(
        weights=None, input_shape=(SIZE, SIZE, 3), classifier_activation=None
    )
    randomize(source, seed=1)
    return source


def _caffe(pixels):
    """keras.applications.resnet.preprocess_input: BGR, ImageNet mean subtracted, unscaled."""
    return pixels[..., ::-1] - np.float32([103.939, 116.779, 123.68])


def _convert(source, arch, **overrides):
    kwargs = {**keras_apps.conventions(arch), **overrides}
    name = {"ResNet50": "resnet50", "ResNet101": "resnet101", "EfficientNetB0": "efficientnet_b0"}
    model = models.get(name[arch], input_shape=(SIZE, SIZE, 3), **kwargs)
    tensors, plan, ignored, _ = keras_apps.plan(model, source, arch)
    strict.fill(model, tensors, plan, source=arch, ignored=ignored)
    return model


def test_resnet50_converts_exactly_and_only_with_symmetric_padding(caplog):
    source = _keras_resnet("ResNet50")
    pixels = photos(SIZE)
    expected = np.asarray(source(_caffe(pixels)))
    with caplog.at_level("WARNING"):  # the model object itself, through weights=
        model = models.get("resnet50", weights=source, input_shape=(SIZE, SIZE, 3))
    assert "built with stride_in_1x1=True, padding='symmetric', bn_epsilon=1.001e-05" in caplog.text
    assert model.get_layer("stage2_block1_conv1").strides == (1, 1)
    assert model.get_layer("stage3_block1_conv1").strides == (2, 2)  # the 2015 placement
    assert relative_error(model(normalize(pixels)), expected) < 1e-4
    # The same weights under TF 'same' pooling: every pooling window shifts by one pixel.
    shifted = _convert(source, "ResNet50", padding="tf")
    assert relative_error(shifted(normalize(pixels)), expected) > 1e-2


@pytest.mark.slow
def test_resnet101_converts_exactly():
    source = _keras_resnet("ResNet101")
    pixels = photos(SIZE)
    expected = np.asarray(source(_caffe(pixels)))
    assert relative_error(_convert(source, "ResNet101")(normalize(pixels)), expected) < 1e-4


@pytest.fixture(scope="module")
def keras_efficientnet_b0():
    """keras.applications' EfficientNetB0, every weight random; each test sets the input
    Normalization's statistics it needs (set_normalization)."""
    source = keras.applications.EfficientNetB0(
        weights=None, input_shape=(SIZE, SIZE, 3), classifier_activation=None
    )
    randomize(source, seed=2)
    return source


def set_normalization(source, variance):
    normalization = next(
        layer for layer in source.layers if isinstance(layer, keras.layers.Normalization)
    )
    mean = np.float32([123.68, 116.779, 103.939]) / 255  # this library's mean, in [0, 1]
    normalization.set_weights([mean, np.float32(variance), np.array(1)])
    normalization.finalize_state()


def test_efficientnet_b0_converts_exactly_with_its_input_scaling_folded(keras_efficientnet_b0):
    source = keras_efficientnet_b0
    set_normalization(source, np.random.default_rng(3).uniform(0.02, 0.08, 3))
    pixels = photos(SIZE)
    expected = np.asarray(source(pixels))  # raw pixels: the model rescales and normalizes
    model = _convert(source, "EfficientNetB0")
    assert relative_error(model(normalize(pixels)), expected) < 1e-4


def test_an_imagenet_style_h5_file_converts_as_keras_runs_it(
    keras_efficientnet_b0, tmp_path, capsys
):
    """keras' imagenet files hold the std as the variance; keras divides by sqrt(std) once
    more for weights='imagenet'. The converter (CLI, with --check) converts such a file as keras
    runs it: the reference is the same network with the variance it means (std squared)."""
    from keras.src.legacy.saving import legacy_h5_format

    source = keras_efficientnet_b0
    set_normalization(source, IMAGENET_STD)
    path = str(tmp_path / "efficientnetb0.h5")
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    out = str(tmp_path / "efficientnet_b0.weights.h5")
    argv = ["convert", "--source=keras", f"--file={path}", "--model=efficientnet_b0"]
    cli([*argv, f"--out={out}", "--check"])
    printed = capsys.readouterr().out
    assert "from keras.applications.EfficientNetB0" in printed
    assert float(printed.rsplit("=", 1)[1]) < 1e-3  # 224 x 224 random pixels, logits O(1)
    set_normalization(source, IMAGENET_STD**2)
    pixels = photos(SIZE)
    converted_model = models.get_converted(out)
    assert relative_error(converted_model(normalize(pixels)), source(pixels)) < 1e-4
