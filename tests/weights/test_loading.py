"""`weights=` kinds, the conventions it applies, the converter CLI and its output file."""

import sys

import keras
import numpy as np
import pytest

from official import models
from official.models import stages
from official.weights import ConversionError, conventions, converted, loading, strict
from official.weights.__main__ import main as cli
from tests.weights.conftest import random_state_dict, write_safetensors


def test_imagenet_offline_is_one_line_naming_the_file_and_where_it_goes():
    with pytest.raises(OSError) as error:
        models.get("resnet50", weights="imagenet")
    message = str(error.value)
    assert "\n" not in message
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in message
    assert ".keras/models" in message
    with pytest.raises(OSError, match="efficientnetb3_notop.h5"):
        models.get("efficientnet_b3", weights="imagenet", include_top=False)


def test_imagenet_for_a_network_keras_does_not_have_names_the_ones_it_has():
    with pytest.raises(ValueError, match="resnet50, resnet101, resnet152 and efficientnet_b0..b7"):
        models.get("resnet18", weights="imagenet")


def test_an_unknown_kind_is_one_line_naming_the_accepted_kinds():
    with pytest.raises(ValueError) as error:
        models.get("resnet18", weights="bogus.xyz")
    message = str(error.value)
    assert "\n" not in message
    for kind in (".safetensors", ".h5", "TF checkpoint prefix", ".weights.h5", ".keras"):
        assert kind in message
    with pytest.raises(FileNotFoundError, match="no such file"):
        models.get("resnet18", weights="missing.safetensors")


def test_two_timm_models_behind_one_name_need_the_file_named(tmp_path):
    tensors = random_state_dict("efficientnet_b0")
    anonymous = write_safetensors(tmp_path, "model", tensors)
    with pytest.raises(ValueError, match="which timm model is it.*tf_efficientnet_b0"):
        models.get("efficientnet_b0", weights=anonymous)
    # timm's hub names tell them apart; the PyTorch-trained one needs its conventions.
    torch_trained = write_safetensors(tmp_path, "efficientnet_b0.ra_in1k", tensors)
    model = models.get("efficientnet_b0", weights=torch_trained)
    assert model.get_layer("stem_bn").epsilon == 1e-5
    assert model.get_layer("stage2_block1_dwconv").padding == "valid"  # padded before
    tf_port = write_safetensors(tmp_path, "tf_efficientnet_b0.ns_jft_in1k", tensors)
    arguments = {"name": "efficientnet_b0", "variant": "b0"}
    assert loading.prepare(tf_port, "efficientnet", arguments, {}).conventions == {}


def test_a_convention_the_caller_contradicts_is_refused(tmp_path):
    path = write_safetensors(tmp_path, "resnet18", random_state_dict("resnet18"))
    with pytest.raises(ValueError, match="needs padding='symmetric'; padding='tf' was passed"):
        models.get("resnet18", weights=path, padding="tf")


def test_nf_resnet_says_why_timm_weights_do_not_convert(tmp_path):
    path = write_safetensors(tmp_path, "nf_resnet50", {"x": np.zeros(1, np.float32)})
    with pytest.raises(ValueError, match="timm's nf_resnet50 shortcuts through an average pool"):
        models.get("nf_resnet50", weights=path)


@pytest.fixture(scope="module")
def converted_resnet18(tmp_path_factory):
    """The CLI's output for a timm resnet18 state dict (random values, timm's layout)."""
    directory = tmp_path_factory.mktemp("cli")
    tensors = random_state_dict("resnet18")
    source = write_safetensors(directory, "resnet18", tensors)
    out = str(directory / "resnet18.weights.h5")
    cli(["convert", "--source=timm", f"--file={source}", "--model=resnet18", f"--out={out}"])
    return out, tensors


