"""The layout shows the architecture, and a test keeps it that way (issue 11).

Layers, bottom up: ``collapse.core`` (the loop and what every family shares) imports nothing
else of collapse; ``collapse.publish`` (the book machinery) imports the core only, never a
family; each family package imports the core and the book machinery. Inside a family,
``family.py``/``model.py`` (fitting and sampling) import only the core and the family's own
lower modules; only ``experiments``/``claims`` read profile settings; only the comparison
chapters import other families, and never from their ``family.py``.
"""
from __future__ import annotations

import ast
import importlib
import textwrap
from pathlib import Path

import pytest

from collapse.core.experiment import PROTOCOL, check_protocol
from collapse.publish import runner
from conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "src" / "collapse"
UPPER = {"experiments", "figures", "claims", "text", "__init__"}  # a family's upper modules
MODEL_MODULES = {"family", "model"}                               # fitting and sampling only
COMPARISONS = {"error_sources", "escaping", "curation"}           # chapters across families


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every ``collapse...`` module ``path`` imports (relative imports resolved)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return {module for module in found if module.split(".")[0] == root.name}


def layer(module: str) -> tuple[str, str]:
    """(layer, family) of a collapse module: ("core"|"publish"|"family"|"top", name)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "top", ""
    if parts[1] in ("core", "publish"):
        return parts[1], ""
    return "family", parts[1]


def violations(root: Path) -> list[str]:
    """Every import of the package at ``root`` that breaks the layering rules."""
    broken = []
    known = {module_name(path, root) for path in root.rglob("*.py")}
    for path in sorted(root.rglob("*.py")):
        source = module_name(path, root)
        kind, family = layer(source)
        stem = path.stem
        for target in sorted(imported_modules(path, root)):
            if target not in known and target.rpartition(".")[0] in known:
                target = target.rpartition(".")[0]  # "from .x import name": the module is .x
            if target == source or target == root.name:
                continue
            target_kind, target_family = layer(target)
            where = f"{source} imports {target}"
            if kind == "core" and target_kind != "core":
                broken.append(f"{where}: the core imports nothing else of collapse")
            if kind == "publish" and target_kind == "family":
                broken.append(f"{where}: the book machinery imports no family")
            if target.endswith("publish.profiles") and kind == "family" \
                    and stem not in ("experiments", "claims"):
                broken.append(f"{where}: only experiments and claims read profile settings")
            if kind != "family":
                continue
            if target_kind == "family" and target_family != family:
                if family not in COMPARISONS or stem in MODEL_MODULES:
                    broken.append(f"{where}: a family does not import another family")
            if stem in MODEL_MODULES:
                sibling_upper = target_family == family and target.split(".")[-1] in UPPER
                if target_kind == "publish" or sibling_upper:
                    broken.append(f"{where}: {stem}.py imports only the core and the "
                                  f"family's own lower modules")
    return sorted(set(broken))


def test_the_package_follows_its_layering_rules():
    assert violations(PACKAGE) == []


def test_the_layering_check_can_fail(tmp_path):
    root = tmp_path / "collapse"
    files = {
        "__init__.py": "",
        "core/__init__.py": "", "core/loop.py": "from ..publish import records\n",
        "publish/__init__.py": "", "publish/profiles.py": "",
        "publish/records.py": "from collapse.toy import family\n",
        "toy/__init__.py": "", "toy/family.py": "from ..publish import plotting\n",
        "toy/figures.py": "from collapse.publish import profiles\n",
        "other/__init__.py": "", "other/experiments.py": "from ..toy.family import Toy\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    found = "\n".join(violations(root))
    for expected in ("the core imports nothing else", "the book machinery imports no family",
                     "family.py imports only the core",
                     "only experiments and claims read profile settings",
                     "a family does not import another family"):
        assert expected in found, (expected, found)


@pytest.mark.parametrize("chapter", [c.name for c in runner.book_chapters(PROJECT_ROOT)
                                     if not c.gathers])
def test_every_chapter_package_implements_the_experiment_protocol(chapter):
    check_protocol(importlib.import_module(f"collapse.{chapter}"))


def test_no_module_is_much_longer_than_500_lines():
    long = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
            for path in PACKAGE.rglob("*.py") if len(path.read_text().splitlines()) > 560}
    assert not long, long
