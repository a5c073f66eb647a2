"""tpu/ launch scripts without a TPU: the gcloud commands they would run (DRY_RUN), the
environment tpu/train.sh gives official/train.py (a stand-in python3 prints it), and
tpu/install.py's plan for a TPU VM image's packages."""

import importlib.util
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PINNED_TF = next(
    line.split("==")[1].strip()
    for line in open(os.path.join(ROOT, "requirements.txt"))
    if line.startswith("tensorflow==")
)


def create(**env):
    return subprocess.run(
        ["bash", os.path.join(ROOT, "tpu", "create_tpu_vm.sh")],
        env={"PATH": os.environ["PATH"], "DRY_RUN": "1", "TPU_NAME": "t", "ZONE": "z", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "accelerator,runtime",
    [
        (None, f"tpu-vm-tf-{PINNED_TF}-pjrt"),  # the default: v5litepod-8, one host
        ("v4-8", f"tpu-vm-tf-{PINNED_TF}-pjrt"),
        ("v4-32", f"tpu-vm-tf-{PINNED_TF}-pod-pjrt"),
        ("v5litepod-16", f"tpu-vm-tf-{PINNED_TF}-pod-pjrt"),
        ("v6e-8", f"tpu-vm-tf-{PINNED_TF}-pjrt"),
    ],
)
def test_create_picks_the_pod_runtime_for_multi_host_slices(accelerator, runtime):
    result = create(**({"ACCELERATOR": accelerator} if accelerator else {}))
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert f"--accelerator-type={accelerator or 'v5litepod-8'} " in first
    assert first.endswith(f"--version={runtime}")
    assert "tpu/install.py" in result.stdout and "pip install -r" not in result.stdout


def test_create_takes_the_tf_version_and_refuses_a_bad_type():
    result = create(TF_VERSION="2.18.0", ACCELERATOR="v5litepod-32")
    assert "--version=tpu-vm-tf-2.18.0-pod-pjrt" in result.stdout
    bad = create(ACCELERATOR="v5e")
    assert bad.returncode == 2 and "ACCELERATOR=v5e: expected a type like" in bad.stderr


def run_train_sh(tmp_path, **env):
    fake = tmp_path / "python3"
    fake.write_text(
        '#!/bin/sh\necho "args: $*"\n'
        'echo "env: TPU_LOAD_LIBRARY=$TPU_LOAD_LIBRARY PJRT=$NEXT_PLUGGABLE_DEVICE_USE_C_API '
        'LIB=$TF_PLUGGABLE_DEVICE_LIBRARY_PATH"\n'
    )
    fake.chmod(0o755)
    return subprocess.run(
        ["bash", os.path.join(ROOT, "tpu", "train.sh"), "resnetrs50_i160", "--mode=train"],
        env={"PATH": f"{tmp_path}:{os.environ['PATH']}", "DATA_DIR": "gs://b/d", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_train_sh_sets_the_environment_for_one_host_and_for_a_slice(tmp_path):
    one = run_train_sh(tmp_path, MODEL_DIR="gs://b/runs")
    assert one.returncode == 0, one.stderr
    assert "--tpu=local --strategy=tpu --data_dir=gs://b/d --model_dir=gs://b/runs/resnetrs50" in (
        one.stdout
    )
    assert "env: TPU_LOAD_LIBRARY= PJRT=true LIB=/lib/libtpu.so" in one.stdout
    pod = run_train_sh(tmp_path, MODEL_DIR="gs://b/runs", TPU_NAME="my-slice")
    assert "--tpu=my-slice" in pod.stdout and "env: TPU_LOAD_LIBRARY=0 PJRT= LIB=" in pod.stdout
    missing = run_train_sh(tmp_path)
    assert missing.returncode != 0 and "set MODEL_DIR" in missing.stderr


@pytest.fixture(scope="module")
def install():
    spec = importlib.util.spec_from_file_location("install", os.path.join(ROOT, "tpu/install.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PINS = {
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "numpy": "2.4.6",
    "pyyaml": "6.0.3",
    "tensorflow-serving-api": "2.21.0",
}


def test_install_keeps_every_package_of_the_image(install):
    image = {"tensorflow": "2.21.0", "numpy": "1.26.4", "keras": "3.10.0"}
    todo = install.plan(PINS, image, "tensorflow")
    assert todo["install"] == ["pyyaml==6.0.3", "tensorflow-serving-api==2.21.0"]
    assert todo["constraints"] == ["tensorflow==2.21.0", "numpy==1.26.4"]
    assert todo["no_deps"] == []
    # The image's TensorFlow under another distribution name: pip must not resolve
    # tensorflow-serving-api's `tensorflow` requirement from PyPI.
    cpu = install.plan(PINS, {"tensorflow-cpu": "2.21.0", "numpy": "2.4.6"}, "tensorflow-cpu")
    assert cpu["no_deps"] == ["tensorflow-serving-api==2.21.0"]
    assert all(not p.startswith("tensorflow==") for p in cpu["install"])
    with pytest.raises(SystemExit, match="this Python has no TensorFlow"):
        install.plan(PINS, {}, None)


def test_install_checks_the_versions_agree(install):
    assert install.check_versions(PINS, "2.21.0", "2.21.0", "3.15.1") == []
    assert install.check_versions(PINS, "2.21.0", "2.21.3", "3.15.1")[0].startswith(
        "error: TensorFlow changed from 2.21.0 to 2.21.3"
    )
    (mismatch,) = install.check_versions(PINS, "2.18.0", "2.18.0", "3.8.0")
    assert mismatch.startswith("mismatch: the image has TensorFlow 2.18.0, the project was tested")
    assert install.check_versions(PINS, "2.15.0", "2.15.0", "2.15.0")[0].startswith(
        "error: Keras 2.15.0 on this image"
    )
    assert install.canonical("importlib_resources") == install.canonical("Importlib-Resources")
