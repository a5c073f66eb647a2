"""The layer and model tests (tests/layers, tests/models) pass on PyTorch: the subprocess run of
test_model_tests_on_backends.py, in a file of its own so that pytest-xdist can run it beside the
JAX ones."""

import pytest

from tests.backends.test_model_tests_on_backends import run_layer_and_model_tests

pytestmark = pytest.mark.slow


def test_layer_and_model_tests_pass_on_torch():
    run_layer_and_model_tests("torch", ["tests/layers", "tests/models"], minimum_passed=200)
