"""tests/models/test_registry.py passes on JAX (its development subset): the half of the JAX run
of test_model_tests_on_backends.py in a file of its own, so that pytest-xdist can give it to
the other worker."""

import pytest

from tests.backends.test_model_tests_on_backends import REGISTRY_TESTS, run_layer_and_model_tests

pytestmark = pytest.mark.slow


def test_registry_tests_pass_on_jax():
    run_layer_and_model_tests("jax", [REGISTRY_TESTS], minimum_passed=21)
