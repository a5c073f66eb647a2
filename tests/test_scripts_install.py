"""Every script README.md, docs/*.md or benchmarks/RESULTS.md tells a user to run works after the
README's main install (requirements.txt), or says in one line which extra it needs."""

import ast
import glob
import importlib.metadata
import os
import re
import runpy
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = re.compile(r"python3? (?:-m )?((?:official|benchmarks)[\w./]*\w)")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_import_names() -> set[str]:
    """Top-level import names of the distributions requirements.txt installs (as installed)."""
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        required = {
            _normalize(line.split("==")[0].strip())
            for line in f
            if line.strip() and not line.startswith("#")
        }
    return {
        name
        for name, dists in importlib.metadata.packages_distributions().items()
        if any(_normalize(d) in required for d in dists)
    }


def named_scripts() -> set[str]:
    """Files of the scripts the documents run (`python x.py`, `python -m pkg.mod`)."""
    files = set()
    docs = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    for doc in ("README.md", *docs, "benchmarks/RESULTS.md"):
        with open(os.path.join(ROOT, doc)) as f:
            for name in SCRIPT.findall(f.read()):
                path = name if name.endswith(".py") else name.replace(".", "/")
                for candidate in (path, f"{path}.py", f"{path}/__main__.py"):
                    if os.path.isfile(os.path.join(ROOT, candidate)):
                        files.add(candidate)
    return files


def module_file(module: str) -> str | None:
    path = module.replace(".", "/")
    for candidate in (f"{path}.py", f"{path}/__init__.py"):
        if os.path.isfile(os.path.join(ROOT, candidate)):
            return candidate
    return None


def top_level_imports(path: str) -> set[str]:
    """Modules imported where the file's code runs at import or as a script: module level,
    including `if`/`try` blocks (e.g. `if __name__ == "__main__":`), not inside functions."""
    with open(os.path.join(ROOT, path)) as f:
        tree = ast.parse(f.read())
    found, pending = set(), list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for field in ("body", "orelse", "finalbody", "handlers"):
                pending.extend(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)
    return found


def test_named_scripts_import_only_what_the_main_install_provides():
    allowed = runtime_import_names() | set(sys.stdlib_module_names)
    assert {"tensorflow", "keras", "yaml", "PIL", "absl"} <= allowed
    assert "skimage" not in allowed and "pytest" not in allowed  # requirements-test.txt
    scripts = named_scripts()
    assert {"official/train.py", "benchmarks/input_pipeline.py", "official/benchmark.py"} <= scripts
    problems, seen, pending = [], set(), [(s, s) for s in sorted(scripts)]
    while pending:
        path, script = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in top_level_imports(path):
            root = module.split(".")[0]
            if root in ("official", "benchmarks"):
                parts = module.split(".")
                for i in range(1, len(parts) + 1):  # the package __init__s run too
                    local = module_file(".".join(parts[:i]))
                    if local:
                        pending.append((local, script))
            elif root not in allowed:
                problems.append(f"{script} imports {module} (through {path})")
    assert not problems, problems


SKIMAGE = ("skimage", "shipped with scikit-image", "pip install -r requirements-test.txt")
TORCH = ("torch", "runs timm's models", "pip install torch timm safetensors")
LITERT = ("ai_edge_litert", "runs .tflite files with ai-edge-litert", SKIMAGE[2])


@pytest.mark.parametrize(
    "script,has_help,extra",
    [
        ("benchmarks/input_pipeline.py", True, SKIMAGE),
        ("benchmarks/skipping_decode.py", True, SKIMAGE),
        ("benchmarks/serving_latency.py", True, SKIMAGE),
        ("benchmarks/data_ops_differences.py", False, SKIMAGE),
        ("benchmarks/fidelity_timm.py", True, TORCH),
        ("benchmarks/litert_latency.py", True, LITERT),
        ("benchmarks/litert_stages.py", True, LITERT),
    ],
)
def test_scripts_with_an_extra_give_help_and_one_line_without_it(
    script, has_help, extra, monkeypatch, capsys
):
    module, says, install = extra
    monkeypatch.setitem(sys.modules, module, None)  # `import <module>` raises ImportError
    path = os.path.join(ROOT, script)
    if has_help:
        monkeypatch.setattr(sys, "argv", [path, "--help"])
        with pytest.raises(SystemExit) as status:
            runpy.run_path(path, run_name="__main__")
        assert status.value.code == 0 and capsys.readouterr().out.startswith("usage:")
    monkeypatch.setattr(sys, "argv", [path])
    with pytest.raises(SystemExit) as status:
        runpy.run_path(path, run_name="__main__")
    message = status.value.code
    assert isinstance(message, str) and "\n" not in message
    assert message.startswith(f"error: {script} ") and says in message
    assert message.endswith(install)