def test_cli_writes_weights_and_the_conventions_they_need(converted_resnet18, capsys):
    out, tensors = converted_resnet18
    metadata = converted.read_metadata(out)
    assert metadata["model"] == "resnet18" and metadata["timm_name"] == "resnet18"
    assert metadata["conventions"] == {"padding": "symmetric"}
    model = models.get_converted(out)
    assert model.get_layer("stem_pool").padding == "valid"  # symmetric: padded explicitly
    kernel = model.get_layer("stem_conv1").kernel
    np.testing.assert_array_equal(np.asarray(kernel), tensors["conv1.weight"].transpose(2, 3, 1, 0))


def test_a_weights_h5_file_fills_a_model_with_its_conventions(converted_resnet18):
    out, _ = converted_resnet18
    model = models.get("resnet18", weights=out)  # the file's conventions are applied
    reference = models.get_converted(out)
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(model(x), reference(x), rtol=1e-5, atol=1e-5)


def test_a_keras_file_fills_a_model_built_with_its_conventions(tmp_path):
    tiny = dict(block_repeats=(1, 1, 1, 1), width_multiplier=0.25, input_shape=(32, 32, 3))
    source = models.get("resnet18", padding="symmetric", **tiny)
    source.save(tmp_path / "resnet18.keras")
    same = models.get(
        "resnet18", padding="symmetric", weights=str(tmp_path / "resnet18.keras"), **tiny
    )
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(same(x), source(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConversionError, match="'stem_pool_pad' .explicit padding. is only in"):
        models.get("resnet18", weights=str(tmp_path / "resnet18.keras"), **tiny)


def test_a_keras_file_fills_a_model_without_its_top_leaving_only_the_head_unused(tmp_path):
    tiny = dict(block_repeats=(1, 1, 1, 1), width_multiplier=0.25, input_shape=(32, 32, 3))
    source = models.get("resnet18", num_classes=5, **tiny)
    source.save(tmp_path / "model.keras")  # what a training run writes: the classifier
    notop = models.get("resnet18", include_top=False, weights=str(tmp_path / "model.keras"), **tiny)
    trunk = keras.Model(source.input, source.get_layer("stage5_block1_out").output)
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(notop(x)), np.asarray(trunk(x)))
    # Any other tensor the target leaves unused is still refused (here a second stage-2 block).
    deeper = models.get("resnet18", num_classes=5, **{**tiny, "block_repeats": (2, 1, 1, 1)})
    deeper.save(tmp_path / "deeper.keras")
    with pytest.raises(ConversionError, match=r"unused, first 'stage2_block2_"):
        models.get("resnet18", include_top=False, weights=str(tmp_path / "deeper.keras"), **tiny)
    # With its top, the classifier must be filled: a headless file does not fit.
    headless = tmp_path / "headless.keras"
    models.get("resnet18", include_top=False, **tiny).save(headless)
    with pytest.raises(ConversionError, match=r"unmatched, first 'classifier/kernel' \(needs"):
        models.get("resnet18", weights=str(headless), **tiny)


def test_the_head_tensors_are_those_of_the_models_head_layers():
    # weights/ cannot import models/: its list of head layers must be stages.HEAD_LAYERS, less
    # the weightless global pool.
    assert set(conventions.HEAD) == set(stages.HEAD_LAYERS) - {"avg_pool"}
    names = ["classifier/kernel", "classifier/bias", "stem_conv1/kernel", "stage5_block1_se/kernel"]
    assert strict.head_tensors(names, conventions.HEAD) == names[:2]


def test_cli_check_without_torch_is_refused_before_converting(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # as when torch is not installed
    out = tmp_path / "x.weights.h5"
    argv = ["convert", "--source=timm", "--file=x.safetensors", "--model=resnet18"]
    with pytest.raises(SystemExit, match="needs timm and torch installed"):
        cli([*argv, f"--out={out}", "--check"])
    assert not out.exists()


def test_a_pytorch_pickle_without_torch_is_one_line_saying_so(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # as when torch is not installed
    path = tmp_path / "resnet18.pth"
    path.write_bytes(b"not read")
    with pytest.raises(ImportError) as error:
        models.get("resnet18", weights=str(path))
    message = str(error.value)
    assert "\n" not in message
    assert "needs torch" in message and ".safetensors" in message
