"""A start refused after the config resolved (here: fine-tuning from weights that are not there)
leaves the run directory as it found it, so the corrected command starts the run (before, its
params.yaml stayed and the rerun was refused as if a run "was trained with" the bad value)."""

import json
import os

from tests import command_line

SMALL = {
    "train.train_steps": 1,
    "train.steps_per_loop": 1,
    "data.train_batch_size": 4,
    "runtime.precision": "float32",
    "model.kwargs": {"width_multiplier": 0.25, "block_repeats": [1, 1, 1, 1]},
}


def test_a_refused_start_leaves_no_record_and_the_fixed_rerun_trains(
    sample_dir, tmp_path, capsys, float32_afterwards
):
    run = tmp_path / "run"
    argv = [f"--data_dir={sample_dir}", f"--model_dir={run}", "--mode=train"]
    bad = {**SMALL, "train.init_weights": str(tmp_path / "missing.keras")}
    assert command_line.train_status([*argv, f"--params_override={json.dumps(bad)}"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: train.init_weights={tmp_path / 'missing.keras'}: no such file."
    ]
    assert not os.path.exists(run)

    assert command_line.train_status([*argv, f"--params_override={json.dumps(SMALL)}"]) == 0
    assert (run / "params.yaml").exists()


def test_an_unknown_model_name_is_one_line_with_close_matches_and_nothing_written(
    sample_dir, tmp_path, capsys, float32_afterwards
):
    run = tmp_path / "run"
    argv = [f"--data_dir={sample_dir}", f"--model_dir={run}", "--mode=train"]
    bad = {**SMALL, "model.name": "resnet5O"}
    assert command_line.train_status([*argv, f"--params_override={json.dumps(bad)}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "resnet5O" in lines[0] and "resnet50" in lines[0], lines[0]
    assert not os.path.exists(run)
