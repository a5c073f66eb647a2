"""Install this project on a TPU VM without replacing the image's TensorFlow.

    python3 tpu/install.py [--dry_run] [--allow_tf_mismatch]

The TPU VM image's TensorFlow is the build that drives the TPU (it loads libtpu); the PyPI wheel
that requirements.txt pins would replace it. So: every package the image already has is kept as
it is (TensorFlow, NumPy, Keras ... ); only the missing ones are installed, at the pinned
versions, with the image's TensorFlow and NumPy held by a pip constraint so that no dependency
can pull another build in. Afterwards the TensorFlow version must be unchanged, Keras must be 3.x,
and the image's TensorFlow must have the pinned major.minor (the version the tests ran with);
--allow_tf_mismatch turns that last check into a warning.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELD = ("tensorflow", "numpy")  # the image's own build; pip must never replace them


def canonical(name: str) -> str:
    """PyPI's normalized form: importlib_resources and importlib-resources are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: str) -> dict[str, str]:
    """{distribution name: pinned version} of a requirements file's `name==version` lines."""
    pins = {}
    with open(path) as f:
        for line in f:
            match = re.match(r"\s*([A-Za-z0-9_.\-]+)==([^\s#;]+)", line)
            if match:
                pins[canonical(match.group(1))] = match.group(2)
    return pins


def installed_versions() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def tensorflow_distribution() -> str | None:
    """The distribution that provides `import tensorflow` (tensorflow, tensorflow-cpu, ...)."""
    names = metadata.packages_distributions().get("tensorflow", [])
    return canonical(names[0]) if names else None


def plan(pins: dict[str, str], installed: dict[str, str], tf_dist: str | None) -> dict:
    """What to install: {"install": [...], "no_deps": [...], "constraints": [...]}."""
    if tf_dist is None:
        raise SystemExit(
            "error: this Python has no TensorFlow: run on a TPU VM created with a tpu-vm-tf-* "
            "runtime (tpu/create_tpu_vm.sh), or install the project with pip elsewhere."
        )
    missing = [name for name in pins if name not in installed and name not in HELD]
    constraints = [f"{name}=={installed[name]}" for name in HELD if name in installed]
    # A package that depends on `tensorflow` would make pip fetch the PyPI wheel when the
    # image's TensorFlow is published under another name (tensorflow-cpu, tensorflow-tpu).
    needs_tf = {"tensorflow-serving-api"}
    no_deps = [n for n in missing if n in needs_tf and tf_dist != "tensorflow"]
    return {
        "install": [f"{n}=={pins[n]}" for n in missing if n not in no_deps],
        "no_deps": [f"{n}=={pins[n]}" for n in no_deps],
        "constraints": constraints,
    }


def check_versions(pins: dict[str, str], before: str, after: str, keras_version: str) -> list:
    """Problems, as lines; the first word says whether it stops the install."""
    problems = []
    if before != after:
        problems.append(f"error: TensorFlow changed from {before} to {after} during the install.")
    if int(keras_version.split(".")[0]) < 3:
        problems.append(
            f"error: Keras {keras_version} on this image; this project needs Keras 3 "
            "(TensorFlow >= 2.16 images)."
        )
    pinned = pins.get("tensorflow", "")
    if pinned.split(".")[:2] != after.split(".")[:2]:
        problems.append(
            f"mismatch: the image has TensorFlow {after}, the project was tested with {pinned}; "
            "pick the tpu-vm-tf-" + pinned + "-* runtime (gcloud compute tpus versions list), "
            "or pass --allow_tf_mismatch to go on."
        )
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry_run", action="store_true", help="Print the pip commands only.")
    parser.add_argument("--allow_tf_mismatch", action="store_true")
    args = parser.parse_args()

    pins = read_pins(os.path.join(ROOT, "requirements.txt"))
    installed = installed_versions()
    todo = plan(pins, installed, tensorflow_distribution())
    before = installed.get(tensorflow_distribution(), "?")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(todo["constraints"]) + "\n")
    pip = [sys.executable, "-m", "pip", "install", "-c", f.name]
    commands = []
    if todo["install"]:
        commands.append([*pip, *todo["install"]])
    if todo["no_deps"]:
        commands.append([*pip, "--no-deps", *todo["no_deps"]])
    print(
        f"image TensorFlow {before} ({tensorflow_distribution()}), kept; constraints: "
        f"{', '.join(todo['constraints'])}"
    )
    for command in commands:
        print("+", " ".join(command), flush=True)
        if not args.dry_run:
            subprocess.run(command, check=True)
    if args.dry_run:
        return
    after = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tensorflow as tf, keras; print(tf.__version__, keras.__version__)",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    problems = check_versions(pins, before.split("+")[0], after[0].split("+")[0], after[1])
    for line in problems:
        print(line, file=sys.stderr)
    if any(p.startswith("error") for p in problems) or (problems and not args.allow_tf_mismatch):
        sys.exit(1)
    print(f"installed: TensorFlow {after[0]} (the image's), Keras {after[1]}")


if __name__ == "__main__":
    main()
