"""The import structure docs/architecture.md describes, read from the source of official/ (every
import statement, inside functions too): packages import one way down the floors, nothing
imports the programs at the root, no module circle, no sys.path edit outside the programs,
and BUILD's library targets list exactly the packages their sources import."""

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFICIAL = os.path.join(ROOT, "official")

# docs/architecture.md: a package may import its own modules and packages on lower floors.
FLOORS = {
    "console": 0,
    "layers": 0,
    "weights": 1,
    "models": 2,
    "configs": 3,
    "data": 4,
    "serving": 5,
    "training": 6,
}


def _modules() -> dict[str, str]:
    """Dotted module name -> file, for every module under official/."""
    found = {}
    for directory, _, files in os.walk(OFFICIAL):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(directory, file)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str, path: str) -> set[str]:
    """The official.* modules `name` imports (a package when the name is not a module)."""
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "official")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.split(".")[0] != "official":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _is_program(name: str) -> bool:
    """The programs: official/<program>.py at the root and a package's __main__.py."""
    return (name.count(".") == 1 and not MODULES[name].endswith("__init__.py")) or name.endswith(
        ".__main__"
    )


def _package(name: str) -> str | None:
    """The package under official/ that `name` belongs to; None for the root and its programs."""
    parts = name.split(".")
    if len(parts) > 2 or (len(parts) == 2 and MODULES.get(name, "").endswith("__init__.py")):
        return parts[1]
    return None


def test_every_package_has_a_floor():
    packages = {_package(n) for n in MODULES} - {None}
    assert packages == set(FLOORS), "add the new package to FLOORS and docs/architecture.md"


def test_packages_import_only_their_own_floor_downwards_and_never_the_programs():
    wrong = []
    for name, imported in IMPORTS.items():
        if _is_program(name) or name == "official":
            continue
        own = _package(name)
        for target in imported:
            other = _package(target)
            if other is None and target != "official":
                wrong.append(f"{name} imports the program {target}")
            elif other not in (None, own) and FLOORS[other] >= FLOORS[own]:
                wrong.append(f"{name} ({own}, floor {FLOORS[own]}) imports {target} ({other})")
    assert not wrong, "\n".join(sorted(wrong))


def test_programs_never_import_each_other():
    wrong = [
        f"{name} imports {target}"
        for name, imported in IMPORTS.items()
        if _is_program(name)
        for target in imported
        if target in MODULES and _is_program(target)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_import_circle():
    """Tarjan's strongly connected components over module -> module edges."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in IMPORTS.get(node, ()):
            if target not in MODULES or target == node:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert not circles, circles


def test_only_the_programs_edit_sys_path_once_each():
    pattern = re.compile(r"^\s*sys\.path\.(insert|append)\(", re.M)
    for name, path in MODULES.items():
        count = len(pattern.findall(open(path).read()))
        if _is_program(name) and not name.endswith(".__main__"):
            assert count <= 1, f"{path} edits sys.path {count} times"
        else:
            assert count == 0, f"{path}: a library module edits sys.path"


def test_cpu_mirrored_strategies_come_from_one_place():
    """official/training/runtime.get_strategy builds the CPU MirroredStrategy with
    ReductionToOneDevice: two strategies with the default CPU collectives in one process (one
    pytest worker) reuse collective instance keys and abort each other's all-reduce."""
    runtime = os.path.join(OFFICIAL, "training", "runtime.py")
    for folder in (OFFICIAL, os.path.join(ROOT, "tests")):
        for directory, _, files in os.walk(folder):
            for file in files:
                path = os.path.join(directory, file)
                if file.endswith(".py") and path not in (runtime, os.path.abspath(__file__)):
                    text = open(path).read().replace("MultiWorkerMirroredStrategy(", "")
                    assert "MirroredStrategy(" not in text, (
                        f"{path} builds a MirroredStrategy; use runtime.get_strategy('mirrored')"
                    )


def _build_libraries() -> dict[str, tuple[str, set[str]]]:
    """BUILD's py_library targets: name -> (the package its glob covers, its deps)."""
    text = open(os.path.join(ROOT, "BUILD")).read()
    found = {}
    for block in re.findall(r"py_library\((.*?)\n\)", text, re.S):
        name = re.search(r'name = "(\w+)"', block).group(1)
        glob = re.search(r'glob\(\s*\["official/(\w+)/\*\.py"\]', block)
        listed = block.split("deps =")[1] if "deps =" in block else ""
        deps = set(re.findall(r'":(\w+)"', listed))
        if glob:
            found[name] = (glob.group(1), deps)
    return found


def test_build_library_targets_list_the_packages_their_sources_import():
    libraries = _build_libraries()
    assert {package for package, _ in libraries.values()} == set(FLOORS)
    for name, (package, deps) in libraries.items():
        imported = {
            _package(target)
            for module, targets in IMPORTS.items()
            if _package(module) == package and not _is_program(module)
            for target in targets
        } - {package, None}
        assert deps == imported, f"BUILD :{name} deps {sorted(deps)}; its sources import {imported}"
