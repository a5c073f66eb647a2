"""`--help` of every program prints its help and exits 0 (absl's own app.run exits 1, the
status of a bad flag): official/console/program.py, in this process."""

import ast
import os
import sys

import pytest
from absl import app

from official import train
from official.console import program

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Every program parsing its flags with absl (the argparse ones are below).
ABSL_PROGRAMS = [
    *(
        f"official/{name}.py"
        for name in (
            "train",
            "export",
            "export_litert",
            "predict",
            "benchmark",
            "scaling",
            "pseudo_label",
        )
    ),
    "official/data/build_tfrecords.py",
    "official/data/build_video_tfrecords.py",
]


@pytest.fixture
def help_flags():
    """official/train.py's flags on absl's global FLAGS (imported above) with absl's help
    flags, as app.run defines them; unparsed again afterwards."""
    app.define_help_flags()
    train.FLAGS.unparse_flags()
    yield
    train.FLAGS.unparse_flags()


@pytest.mark.parametrize("flag", ["--help", "--helpshort", "-?", "--helpfull"])
def test_asking_for_help_prints_it_and_exits_0(flag, help_flags, capsys):
    with pytest.raises(SystemExit) as stop:
        program.parse_flags([train.__file__, flag])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert ("--model_dir" in out) if flag == "--helpfull" else ("--helpfull" in out), out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--no_such_flag"], "Unknown command line flag 'no_such_flag'"),
        # a bad value is found where it stands, before the --help after it
        (["--num_cpu_devices=many", "--help"], "flag --num_cpu_devices=many: invalid literal"),
    ],
)
def test_a_bad_flag_still_exits_1_with_absls_message(argv, message, help_flags, capsys):
    with pytest.raises(SystemExit) as stop:
        program.parse_flags([train.__file__, *argv])
    assert stop.value.code == 1
    assert f"FATAL Flags parsing error: {message}" in capsys.readouterr().err


def test_flags_parse_as_before(help_flags):
    rest = program.parse_flags([train.__file__, "--mode=export", "left"])
    assert rest == [train.__file__, "left"] and train.FLAGS.mode == "export"


def _main_block_calls(path: str) -> list[str]:
    """The calls (`module.function`) in the `if __name__ == "__main__":` blocks of `path`."""
    tree = ast.parse(open(os.path.join(ROOT, path), encoding="utf-8").read())
    calls = []
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            for call in ast.walk(node):
                if isinstance(call, ast.Call):
                    calls.append(ast.unparse(call.func))
    return calls


@pytest.mark.parametrize("path", ABSL_PROGRAMS)
def test_every_absl_program_starts_through_program_run(path):
    calls = _main_block_calls(path)
    assert "program.run" in calls and "app.run" not in calls, calls


def test_the_argparse_programs_exit_0_on_help(monkeypatch, capsys):
    from official.models import __main__ as models_cli
    from official.weights import __main__ as weights_cli

    with pytest.raises(SystemExit) as stop:
        weights_cli.main(["--help"])
    assert stop.value.code == 0 and "convert" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["python -m official.models", "--help"])
    with pytest.raises(SystemExit) as stop:
        models_cli.main()
    assert stop.value.code == 0 and "summary" in capsys.readouterr().out
