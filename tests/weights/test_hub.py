"""official/weights/hub.py: snapshot folders, a safetensors file beside its config.json, and
hf:// through huggingface_hub against a loopback server (tests/weights/hub_server.py), then
offline from the cache."""

import json
import os

import pytest

from official.weights import hub
from tests.weights.hub_server import serving

CONFIG = {"architecture": "tf_efficientnet_b0", "pretrained_cfg": {"crop_pct": 0.9}}


def _snapshot(folder, config=CONFIG, weights=b"not read here"):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(weights)
    if config is not None:
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config))
    return str(folder)


def test_a_folder_and_its_file_give_the_architecture_of_config_json_not_of_the_folder_name(
    tmp_path,
):
    # The folder is named after the other EfficientNet twin: config.json decides.
    folder = _snapshot(tmp_path / "efficientnet_b0")
    for source in (folder, os.path.join(folder, "model.safetensors")):
        files = hub.locate(source)
        assert files.weights == os.path.join(folder, "model.safetensors")
        assert files.architecture == "tf_efficientnet_b0"
        assert files.pretrained_cfg == {"crop_pct": 0.9}


def test_without_config_json_nothing_is_named(tmp_path):
    folder = _snapshot(tmp_path / "efficientnet_b0", config=None)
    assert hub.locate(folder).architecture is None


@pytest.mark.parametrize(
    "config, message",
    [("{not json", "is not valid JSON"), ({"num_classes": 3}, 'names no timm "architecture"')],
)
def test_a_bad_config_json_is_one_line(tmp_path, config, message):
    folder = _snapshot(tmp_path / "snap", config=config)
    with pytest.raises(ValueError, match=message):
        hub.locate(folder)


def test_a_folder_without_weights_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="without model.safetensors"):
        hub.locate(str(tmp_path))


def test_hf_scheme_downloads_through_the_hub_api_then_reads_the_cache_offline(
    tmp_path, monkeypatch
):
    _snapshot(tmp_path / "served" / "timm" / "tf_efficientnet_b0.ns_jft_in1k", weights=b"abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    source = "hf://timm/tf_efficientnet_b0.ns_jft_in1k"
    with serving(str(tmp_path / "served")) as (endpoint, requests):
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        files = hub.locate(source)
    assert ("GET", "/timm/tf_efficientnet_b0.ns_jft_in1k/resolve/main/model.safetensors") in (
        requests
    )
    with open(files.weights, "rb") as f:
        assert f.read() == b"abc"
    assert files.architecture == "tf_efficientnet_b0"
    assert files.weights.startswith(str(tmp_path / "cache"))

    # The server is gone: offline, the cache answers.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.locate(source) == files
    with pytest.raises(FileNotFoundError, match="not in the hub cache"):
        hub.locate("hf://timm/resnet50.a1_in1k")


def test_a_bad_hf_name_is_one_line():
    with pytest.raises(ValueError, match="names no hub repository"):
        hub.locate("hf://resnet50")


# ---- Through weights=: a snapshot folder named after nothing (or after the wrong twin) builds
# the network its config.json names, with the same logits as the file named after that timm
# model (the path whose logits match timm's: benchmarks/fidelity_timm.py, docs/weights.md).
HUB_CASES = [
    ("efficientnet_b0", "tf_efficientnet_b0"),
    pytest.param("efficientnet_b0", "efficientnet_b0", marks=pytest.mark.slow),
    pytest.param("resnet18", "resnet18", marks=pytest.mark.slow),
    pytest.param("resnetrs50", "resnetrs50", marks=pytest.mark.slow),
    pytest.param("mnasnet_a1", "semnasnet_100", marks=pytest.mark.slow),
    pytest.param("resnest14d", "resnest14d", marks=pytest.mark.slow),
    pytest.param("nfnet_f0", "dm_nfnet_f0", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("ours, timm_name", HUB_CASES)
def test_a_snapshot_folder_converts_as_the_model_its_config_names(tmp_path, ours, timm_name):
    import numpy as np

    from official import models
    from tests.weights.conftest import random_state_dict, write_safetensors

    tensors = random_state_dict(timm_name)
    named = write_safetensors(tmp_path, timm_name, tensors)
    # The hub's folder, named after our model: the name must not decide.
    folder = tmp_path / ours
    os.makedirs(folder)
    os.rename(write_safetensors(tmp_path, "model", tensors), folder / "model.safetensors")
    with open(folder / "config.json", "w") as f:
        json.dump({"architecture": timm_name, "pretrained_cfg": {}}, f)

    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    expected = models.get(ours, weights=named, input_shape=(64, 64, 3))(x)
    for source in (str(folder), str(folder / "model.safetensors")):
        got = models.get(ours, weights=source, input_shape=(64, 64, 3))(x)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_a_file_in_a_folder_named_after_our_model_is_no_longer_guessed(tmp_path):
    from official import models
    from tests.weights.conftest import random_state_dict, write_safetensors

    folder = tmp_path / "efficientnet_b0"
    os.makedirs(folder)
    path = write_safetensors(folder, "model", random_state_dict("tf_efficientnet_b0"))
    with pytest.raises(ValueError, match="tf_efficientnet_b0, efficientnet_b0 need different"):
        models.get("efficientnet_b0", weights=path)


def test_a_config_naming_a_model_that_does_not_convert_into_ours_is_one_line(tmp_path):
    from official import models

    folder = _snapshot(tmp_path / "snap", config={"architecture": "vit_base_patch16_224"})
    with pytest.raises(ValueError, match="names timm's 'vit_base_patch16_224', which does not"):
        models.get("resnet18", weights=folder)
