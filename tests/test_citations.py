"""The repository cites its own reference: every `docs/REFERENCE.md §x.y` in code, tests and docs
names a section that exists there, and nothing cites the old SPEC or a file outside the
repository (users only have the repository)."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CITATION = re.compile(r"docs/REFERENCE\.md §(\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?(?:, \d+(?:\.\d+)?)*)")
SOURCES = ("official", "tests", "benchmarks", "docs", "tpu", "gpu")


def _files():
    yield os.path.join(ROOT, "README.md")
    yield os.path.join(ROOT, "BUILD")
    for top in SOURCES:
        for folder, _, names in os.walk(os.path.join(ROOT, top)):
            for name in names:
                if name.endswith((".py", ".md", ".sh", ".yaml")):
                    yield os.path.join(folder, name)


def _sections() -> set[str]:
    with open(os.path.join(ROOT, "docs", "REFERENCE.md"), encoding="utf-8") as f:
        return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[ .]", f.read(), re.M))


def _cited(text: str) -> list[str]:
    numbers = []
    for group in CITATION.findall(text):
        for part in group.split(", "):
            numbers += part.split("-")
    return numbers


def test_the_citation_pattern_reads_ranges_and_lists():
    text = "docs/REFERENCE.md §1.1-1.3, 1.5 and docs/REFERENCE.md §4."
    assert _cited(text) == ["1.1", "1.3", "1.5", "4"]


def test_every_cited_section_exists():
    sections = _sections()
    assert {"1.1", "1.8", "2.5", "3", "4"} <= sections
    missing = []
    for path in _files():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        missing += [(os.path.relpath(path, ROOT), n) for n in _cited(text) if n not in sections]
    assert not missing, missing


def test_nothing_cites_the_old_spec_or_files_outside_the_repository():
    this = os.path.abspath(__file__)
    outside = re.compile(r"\bSPEC \d|SPEC\.md|\.\./shared/|shared/seeds|shared/reference")
    found = []
    for path in _files():
        if os.path.abspath(path) == this:
            continue
        with open(path, encoding="utf-8") as f:
            found += [os.path.relpath(path, ROOT) for line in f if outside.search(line)]
    assert not found, sorted(set(found))
