"""`pip install .` beside another distribution that owns `official/__init__.py`, as TF Model
Garden's `tf-models-official` does (docs/backends.md, "Installing beside TF Model Garden").

Both are installed into one fresh virtual environment, in both orders, and either is uninstalled
again; `from official import models` and the other package's `official.vision` must keep
importing while their distribution is installed. Offline: the project's wheel is built here
without build isolation and pip never consults an index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS, THEIRS = "resnet-family", "stand-in-models-official"
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]

# What the other distribution ships: the shared package's __init__.py (a license header, as
# Model Garden's) and a subpackage of its own.
STAND_IN_FILES = {
    "pyproject.toml": f"""[project]
name = "{THEIRS}"
version = "1.0"
[tool.setuptools.packages.find]
include = ["official*"]
""",
    "official/__init__.py": "# Copyright: the stand-in's license header, and no code.\n",
    "official/vision/__init__.py": 'OWNER = "stand-in"\n',
}

# Run in the virtual environment: which of the two APIs import, and where `official` lives.
PROBE = """
import json, os
result = {}
try:
    from official import models
    result["models"] = len(models.list_models()) > 0 and models.__file__
except ImportError as e:
    result["models"] = None
try:
    import official.vision
    result["vision"] = official.vision.OWNER
except ImportError:
    result["vision"] = None
import official
result["init"] = os.path.exists(os.path.join(list(official.__path__)[0], "__init__.py"))
print(json.dumps(result))
"""


def build_wheel(source: str, out: str) -> str:
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out, "."],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = [f for f in os.listdir(out) if f.endswith(".whl")]
    return os.path.join(out, wheel)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("wheels")
    # The project is built from a copy so the build leaves nothing in the checkout.
    ours = root / "ours"
    shutil.copytree(
        os.path.join(REPO, "official"),
        ours / "official",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(os.path.join(REPO, name), ours / name)
    theirs = root / "theirs"
    for relative, text in STAND_IN_FILES.items():
        (theirs / relative).parent.mkdir(parents=True, exist_ok=True)
        (theirs / relative).write_text(text)
    return {
        OURS: build_wheel(str(ours), str(root / "dist_ours")),
        THEIRS: build_wheel(str(theirs), str(root / "dist_theirs")),
    }


class Environment:
    """A virtual environment that reaches this one's packages (Keras, NumPy) through a .pth
    file placed after its own site-packages, so what it installs comes first."""

    def __init__(self, path, wheels: dict[str, str]):
        self.path, self.wheels = str(path), wheels
        venv.create(self.path, with_pip=False)
        self.python = os.path.join(self.path, "bin", "python")
        site = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        with open(os.path.join(site, "zz_outer.pth"), "w") as f:
            f.write(sysconfig.get_paths()["purelib"] + "\n")

    def pip(self, *args: str) -> None:
        subprocess.run(
            [*PIP, "--python", self.python, *args], check=True, capture_output=True, text=True
        )

    def install(self, dist: str) -> None:
        self.pip("install", "--no-deps", "--no-index", "-q", self.wheels[dist])

    def uninstall(self, dist: str) -> None:
        self.pip("uninstall", "-y", "-q", dist)

    def probe(self) -> dict:
        # Keras' NumPy backend: importing the models needs neither TensorFlow nor a device.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        out = subprocess.run(
            [self.python, "-I", "-c", PROBE],
            cwd=self.path,
            env={**env, "KERAS_BACKEND": "numpy"},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow  # two pip installs
@pytest.mark.parametrize("first,second", [(OURS, THEIRS), (THEIRS, OURS)])
def test_installs_beside_a_package_owning_official_init(first, second, wheels, tmp_path):
    env = Environment(tmp_path / "venv", wheels)
    env.install(first)
    env.install(second)
    both = env.probe()
    # Our models come from this environment, not from the checkout.
    assert both["models"] and both["models"].startswith(str(tmp_path)), both
    assert both["vision"] == "stand-in" and both["init"], both

    # Uninstalling the last one deletes the shared __init__.py: `official` becomes a namespace
    # package, and what the other one installed still imports.
    env.uninstall(second)
    alone = env.probe()
    assert not alone["init"], alone
    assert bool(alone["models"]) == (first == OURS), alone
    assert (alone["vision"] == "stand-in") == (first == THEIRS), alone

    # Installed again, then the first one removed instead.
    env.install(second)
    env.uninstall(first)
    other = env.probe()
    assert not other["init"], other
    assert bool(other["models"]) == (second == OURS), other
    assert (other["vision"] == "stand-in") == (second == THEIRS), other
