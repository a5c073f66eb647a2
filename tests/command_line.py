"""official/'s programs run in this process, as `python official/<program>.py ARGV` runs them
but without a new process and its TensorFlow start (seconds a case): ARGV parsed by absl into the
flag values the program's main() hands its library call. Each program keeps a test that runs it
as a real process."""

from __future__ import annotations

import contextlib
import functools
import types

import pytest
from absl import flags

from official import train
from official.training import jobs


@contextlib.contextmanager
def parsed_train_flags(argv: list[str]):
    """official/train.py's flags (absl's global FLAGS) parsed from `argv`."""
    train.FLAGS.unparse_flags()
    try:
        train.FLAGS([train.__file__, *argv])
        yield train.FLAGS
    finally:
        train.FLAGS.unparse_flags()


def train_status(argv: list[str]) -> int:
    """What `python official/train.py ARGV` does; its exit status (main() exits with it)."""
    with parsed_train_flags(argv):
        return jobs.main(train.arguments())


def program_flags(program: types.ModuleType, argv: list[str]) -> tuple[dict, list[str]]:
    """(flag values, positional arguments) that `program`'s main() gets from `argv`: every flag
    its define_flags() defines, defaults included. define_flags() defines them on absl's global
    FLAGS, which in this process already hold official/train.py's flags of the same names, so
    here each DEFINE_* call goes to a FlagValues of their own."""
    own = flags.FlagValues()
    with pytest.MonkeyPatch.context() as patch:
        for name in dir(flags):
            if name.startswith("DEFINE"):
                define = getattr(flags, name)
                patch.setattr(flags, name, functools.partial(define, flag_values=own))
        program.define_flags()
    positional = own([program.__file__, *argv])[1:]
    return own.flag_values_dict(), positional


def error_line(stderr: str) -> str:
    """The one `error:` line of a failed command, which printed no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr[-3000:]
    return errors[0]
