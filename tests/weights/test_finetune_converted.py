"""Fine-tuning (train.init_weights) from a converter's .weights.h5 file (docs/weights.md)."""

import numpy as np
import pytest

from official.configs import overrides, recipes
from official.training import finetune, loop
from official.training.runtime import get_strategy
from official.weights.__main__ import main as cli
from tests.weights.conftest import random_state_dict, write_safetensors


@pytest.fixture(scope="module")
def converted_resnet18(tmp_path_factory):
    directory = tmp_path_factory.mktemp("converted")
    tensors = random_state_dict("resnet18", seed=7)
    source = write_safetensors(directory, "resnet18", tensors)
    out = str(directory / "resnet18.weights.h5")
    cli(["convert", "--source=timm", f"--file={source}", "--model=resnet18", f"--out={out}"])
    return out, tensors


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
