"""`python -m official.export_litert`'s flags and error exits, run in this process (the real
process and the conversion: tests/serving/test_litert.py::test_cli_exports_a_run_and_int8_keeps_
its_top1): each mistake exits 2 with one line naming the flag, before any conversion."""

import pytest

from official import export_litert
from tests import command_line


@pytest.mark.parametrize(
    "argv,line",
    [
        ([], "error: give exactly one of --model_dir (a training run) or --keras_file."),
        (
            ["--model_dir={tmp}", "--keras_file={tmp}/m.keras"],
            "error: give exactly one of --model_dir (a training run) or --keras_file.",
        ),
        (
            ["--model_dir={tmp}", "--quantizations=float32,int4"],
            "error: --quantizations: int4 not known; use float32,float16,dynamic_int8,int8.",
        ),
        (
            ["--model_dir={tmp}/none"],
            "error: {tmp}/none/params.yaml not found: --model_dir must be a training run.",
        ),
        (["--keras_file={tmp}/none.keras"], "error: --keras_file={tmp}/none.keras: no such file."),
        (
            ["--keras_file={tmp}/bad.keras"],
            "error: --keras_file={tmp}/bad.keras is not a .keras file (Keras writes a zip",
        ),
    ],
)
def test_export_litert_errors_exit_2_with_one_line(argv, line, tmp_path, capsys):
    (tmp_path / "bad.keras").write_text("not a zip")
    values, _ = command_line.program_flags(export_litert, [a.format(tmp=tmp_path) for a in argv])
    assert export_litert.run(values) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith(line.format(tmp=tmp_path)), err


def test_export_litert_flags_default_to_every_quantization_and_the_runs_own_data():
    values, positional = command_line.program_flags(export_litert, ["--model_dir=runs/sample"])
    assert positional == []
    assert values["quantizations"] == "float32,float16,dynamic_int8,int8"
    assert values["data_dir"] is None and values["out_dir"] is None  # the run's, <run>/litert
    assert values["calibration_images"] > 0
