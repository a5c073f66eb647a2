"""The layer and model tests (tests/layers, tests/models) pass on JAX and PyTorch too.

Each backend runs in a pytest subprocess with KERAS_BACKEND set (the backend is chosen when Keras
is imported, and this process runs TensorFlow). Tests marked `tensorflow_only` (tf.distribute,
tf.function, SavedModels) are skipped there with their reason. PyTorch runs all of them;
JAX compiles every new shape, so CI runs its development subset (-m "not slow": one network per
family and block type in tests/models/test_registry.py);
`KERAS_BACKEND=jax python -m pytest tests/layers tests/models` runs the rest. Backbone features
(features_only=True, their `.keras` round trip and weights= files) run on both backends through
tests/models/test_features.py (two families; about 11 s per backend). Each run is a file
of its own, as pytest-xdist (--dist loadfile) gives a file to one worker: the JAX run in two
(this file: all but test_registry.py; test_registry_tests_on_jax.py: test_registry.py; about
110 and 80 s of tests on 2 CPU cores), PyTorch's in test_model_tests_on_torch.py (under 2
minutes), so the two workers share them.
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
# Whether a backend's run includes the slow tests (tests/backends/test_backends.py reads it).
RUNS_SLOW_TESTS = {"torch": True, "jax": False}
REGISTRY_TESTS = "tests/models/test_registry.py"


def run_layer_and_model_tests(backend: str, paths: list[str], minimum_passed: int) -> None:
    """The tests `paths` select, in a pytest subprocess on `backend`: they must pass, at least
    `minimum_passed` of them (a run that collects nothing cannot pass)."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-test.txt)")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    command += paths + ([] if RUNS_SLOW_TESTS[backend] else ["-m", "not slow"])
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= minimum_passed, output[-2000:]
    assert "failed" not in output.splitlines()[-1], output[-2000:]


def test_layer_and_model_tests_pass_on_jax():
    """All but tests/models/test_registry.py (test_registry_tests_on_jax.py runs it)."""
    paths = ["tests/layers", "tests/models", f"--ignore={REGISTRY_TESTS}"]
    run_layer_and_model_tests("jax", paths, minimum_passed=119)
