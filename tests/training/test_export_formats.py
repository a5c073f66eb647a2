"""export.formats: ['timm'] writes the run's model as timm's hub layout at the end of the run
(<model_dir>/timm/), and a model that could not be written so is refused when the run starts,
leaving no record (official/training/exporting.py, check_export_formats)."""

import json
import os

import numpy as np
from safetensors.numpy import load_file

from official.serving import keras_file
from official.weights import to_timm
from official.weights.timm_names import TIMM_MAPPING
from tests import command_line

STEPS = {
    "train.train_steps": 1,
    "train.steps_per_loop": 1,
    "data.train_batch_size": 4,
    "runtime.precision": "float32",
    "export.formats": ["timm"],
}


def test_a_run_ends_with_its_model_in_timms_layout(
    sample_dir, tmp_path, capsys, float32_afterwards
):
    run = tmp_path / "run"
    # resnet18 at timm's widths and depth (timm loads only its own shapes; the sample recipe's
    # kwargs are a quarter width, one block a stage) and its max-pool padding (docs/weights.md,
    # "Conventions"), 10 digit classes.
    kwargs = {"padding": "symmetric", "width_multiplier": 1.0, "block_repeats": [2, 2, 2, 2]}
    settings = {**STEPS, "model.name": "resnet18", "model.kwargs": kwargs}
    argv = [f"--data_dir={sample_dir}", f"--model_dir={run}", "--mode=train"]
    assert command_line.train_status([*argv, f"--params_override={json.dumps(settings)}"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {run}/timm/model.safetensors and config.json: resnet18 as timm's resnet18" in out
    config = json.loads((run / "timm" / "config.json").read_text())
    assert config["architecture"] == "resnet18" and config["num_classes"] == 10
    # The tensors are the trained model's: the same as writing its model.keras by hand.
    model, _, _ = keras_file.load(str(run / "model.keras"))
    expected = to_timm.state_dict(model, TIMM_MAPPING["resnet"], "resnet18")
    written = load_file(str(run / "timm" / "model.safetensors"))
    assert written.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(written[key], value, err_msg=key)


def test_a_model_timm_could_not_load_is_refused_at_the_start(
    sample_dir, tmp_path, capsys, float32_afterwards
):
    run = tmp_path / "run"
    # The sample's quarter-width ResNet-RS: timm's resnetrs50 has 4 times its channels.
    argv = [f"--data_dir={sample_dir}", f"--model_dir={run}", "--mode=train"]
    assert command_line.train_status([*argv, f"--params_override={json.dumps(STEPS)}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: export.formats 'timm': "), lines
    assert "timm's model would not load it" in lines[0]
    assert not os.path.exists(run)
