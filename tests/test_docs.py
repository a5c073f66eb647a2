"""README.md is a front page and docs/ holds the rest: what they name exists, the README's recipe
table says what official/configs/recipes.py holds, and docs/models.md carries the parameter
table `python -m official.models table --write docs/models.md` computes."""

import ast
import functools
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
PAGES = [README, *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]
CODE = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"^(?:official|tests|benchmarks|docs|tpu|gpu)/[^\s:(),]*")
DOTTED = re.compile(r"^official(?:\.\w+)+")
# TF Model Garden's own tree, which docs/video.md, data_ops.md, backends.md and REFERENCE.md
# cite (with its commit) where its package `official` lays out other files than this one.
OTHER_PROJECT = ("official/vision/",)
TEMPLATE = re.compile(r"[<{*]")
CI_TEST_LINE = re.compile(r"^python3 -m venv .*pytest", re.M)


def _text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _code_spans() -> list[tuple[str, str]]:
    """(page, text) for every inline code span of README.md and docs/*.md (not fenced blocks)."""
    spans = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", _text(page), flags=re.S)
        spans += [(os.path.relpath(page, ROOT), s) for s in CODE.findall(text)]
    return spans


@functools.cache
def _defined(path: str) -> set[str]:
    """Top-level and nested names a Python file defines or imports."""
    names = set()
    for node in ast.walk(ast.parse(_text(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def test_readme_is_a_front_page():
    text = _text(README)
    assert len(text.splitlines()) <= 150
    # .ci/run runs the first such line: exactly one, and the first fenced command is the main job.
    assert len(CI_TEST_LINE.findall(text)) == 1
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert first_block.strip().endswith("python official/train.py")


def test_every_repository_path_in_backticks_exists():
    missing = []
    for page, span in _code_spans():
        match = PATH.match(span.strip())
        if not match or match.group(0).startswith(OTHER_PROJECT):
            continue
        path = match.group(0).rstrip(".")
        template = TEMPLATE.search(path)
        if template:  # official/<package>/*.py: the folder above the first placeholder
            path = os.path.dirname(path[: template.start()])
        if not os.path.exists(os.path.join(ROOT, path)):
            missing.append(f"{page}: {span}")
        elif "::" in span and not template and path.endswith(".py"):
            name = span.split("::")[1].split("(")[0].strip()
            if name not in _defined(os.path.join(ROOT, path)):
                missing.append(f"{page}: {span} ({name} is not in {path})")
    assert not missing, "\n".join(missing)


def test_every_dotted_official_name_in_backticks_exists():
    """`official.serving.litert.litert_logits`: a module, then names defined in it."""
    missing = []
    for page, span in _code_spans():
        match = DOTTED.match(span.strip())
        if not match:
            continue
        parts = match.group(0).split(".")
        for i in range(len(parts), 0, -1):
            base = os.path.join(ROOT, *parts[:i])
            module = next(
                (f for f in (f"{base}.py", os.path.join(base, "__init__.py")) if os.path.isfile(f)),
                None,
            )
            if module:
                break
        rest = parts[i:]
        if module is None or (rest and rest[0] not in _defined(module)):
            missing.append(f"{page}: {span}")
    assert not missing, "\n".join(missing)


def test_every_relative_link_resolves():
    missing = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", _text(page)):
            if re.match(r"\w+://|#|mailto:", target):
                continue
            path = os.path.join(os.path.dirname(page), target.split("#")[0])
            if not os.path.exists(path):
                missing.append(f"{os.path.relpath(page, ROOT)}: {target}")
    assert not missing, "\n".join(missing)


# ---- the README's recipe table ----------------------------------------------------------------
def _recipe_rows() -> list[list[str]]:
    text = _text(README)
    table = text[text.index("| recipe | network |") :].split("\n\n")[0].splitlines()[2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table]


def _ends(cell: str) -> list[str]:
    """'`resnetrs50` ... `resnetrs420`' -> ['resnetrs50', 'resnetrs420'] (a range's two ends)."""
    return [part.strip() for part in cell.split(" ... ")]


def _names(cell: str) -> list[str]:
    return [re.search(r"`([^`]+)`", part).group(1) for part in _ends(cell)]


def test_readme_recipe_table_says_what_the_recipes_hold():
    from official.configs import recipes

    rows = _recipe_rows()
    assert len(rows) >= 8
    checked = 0
    for name_cell, network, size, length, batch, _source in rows:
        if "<" in name_cell:  # the EfficientNet-RS pattern: a name for each resolution
            assert recipes.get("efficientnet_rs_b4_i320").model.name == "efficientnet_b4"
            continue
        names, networks, sizes = _names(name_cell), _names(network), _ends(size)
        assert len(names) == len(networks) == len(sizes), name_cell
        for name, model, image_size in zip(names, networks, sizes, strict=True):
            config = recipes.get(name)
            assert config.model.name == model, name
            width = re.search(r"width ([\d.]+)", network)
            if width:
                assert config.model.kwargs["width_multiplier"] == float(width.group(1)), name
            assert config.data.image_size == int(image_size), name
            count, unit = length.replace(",", "").split()
            if unit == "epochs":
                assert (config.train.epochs, config.train.train_steps) == (int(count), None), name
            else:
                assert unit == "steps" and config.train.train_steps == int(count), name
            assert config.data.train_batch_size == int(batch.replace(",", "")), name
            checked += 1
    assert checked >= 10


# ---- docs/models.md ---------------------------------------------------------------------------
def _model_table_block() -> str:
    from official.models.__main__ import TABLE_END, TABLE_START

    text = _text(os.path.join(ROOT, "docs", "models.md"))
    assert text.count(TABLE_START) == 1 and text.count(TABLE_END) == 1
    return text[text.index(TABLE_START) + len(TABLE_START) : text.index(TABLE_END)].strip()


def test_models_md_lists_every_registered_model_with_its_family():
    from official import models

    rows = [line.strip("|").split("|") for line in _model_table_block().splitlines()[2:]]
    listed = [(name.strip(), family.strip()) for name, family, _ in rows]
    assert listed == [(n, models.entry(n).family) for n in models.list_models()]


@pytest.mark.slow
def test_models_md_carries_the_computed_parameter_table():
    """What `python -m official.models table --write docs/models.md` would write (about 40 s:
    every model is built, without values for its variables)."""
    from official.models.__main__ import model_table

    assert _model_table_block() == model_table()
