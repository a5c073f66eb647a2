"""A program's start: absl's `app.run`, except that asking for help succeeds.

absl prints --help, --helpshort, --helpfull and --helpxml and then exits with status 1, the
status of a flag it cannot parse, so a user (or a script testing `$?`) reads help as a
failure. Every program of official/ starts through `run(main)`: help exits 0, a bad flag
still prints absl's message and exits 1.
"""

from __future__ import annotations

from collections.abc import Callable

from absl import app, flags


def parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing for `app.run` (the arguments left for main), where the help flags
    exit 0: while the flags are parsed only they exit (SystemExit), once they have printed."""
    try:
        return flags.FLAGS(argv)
    except SystemExit as stop:
        raise SystemExit(0 if stop.code == 1 else stop.code) from None
    except flags.Error:
        return app.parse_flags_with_usage(argv)  # parses again: absl's message, status 1


def run(main: Callable[[list[str]], object]) -> None:
    """`app.run(main)` with `parse_flags`."""
    app.run(main, flags_parser=parse_flags)
