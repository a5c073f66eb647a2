"""Every model family on JAX and PyTorch equals itself on TensorFlow (docs/backends.md).

One small model per family gets its weights under TensorFlow, every one of them moved off its
initial value (biases, BN statistics, gains, zero-initialized gammas and classifiers), so that no
zero or unit parameter can hide a difference. A subprocess per backend (this process already runs
Keras on TensorFlow; the backend is chosen at import) builds the same models, loads the
.weights.h5 files and writes its logits, and reloads each from a `.keras` file of its own (same
config, same weights). It trains with `fit`, and compares the reloaded model's logits, only
where tests/models/test_registry.py does not already on that backend (in the runs of
test_model_tests_on_backends.py and the files beside it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from official import models
from tests.backends.test_model_tests_on_backends import RUNS_SLOW_TESTS
from tests.models import test_registry

# Each case starts a Keras process on another backend (tens of seconds): CI runs them, the
# development subset (-m "not slow") leaves them out.
pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Without dropout and stochastic depth, a training step's loss on a fixed batch is a function of
# the weights alone, so "fit lowered it" holds on every run.
ONE_BLOCK = dict(
    width_multiplier=0.25, block_repeats=(1, 1, 1, 1), dropout_rate=0.0, stochastic_depth_rate=0.0
)

# One small model per family (two for the ResNet builder: BN + SE + ResNet-D, and GN + WS).
CASES = {
    "resnetrs50": ONE_BLOCK,
    "resnet50_gn": ONE_BLOCK,
    "resnest14d": ONE_BLOCK,
    "nfnet_f0": dict(ONE_BLOCK, width_multiplier=0.125),
    "efficientnet_b0": dict(
        width_multiplier=0.25, block_repeats=(1,) * 7, dropout_rate=0.0, drop_connect_rate=0.0
    ),
    "mnasnet_a1": dict(width_multiplier=0.25, block_repeats=(1,) * 7, dropout_rate=0.0),
    "shufflenet_g3": dict(scale=0.25, block_repeats=(1, 1, 1)),
    "attention56": dict(width_multiplier=0.125, modules=(1, 1, 1)),
    "resnetrs50_3d": dict(ONE_BLOCK, input_shape=(4, 32, 32, 3)),
}
NUM_CLASSES = 5
# At 32 px the last stages are 1x1: BN normalizes over the batch alone, and over 4 images the
# training loss is too rough for a small step to lower it reliably.
BATCH = 16
# Largest |logit difference| / largest |logit|: float32 rounding of convolutions summed in a
# different order (measured up to 2e-6, docs/backends.md).
LOGITS_RTOL = 1e-5


def move_off_init(model, rng) -> None:
    """Adds noise of 30% of each weight's spread (0.1 where it is constant) to every float
    weight, and scales BN moving variances by 0.5-2, so none keeps its initial value."""
    for weight in model.weights:
        value = np.asarray(weight)
        if not np.issubdtype(value.dtype, np.floating):
            continue  # seed generator states
        if "moving_variance" in weight.path:
            new = value * rng.uniform(0.5, 2.0, value.shape)
        else:
            spread = float(value.std()) if value.size > 1 and value.std() > 0 else 0.1
            new = value + rng.normal(0.0, 0.3 * spread, value.shape)
        weight.assign(new.astype(value.dtype))


def write_cases(directory) -> None:
    """Weights, a batch and the TensorFlow logits of every case, written by this process."""
    rng = np.random.default_rng(0)
    cases = []
    for name, kwargs in CASES.items():
        kwargs = {"num_classes": NUM_CLASSES, "input_shape": (32, 32, 3), **kwargs}
        model = models.get(name, **kwargs)
        initial = [np.asarray(w).copy() for w in model.weights]
        move_off_init(model, rng)
        for weight, before in zip(model.weights, initial, strict=True):
            if np.issubdtype(before.dtype, np.floating):
                assert not np.array_equal(np.asarray(weight), before), weight.path
        x = rng.normal(size=(BATCH, *model.input.shape[1:])).astype("float32")
        y = np.arange(BATCH) % NUM_CLASSES
        model.save_weights(directory / f"{name}.weights.h5")
        np.save(directory / f"{name}_x.npy", x)
        np.save(directory / f"{name}_y.npy", y)
        np.save(directory / f"{name}_logits_tensorflow.npy", np.asarray(model(x, training=False)))
        cases.append({"name": name, "kwargs": kwargs})
    (directory / "cases.json").write_text(json.dumps(cases))


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory) -> str:
    directory = tmp_path_factory.mktemp("backends")
    write_cases(directory)
    return str(directory)


def run_worker(backend: str, case_dir: str, fit: str, reloaded_logits: str) -> dict:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -r requirements-test.txt)")
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "JAX_PLATFORMS": "cpu",
        # XLA's CPU optimizations cost more compile time than these tiny models ever run.
        "XLA_FLAGS": "--xla_backend_optimization_level=0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.backends.backend_worker", case_dir, fit, reloaded_logits],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(case_dir, f"report_{backend}.json")) as f:
        report = json.load(f)
    assert report["backend"] == backend
    return report


def problems(report: dict, case_dir: str) -> list[str]:
    """Every way a model's run on the backend differs from TensorFlow or failed."""
    backend, found = report["backend"], []
    for name in CASES:
        result = report["models"][name]
        if "error" in result:
            found.append(f"{name}: {result['error']}")
            continue
        reference = np.load(os.path.join(case_dir, f"{name}_logits_tensorflow.npy"))
        logits = np.load(os.path.join(case_dir, f"{name}_logits_{backend}.npy"))
        rel = np.abs(logits - reference).max() / np.abs(reference).max()
        if not rel < LOGITS_RTOL:
            found.append(f"{name}: logits differ from TensorFlow's by {rel:.2e} (relative)")
        losses = result.get("losses")
        if losses is not None and not (np.all(np.isfinite(losses)) and losses[-1] < losses[0]):
            found.append(f"{name}: fit did not lower the loss: {losses}")
        if not (result["reload_same_config"] and result["reload_same_weights"]):
            found.append(f"{name}: the reloaded .keras has another config or other weights")
        if (
            "reload_max_diff" in result
            and not result["reload_max_diff"] <= 1e-6 * np.abs(logits).max()
        ):
            found.append(
                f"{name}: the reloaded .keras's logits differ by {result['reload_max_diff']}"
            )
    return found


