"""Test setup: two logical CPU devices (for tf.distribute tests), quiet logs, seeded runs."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# XLA's CPU backend optimizations (LLVM) cost more compile time than the tiny test models ever
# run: level 0 halves the suite's XLA tests. The programs compute the same functions, but may sum
# in another order (float rounding, which tests/training/test_xla_step.py avoids by comparing in
# float64). Subprocesses inherit it.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must happen before TensorFlow initializes its devices, hence at import time.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


def pytest_collection_modifyitems(config, items):
    """Tests marked tensorflow_only (tf.distribute, tf.function, SavedModels) are skipped, with
    their reason, when the model and layer tests run on another Keras backend
    (tests/backends/test_model_tests_on_backends.py)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow only; this run is on {backend}")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _jax_initial_values_from_numpy():
    """On JAX, initial values come from NumPy (tests/backends/jax_init.py): Keras' jitted
    initializers compile one XLA program per weight shape, most of a model test's time there."""
    from tests.backends.jax_init import numpy_initial_values

    with numpy_initial_values():
        yield


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


def _global_policy(name: str):
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def mixed_bfloat16():
    yield from _global_policy("mixed_bfloat16")


@pytest.fixture
def float64():
    """Models built inside the test have float64 weights and compute (the `predictions` layer
    stays float32, as under every policy)."""
    yield from _global_policy("float64")


@pytest.fixture
def float32_afterwards():
    """For a command run in this process that sets the global policy to its run's precision
    (official/training/jobs.py's start()): float32 again after the test."""
    yield from _global_policy("float32")


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> str:
    """The bundled digits sample set, written once per test session."""
    from official.data import samples

    return samples.build(str(tmp_path_factory.mktemp("samples") / "digits"))
