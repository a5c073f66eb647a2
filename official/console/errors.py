"""Any exception as the one line a user reads: every program prints `error: <that line>` and
exits, and warnings quote it. One home for the rule, so that a TensorFlow error reads the same
from train.py, export.py, predict.py and the checkpoint fallback."""

from __future__ import annotations

import re

# What TensorFlow wraps around the sentence that says what is wrong.
_TAGS = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[\[.*?\]\]|\s*\[Op:[^\]]*\]")
_PREAMBLE = ("Graph execution error:", "<stack traces unavailable>")
# tf.data's prefix before the failing function's own message, inside a compiled loop.
_DATASET_FUNCTION = re.compile(
    r"Error in user-defined function passed to \S+ transformation with iterator: \S+: "
)


def one_line(error: BaseException, limit: int | None = None) -> str:
    """The line of `error` that names the problem: the first line of its message, or for a
    TensorFlow graph execution error the last one (the preamble, node names and op tags
    dropped); the exception's type name when the message is empty."""
    message = getattr(error, "message", None) or str(error)
    lines = [
        _DATASET_FUNCTION.sub("", _TAGS.sub("", line)).strip()
        for line in message.strip().splitlines()
    ]
    lines = [
        line
        for line in lines
        if line and line not in _PREAMBLE and not line.startswith("Detected at node")
    ]
    graph = message.lstrip().startswith(_PREAMBLE[0])
    text = (lines[-1] if graph else lines[0]) if lines else type(error).__name__
    return text[:limit] if limit else text
