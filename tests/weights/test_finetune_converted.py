"""Fine-tuning (train.init_weights) from a converter's .weights.h5 file (docs/weights.md), with
the normalization its weights were trained with (docs/training.md, "Fine-tuning")."""

import json
import logging
import os

import keras
import numpy as np
import pytest

from official import train
from official.configs import overrides, recipes
from official.data import preprocess
from official.data.eval_preprocessing import EvalPreprocessing
from official.serving import keras_file
from official.training import finetune, jobs, loop
from official.training.runtime import get_strategy
from official.weights import converted
from official.weights.__main__ import main as cli
from tests.command_line import parsed_train_flags
from tests.weights.conftest import random_state_dict, write_safetensors

# timm's pretrained_cfg of an Inception-normalized model (tf_efficientnet_b0's mean and std)
INCEPTION_CFG = {
    "input_size": [3, 224, 224],
    "interpolation": "bicubic",
    "crop_pct": 0.875,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
}


@pytest.fixture(scope="module")
def converted_resnet18(tmp_path_factory):
    directory = tmp_path_factory.mktemp("converted")
    tensors = random_state_dict("resnet18", seed=7)
    source = write_safetensors(directory, "resnet18", tensors)
    out = str(directory / "resnet18.weights.h5")
    cli(["convert", "--source=timm", f"--file={source}", "--model=resnet18", f"--out={out}"])
    return out, tensors


@pytest.fixture(scope="module")
def inception_resnet18(tmp_path_factory):
    """resnet18 converted from a hub snapshot whose pretrained_cfg normalizes with 0.5 / 0.5."""
    folder = tmp_path_factory.mktemp("snapshot")
    write_safetensors(folder, "model", random_state_dict("resnet18", seed=3))
    with open(folder / "config.json", "w") as f:
        json.dump({"architecture": "resnet18", "pretrained_cfg": INCEPTION_CFG}, f)
    out = str(folder / "inception.weights.h5")
    cli(["convert", "--source=timm", f"--file={folder}", "--model=resnet18", f"--out={out}"])
    return out


def _resolved(sample_dir, init_weights, **values):
    """The config `python official/train.py --config=sample` resolves with these overrides."""
    override = {
        "model.name": "resnet18",
        "model.kwargs": {"padding": "symmetric"},
        "train.init_weights": init_weights,
        **values,
    }
    argv = [
        "--config=sample",
        f"--data_dir={sample_dir}",
        f"--params_override={json.dumps(override)}",
    ]
    with parsed_train_flags(argv):
        return jobs.resolve_config(train.arguments())


def test_the_sources_statistics_become_the_runs_normalization(
    sample_dir, inception_resnet18, converted_resnet18, tmp_path, caplog
):
    with caplog.at_level(logging.INFO, logger=finetune.log.name):
        config = _resolved(sample_dir, inception_resnet18)
    assert (config.data.mean_rgb, config.data.stddev_rgb) == ([127.5] * 3, [127.5] * 3)
    assert "data.mean_rgb, data.stddev_rgb from train.init_weights=" in caplog.text
    # what the run then exports and serves with
    stored = EvalPreprocessing.from_config(config.data)
    assert stored.mean_std() == ((127.5,) * 3, (127.5,) * 3) and stored.method == "tf2"

    # a source recording no statistics, or the run's own (a .keras file's tf2 record), changes
    # nothing
    assert _resolved(sample_dir, converted_resnet18[0]).data.mean_rgb is None
    inputs = keras.Input((None, None, 3))
    plain = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    keras_file.save(plain, str(tmp_path / "tf2.keras"), EvalPreprocessing(224))
    assert _resolved(sample_dir, str(tmp_path / "tf2.keras")).data.mean_rgb is None
    # a training run as the source: the statistics its params.yaml records
    os.makedirs(tmp_path / "run")
    overrides.save_yaml(config, str(tmp_path / "run" / "params.yaml"))
    assert _resolved(sample_dir, str(tmp_path / "run")).data.stddev_rgb == [127.5] * 3

    # statistics the user gives are kept, with a warning
    given = {"data.mean_rgb": [120, 120, 120], "data.stddev_rgb": [60, 60, 60]}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=finetune.log.name):
        config = _resolved(sample_dir, inception_resnet18, **given)
    assert config.data.given_mean_std == ((120.0,) * 3, (60.0,) * 3)
    assert "was trained with mean [127.5, 127.5, 127.5]" in caplog.text


def _config(sample_dir, init_weights, **kwargs):
    config = recipes.get("sample")
    config.data.data_dir = sample_dir
    config = overrides.apply_overrides(
        config,
        {
            "model.name": "resnet18",
            "train.init_weights": init_weights,
            "train.steps_per_loop": 2,
            "data.train_batch_size": 16,
        },
    )
    config.model.kwargs = kwargs  # full-width resnet18, as converted (not the sample's 0.25)
    return config


def test_a_converted_file_starts_a_run_with_a_fresh_classifier(
    sample_dir, converted_resnet18, tmp_path
):
    path, tensors = converted_resnet18
    config = _config(sample_dir, path, padding="symmetric")
    trainer = loop.Trainer(config, get_strategy("cpu"), str(tmp_path / "run"))
    got = {w.path: np.asarray(w) for w in trainer.model.weights}
    np.testing.assert_array_equal(
        got["stem_conv1/kernel"], tensors["conv1.weight"].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(
        got["stage5_block2_bn2/moving_mean"], tensors["layer4.1.bn2.running_mean"]
    )
    assert got["classifier/kernel"].shape == (512, 10)  # 10 digits, not timm's 1000 classes


def test_a_run_without_the_files_conventions_is_refused(sample_dir, converted_resnet18):
    path, _ = converted_resnet18
    target = loop.build_model(_config(sample_dir, path))
    with pytest.raises(ValueError, match="model.kwargs to include {'padding': 'symmetric'}"):
        finetune.initialize_from(target, path)


def test_a_keras_applications_conversion_records_its_input_mean(tmp_path):
    """keras.applications' EfficientNets normalize with their own mean (the std is folded into
    the converted stem): the converter's metadata names it, and fine-tuning reads it."""
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    path = str(tmp_path / "apps.weights.h5")
    converted.save(model, path, {"model": "efficientnet_b0", "input_mean": [123.7, 116.3, 103.5]})
    record = finetune.converted_preprocessing(path)
    assert record.mean_std() == ((123.7, 116.3, 103.5), tuple(preprocess.STDDEV_RGB))
