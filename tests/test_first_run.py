"""What a newcomer sees on a fresh clone: no CUDA start-up noise on a CPU-only machine, a rerun
that does not export again, and errors in plain words (predict, the TFRecord converter). The
per-loop progress bar: tests/training/test_progress.py and test_reporter.py."""

import io
import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from official.console import quiet_start
from official.data import image_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Lines TensorFlow prints at start-up without a GPU, which no command may show.
NOISE = re.compile(r"cuda|cuInit|absl::InitializeLog|oneDNN custom operations", re.IGNORECASE)


def test_filtered_stderr_drops_the_start_up_noise_and_keeps_everything_else(capfd):
    with quiet_start.filtered_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are ")
        os.write(2, b"written to STDERR\n")
        os.write(2, b"I0000 00:00:17 1 cudart_stub.cc:31] Could not find cuda drivers on your ")
        os.write(2, b"machine, GPU will not be used.\n")
        os.write(2, b"E0000 00:00:17 1 cuda_platform.cc:52] failed call to cuInit: UNKNOWN\n")
        os.write(2, b"a real warning\n")
    assert capfd.readouterr().err == "a real warning\n"


def test_filtered_stderr_keeps_every_line_when_told_to(capfd):
    with quiet_start.filtered_stderr() as held:  # as with a GPU: those lines can matter there
        os.write(2, b"E0000 00:00:17 1 cuda_platform.cc:52] failed call to cuInit: UNKNOWN\n")
        held.filter = False
    assert "failed call to cuInit" in capfd.readouterr().err


def test_filtered_stderr_writes_back_what_was_held_when_the_block_raises(capfd):
    with pytest.raises(RuntimeError), quiet_start.filtered_stderr():
        os.write(2, b"why it failed\n")
        raise RuntimeError
    assert capfd.readouterr().err == "why it failed\n"


def test_converter_reasons_name_the_problem_without_python_objects():
    with pytest.raises(image_files.NotAnImageError) as text:
        image_files.to_rgb_jpeg(b"hello, not an image")
    assert str(text.value) == "no image format Pillow reads (JPEG, PNG, GIF, BMP...)"
    png = io.BytesIO()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8) + 7).save(png, format="PNG")
    with pytest.raises(image_files.NotAnImageError) as truncated:
        image_files.to_rgb_jpeg(png.getvalue()[:60])
    assert str(truncated.value).startswith("damaged image data: ")
    assert "object at 0x" not in str(truncated.value)


def run(*args, timeout=600):
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    noise = [line for line in result.stderr.splitlines() if NOISE.search(line)]
    assert not noise, noise
    return result


# The sample job cut to 4 steps of a narrower model: what a newcomer's first command does.
TINY = {
    "train.epochs": None,
    "train.train_steps": 4,
    "train.steps_per_loop": 4,
    "model.kwargs": {"width_multiplier": 0.125, "block_repeats": [1, 1, 1, 1]},
    "runtime.precision": "float32",
}


@pytest.fixture(scope="module")
def finished_run(sample_dir, tmp_path_factory):
    """A run trained to its end and exported by `python official/train.py`."""
    model_dir = tmp_path_factory.mktemp("first") / "run"
    result = run(
        os.path.join(ROOT, "official", "train.py"),
        f"--model_dir={model_dir}",
        f"--data_dir={sample_dir}",
        "--params_override=" + json.dumps(TINY),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return model_dir, result


@pytest.mark.slow  # a real train.py process
def test_train_py_starts_without_the_noise_and_exports_once(finished_run):
    model_dir, result = finished_run  # run() has checked stderr for the start-up lines
    assert os.listdir(model_dir / "export") == ["1"]
    assert f"exported SavedModel: {model_dir}/export/1" in result.stdout


@pytest.mark.slow  # reads the real run above
def test_a_rerun_of_a_finished_run_does_not_export_again(finished_run, caplog):
    from official import train
    from official.configs import overrides

    model_dir, _ = finished_run
    config = overrides.load_config(str(model_dir / overrides.RUN_CONFIG_FILE))
    train.FLAGS.unparse_flags()
    try:
        train.FLAGS(["train.py"])  # run() reads --num_cpu_devices
        with caplog.at_level(logging.INFO, logger="official.train"):
            results = train.run(config, str(model_dir), "train_and_eval", None)
    finally:
        train.FLAGS.unparse_flags()
    assert results["start_step"] == 4 and 0 <= results["top1"] <= 1  # restored, evaluated
    assert results["export"] == f"{model_dir}/export/1"
    assert os.listdir(model_dir / "export") == ["1"]
    assert any("--mode=export adds a version" in r.getMessage() for r in caplog.records)


@pytest.mark.slow  # reads the real run above
def test_predict_takes_the_export_folder_and_says_what_is_wrong(finished_run, tmp_path):
    model_dir, _ = finished_run
    good = tmp_path / "seven.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8) + 200).save(good)
    (tmp_path / "notes.jpg").write_text("not an image")
    png = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    # The export folder itself: predict takes its newest version, as TF Serving would.
    result = run("-m", "official.predict", f"--model={model_dir / 'export'}", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"seven\.png: \d \d\.\d{4}", result.stdout), result.stdout
    skipped = dict(
        re.match(r"skipped (\S+): not a decodable image or video \((.*)\)$", line).groups()
        for line in result.stderr.splitlines()
        if line.startswith("skipped ")
    )
    assert skipped[str(tmp_path / "notes.jpg")].startswith("Unknown image file format.")
    assert skipped[str(tmp_path / "cut.png")].startswith("Invalid PNG data")
    assert "Graph execution error" not in result.stderr


def test_predict_names_a_model_path_that_is_not_a_model(tmp_path):
    from official.serving import predictor

    with pytest.raises(ValueError, match=f"--model={tmp_path} is neither a .keras file nor a"):
        predictor.resolve_model_path(str(tmp_path))
    (tmp_path / "3" / "variables").mkdir(parents=True)
    (tmp_path / "3" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "12").mkdir()  # not a SavedModel: no saved_model.pb
    assert predictor.resolve_model_path(str(tmp_path)) == str(tmp_path / "3")
    assert predictor.resolve_model_path("any/model.keras") == "any/model.keras"
