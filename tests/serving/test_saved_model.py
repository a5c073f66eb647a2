"""official/serving/saved_model.py's commands to paste, read back as a shell reads them."""

import os
import shlex

from official.serving import image, saved_model, video


def _words(lines: str, program: str) -> list[str]:
    (line,) = [line for line in lines.splitlines() if program in line]
    return shlex.split(line)


def test_paths_with_spaces_arrive_whole_and_the_served_name_has_none(tmp_path):
    export_dir = tmp_path / "my runs" / "digits v2 (final)"
    version = str(export_dir / "1")
    lines = image.usage_lines(version)
    cli = _words(lines, "saved_model_cli")
    assert cli[cli.index("--dir") + 1] == version
    docker = _words(lines, "docker run")
    # TF Serving's image hands MODEL_NAME to its server unquoted, and the name is in the URL:
    # the folder is mounted under a name without spaces
    assert docker[docker.index("-v") + 1] == f"{export_dir}:/models/digits_v2__final_"
    assert docker[docker.index("-e") + 1] == "MODEL_NAME=digits_v2__final_"
    curl = _words(lines, "curl")
    assert curl[-1] == "http://localhost:8501/v1/models/digits_v2__final_:predict"
    predict = _words(video.usage_lines(version), "official.predict")
    assert predict[3:] == [f"--model={version}", "clip.mp4"]


def test_a_plain_export_keeps_its_folder_name(tmp_path):
    version = os.path.join("runs", "sample", "export", "3")
    assert saved_model.model_name(version) == "export"
    docker = _words("\n".join(saved_model.serving_commands(version)), "docker run")
    assert (
        docker[docker.index("-v") + 1] == f"{os.path.abspath('runs/sample/export')}:/models/export"
    )