def names_run_on(backend: str, test) -> set[str]:
    """The model names `test` (a test of tests/models/test_registry.py parametrized by name)
    runs with in `backend`'s run of the model tests, which leaves the slow ones out on JAX."""
    slow_too = RUNS_SLOW_TESTS[backend]
    marks = test.pytestmark
    if not slow_too and any(mark.name == "slow" for mark in marks):
        return set()
    names = set()
    for param in (p for mark in marks if mark.name == "parametrize" for p in mark.args[1]):
        if slow_too or not any(m.name == "slow" for m in getattr(param, "marks", ())):
            names.add(getattr(param, "values", (param,))[0])
    return names


def not_covered(backend: str, test) -> list[str]:
    """The CASES that `test` of tests/models/test_registry.py leaves to this file on `backend`."""
    return sorted(set(CASES) - names_run_on(backend, test))


# Time on 2 CPU cores (docs/backends.md): a worker builds and runs the nine models in 25-40 s;
# XLA compiles a JAX training step in 5-40 s a model, and PyTorch trains and reloads the larger
# ones in 5-35 s each.


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_every_family_equals_tensorflow_trains_and_reloads(backend, case_dir):
    """Logits, and the reloaded .keras file's config and weights, of every case; that `fit`
    lowers the loss, and the reloaded file's logits, of those cases tests/models/test_registry.py
    does not check on this backend (test_each_family_trains_a_few_steps,
    test_tiny_build_forward_step_and_keras_round_trip)."""
    fit = not_covered(backend, test_registry.test_each_family_trains_a_few_steps)
    reloaded = not_covered(backend, test_registry.test_tiny_build_forward_step_and_keras_round_trip)
    report = run_worker(backend, case_dir, ",".join(fit) or "none", ",".join(reloaded) or "none")
    found = problems(report, case_dir)
    assert not found, "\n".join(found)
    assert sorted(n for n, r in report["models"].items() if "losses" in r) == fit
    assert sorted(n for n, r in report["models"].items() if "reload_max_diff" in r) == reloaded
