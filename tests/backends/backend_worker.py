"""The model checks of tests/backends/test_backends.py, run on the backend KERAS_BACKEND names:

    KERAS_BACKEND=jax python -m tests.backends.backend_worker CASE_DIR FIT RELOADED_LOGITS

CASE_DIR holds cases.json ([{"name": ..., "kwargs": {...}}, ...]) and, for each case, the files
TensorFlow wrote: <name>.weights.h5, <name>_x.npy (images), <name>_y.npy (labels). For each case
this builds the model, loads the weights and writes <name>_logits_<backend>.npy (inference mode);
trains it with `fit` on that fixed batch when FIT names it ('all', 'none' or a comma-separated
list); saves it to a .keras file and reloads it, comparing config and weights, and outputs too
for the RELOADED_LOGITS names (a forward pass of another model: on JAX, one more compile).
report_<backend>.json records the epoch losses and the comparisons.

TensorFlow is kept out of this process (Keras imports it for small things when it is there): a
JAX or PyTorch user need not have it installed.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
import time


class NoTensorFlow(importlib.abc.MetaPathFinder):
    """Makes `import tensorflow` fail, as where it is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r} (kept out of this process)")
        return None


import keras  # noqa: E402
import numpy as np  # noqa: E402

# After Keras' own import: torch._dynamo, which it imports, probes for TensorFlow with find_spec.
sys.meta_path.insert(0, NoTensorFlow())

from official import models  # noqa: E402
from tests.backends.jax_init import numpy_initial_values  # noqa: E402

FIT_EPOCHS = 3


def as_kwargs(kwargs: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def check(case: dict, case_dir: str, backend: str, fit: bool, reloaded_logits: bool) -> dict:
    name = case["name"]
    result, seconds = {}, {}
    start = time.perf_counter()
    with numpy_initial_values():
        model = models.get(name, **as_kwargs(case["kwargs"]))
    model.load_weights(os.path.join(case_dir, f"{name}.weights.h5"))
    x = np.load(os.path.join(case_dir, f"{name}_x.npy"))
    y = np.load(os.path.join(case_dir, f"{name}_y.npy"))
    np.save(os.path.join(case_dir, f"{name}_logits_{backend}.npy"), model.predict_on_batch(x))
    seconds["build_and_forward"] = time.perf_counter() - start

    if fit:
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),  # steps of ~lr whatever the gradient's scale
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        history = model.fit(x, y, batch_size=len(x), epochs=FIT_EPOCHS, shuffle=False, verbose=0)
        result["losses"] = [float(v) for v in history.history["loss"]]
        seconds["fit"] = time.perf_counter() - start - sum(seconds.values())

    path = os.path.join(case_dir, f"{name}_{backend}.keras")
    model.save(path)
    with numpy_initial_values():
        restored = keras.saving.load_model(path)
    # As JSON: a reloaded config holds lists where the built one holds tuples.
    configs = [json.dumps(m.get_config(), sort_keys=True, default=str) for m in (restored, model)]
    result["reload_same_config"] = configs[0] == configs[1]
    result["reload_same_weights"] = all(
        np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        for a, b in zip(restored.weights, model.weights, strict=True)
    )
    if reloaded_logits:
        diff = np.abs(restored.predict_on_batch(x) - model.predict_on_batch(x)).max()
        result["reload_max_diff"] = float(diff)
    seconds["keras_round_trip"] = time.perf_counter() - start - sum(seconds.values())
    result["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    return result


def main(case_dir: str, fit: str, reloaded_logits: str) -> None:
    """fit / reloaded_logits: 'all', 'none' or comma-separated model names."""
    backend = keras.backend.backend()
    with open(os.path.join(case_dir, "cases.json")) as f:
        cases = json.load(f)

    def chosen(names: str, name: str) -> bool:
        return names == "all" or name in names.split(",")

    report = {"backend": backend, "keras": keras.__version__, "models": {}}
    for case in cases:
        name = case["name"]
        try:
            report["models"][name] = check(
                case, case_dir, backend, chosen(fit, name), chosen(reloaded_logits, name)
            )
        except Exception as e:  # reported per model, so one failure does not hide the others
            report["models"][name] = {"error": f"{type(e).__name__}: {e}"[:2000]}
    with open(os.path.join(case_dir, f"report_{backend}.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:4])
