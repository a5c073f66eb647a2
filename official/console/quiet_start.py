"""Import TensorFlow without its start-up noise on a machine without a GPU.

TensorFlow 2.21 logs through absl before absl's logging is set up, so TF_CPP_MIN_LOG_LEVEL does
not reach these lines: on a CPU-only machine every command used to open with "All log messages
before absl::InitializeLog() ...", "Could not find cuda drivers ...", "failed call to cuInit"
and the oneDNN notice, twice. `import_tensorflow()` sends the process's stderr (file descriptor
2, which that C++ code writes to) to a temporary file while TensorFlow loads and looks for
devices, then writes back every line but those.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

# The start-up lines that say nothing to a user of a CPU-only machine.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|cudart_stub\.cc.*Could not find cuda drivers"
    r"|cuda_platform\.cc.*failed call to cuInit"
    r"|cuda_executor\.cc.*|cuda_diagnostics\.cc.*"
    r"|port\.cc.*oneDNN custom operations are on"
    r"|cpu_feature_guard\.cc.*This TensorFlow binary is optimized"
    r"|To enable the following instructions: .* rebuild TensorFlow"
)


class Held:
    """What `filtered_stderr` yields: set `filter` False inside the block to write back every
    line held."""

    filter = True


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern = NOISE):
    """Everything written to file descriptor 2 inside the block is held back, then written out
    without the lines `noise` matches (when the block ends, or raises)."""
    held_lines = Held()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
        os.dup2(held.fileno(), 2)
        try:
            yield held_lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode(errors="replace").splitlines(keepends=True):
                if not (held_lines.filter and noise.search(line)):
                    sys.stderr.write(line)
            sys.stderr.flush()


def import_tensorflow():
    """Imports TensorFlow and lists its devices (where CUDA is probed); on a machine without a
    GPU the noise is removed, on one with a GPU every line is kept (there they can matter).
    Returns the module. Harmless when TensorFlow is already imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with filtered_stderr() as held:
        import tensorflow as tf

        held.filter = not tf.config.list_physical_devices("GPU")
    return tf
