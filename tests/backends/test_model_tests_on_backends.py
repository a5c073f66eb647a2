"""The layer and model tests (tests/layers, tests/models) pass on JAX and PyTorch too.

Each backend runs in a pytest subprocess with KERAS_BACKEND set (the backend is chosen when Keras
is imported, and this process runs TensorFlow). Tests marked `tensorflow_only` (tf.distribute,
tf.function, SavedModels) are skipped there with their reason. Time on 2 CPU cores
(docs/backends.md): PyTorch runs all of them in under 2 minutes; JAX compiles every new shape, so
CI runs its development subset (-m "not slow": one network per family and block type in
tests/models/test_registry.py; 226 s inside a full CI run);
`KERAS_BACKEND=jax python -m pytest tests/layers tests/models` runs the rest. The PyTorch run
is in test_model_tests_on_torch.py: pytest-xdist gives each file to one worker, and the two runs
(minutes each) then go to both workers rather than one after the other on one.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SELECTION = {"torch": [], "jax": ["-m", "not slow"]}
# At least this many must pass on each backend: a run that collects nothing cannot pass.
MINIMUM_PASSED = {"torch": 185, "jax": 125}


def run_layer_and_model_tests(backend: str) -> None:
    """tests/layers and tests/models in a pytest subprocess on `backend`, which must pass."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-test.txt)")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "tests/layers",
        "tests/models",
        *SELECTION[backend],
    ]
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= MINIMUM_PASSED[backend], output[-2000:]
    assert "failed" not in output.splitlines()[-1], output[-2000:]


def test_layer_and_model_tests_pass_on_jax():
    run_layer_and_model_tests("jax")
