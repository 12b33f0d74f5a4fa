"""A cache that cannot lie: when a chapter may be skipped, and what happens to outputs that are
no longer current.

A chapter is skipped only when its *record* (``<build>/cache/chapters/<name>.json``, written
after its last successful run) still matches everything its output depends on:

* its key: the chapter's source, profile and overrides, the results of the chapters it needs,
  and the sha256 of every ``collapse`` module it imports (followed through the package's own
  imports, not the whole package: an edit to the VAE code does not rerun the Gaussian chapter);
* the data files it read (their sha256, noted by :mod:`collapse.core.data` while it ran);
* its outputs: the results file and executed notebook still have the hashes recorded when they
  were written (a truncated or edited results file reruns the chapter).

A run that fails or is interrupted moves the chapter's previous outputs aside
(``<build>/stale/``) and marks its HTML page, and the pages that use its results, as from an
earlier run (:func:`collapse.publish.site.mark_pages_stale`); so does :func:`mark_outdated` for
the pages of chapters that ran again when the HTML was not rebuilt after them. Checkpoint
folders the loop wrote are noted per run; :func:`prune_checkpoints` removes those no record
points to.
"""
from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..core.data import data_root
from ..core.io import CHECKPOINT_LOG, DATA_LOG, atomic_write_bytes, sha256_of
from .chapters import BuildPaths, Chapter
from .site import mark_pages_stale

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # src/collapse


# ----------------------------------------------------------------------------- code
def _module_file(module: str, package_dir: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] != package_dir.name:
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.AST, package: str) -> set[str]:
    """Module names an AST imports (``from x import y`` gives x and x.y), relative imports
    resolved against ``package``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def code_cells(source: Path) -> str:
    """The Python of a MyST notebook's code cells (IPython magics and shell lines dropped)."""
    import jupytext
    notebook = jupytext.read(source)
    lines = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            lines += [line for line in cell.source.splitlines()
                      if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def imported_files(source: Path, package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Every file of the package at ``package_dir`` a chapter (or module) at ``source``
    imports, directly or through the package's own imports (imports inside functions
    included). A module that imports by name (``import_module``) brings in every module of its
    folder."""
    text = code_cells(source) if source.suffix == ".md" else source.read_text()
    pending = [(ast.parse(text), "")]
    seen: set[Path] = set()
    while pending:
        tree, package = pending.pop()
        modules = {parent for name in _imports(tree, package) for parent in _with_parents(name)}
        for module in sorted(modules):
            path = _module_file(module, package_dir)
            if path is None or path in seen:
                continue
            seen.add(path)
            code = path.read_text()
            own = module if path.name == "__init__.py" else module.rpartition(".")[0]
            pending.append((ast.parse(code), own))
            if "import_module(" in code:
                siblings = ".".join([package_dir.name, *path.parent.relative_to(
                    package_dir).parts])
                pending.append((ast.parse("\n".join(
                    f"import {siblings}.{other.stem}" for other in sorted(
                        path.parent.glob("*.py")) if other.stem != "__init__")), own))
    return sorted(seen)


def code_fingerprint(source: Path, package_dir: Path = PACKAGE_DIR) -> dict[str, str]:
    """{file relative to the package's parent: sha256} of :func:`imported_files`."""
    return {str(path.relative_to(package_dir.parent)): sha256_of(path)
            for path in imported_files(source, package_dir)}


# ----------------------------------------------------------------------------- keys
def key_parts(chapter: Chapter, profile: str, overrides: Mapping, results: Path,
              package_dir: Path = PACKAGE_DIR) -> dict:
    """What a chapter's output depends on, known before it runs: its source, profile and
    overrides, the code it imports, and the results of the chapters it needs."""
    return {
        "source": sha256_of(chapter.source),
        "settings": {"profile": profile, "overrides": json.loads(
            json.dumps(dict(overrides), sort_keys=True, default=str))},
        "code": code_fingerprint(chapter.source, package_dir),
        "needs": {need: sha256_of(results / f"{need}.json")
                  if (results / f"{need}.json").is_file() else "missing"
                  for need in chapter.needs},
    }


def key_of(parts: Mapping) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _changes(old: Mapping, new: Mapping) -> str:
    """What differs between two key parts, in a few words."""
    said = []
    if old.get("source") != new["source"]:
        said.append("its source changed")
    if old.get("settings") != new["settings"]:
        said.append(f"settings changed to {new['settings']}")
    code_old, code_new = old.get("code", {}), new["code"]
    changed = sorted(name for name in set(code_old) | set(code_new)
                     if code_old.get(name) != code_new.get(name))
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if changed[3:] else "")
        said.append(f"code changed ({shown})")
    needs = sorted(name for name in new["needs"] if old.get("needs", {}).get(name)
                   != new["needs"][name])
    if needs:
        said.append(f"results of {', '.join(needs)} changed")
    return "; ".join(said) or "its key changed"


# ----------------------------------------------------------------------------- records
@dataclasses.dataclass
class Run:
    """One run of one chapter, from its start to the record it leaves."""

    chapter: Chapter
    paths: BuildPaths
    parts: dict

    @property
    def key(self) -> str:
        return key_of(self.parts)

    @property
    def data_log(self) -> Path:
        return self.paths.work / f"{self.chapter.name}.data.log"

    @property
    def checkpoint_log(self) -> Path:
        return self.paths.work / f"{self.chapter.name}.checkpoints.log"

    def begin(self) -> dict[str, str]:
        """Forget the previous record (so an interrupted run reruns) and start empty logs.
        Returns the environment the chapter's kernel needs."""
        record_path(self.paths, self.chapter).unlink(missing_ok=True)
        self.paths.work.mkdir(parents=True, exist_ok=True)
        for log in (self.data_log, self.checkpoint_log):
            log.write_text("")
        return {DATA_LOG: str(self.data_log), CHECKPOINT_LOG: str(self.checkpoint_log)}

    def finish(self) -> dict:
        """Write the record of a successful run: the key, the hashes of the outputs, the data
        files read and the checkpoint folders used."""
        data = {}
        for line in _lines(self.data_log):
            entry = json.loads(line)
            data[entry["path"]] = entry["sha256"]
        outputs = {name: {"path": str(path.relative_to(self.paths.build)),
                          "sha256": sha256_of(path)}
                   for name, path in chapter_outputs(self.chapter, self.paths).items()
                   if path.is_file()}
        record = {"chapter": self.chapter.name, "key": self.key, "parts": self.parts,
                  "outputs": outputs, "data": data,
                  "checkpoints": sorted(set(_lines(self.checkpoint_log))),
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        atomic_write_bytes(record_path(self.paths, self.chapter),
                           json.dumps(record, indent=1).encode())
        self.data_log.unlink(missing_ok=True)
        self.checkpoint_log.unlink(missing_ok=True)
        return record


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()] \
        if path.is_file() else []


def record_path(paths: BuildPaths, chapter: Chapter | str) -> Path:
    name = chapter if isinstance(chapter, str) else chapter.name
    return paths.cache / "chapters" / f"{name}.json"


def chapter_outputs(chapter: Chapter, paths: BuildPaths) -> dict[str, Path]:
    return {"executed": paths.executed(chapter),
            "results": paths.results / f"{chapter.name}.json"}


def read_record(paths: BuildPaths, chapter: Chapter | str) -> dict | None:
    try:
        return json.loads(record_path(paths, chapter).read_text())
    except (OSError, ValueError):
        return None


def why_run(chapter: Chapter, parts: Mapping, paths: BuildPaths) -> str | None:
    """None when ``chapter`` may be skipped; otherwise why it must run, in a few words."""
    record = read_record(paths, chapter)
    if record is None:
        return "no record of a successful run"
    if record.get("key") != key_of(parts):
        return _changes(record.get("parts", {}), parts)
    for name, output in record.get("outputs", {}).items():
        path = paths.build / output["path"]
        if not path.is_file():
            return f"its {name} file {path.name} is missing"
        if sha256_of(path) != output["sha256"]:
            return f"its {name} file {path.name} changed since it was written"
    if "executed" not in record.get("outputs", {}):
        return "its executed notebook is missing"
    root = data_root()
    for name, sha256 in record.get("data", {}).items():
        path = Path(name) if os.path.isabs(name) else root / name
        if not path.is_file():
            return f"data file {path} is missing"
        if sha256_of(path) != sha256:
            return f"data file {path} changed"
    return None


# ----------------------------------------------------------------------------- stale outputs
def move_aside(chapter: Chapter, paths: BuildPaths, reason: str) -> list[Path]:
    """Move a chapter's outputs out of the book into ``<build>/stale/`` with a note saying why
    (its last run failed or was interrupted); they are never shown as current. Returns the
    files moved."""
    moved = []
    for path in chapter_outputs(chapter, paths).values():
        if path.is_file():
            target = paths.stale / path.relative_to(paths.build)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            moved.append(target)
    note = paths.stale / f"{chapter.name}.txt"
    note.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(note, f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}: {reason}\n".encode())
    record_path(paths, chapter).unlink(missing_ok=True)
    return moved


# ----------------------------------------------------------------------------- checkpoints
def checkpoint_folders(root: Path) -> list[Path]:
    """Folders under ``root`` holding loop checkpoints (``generation-*.pkl``)."""
    return sorted({path.parent for path in root.rglob("generation-*.pkl")})


def referenced_checkpoints(paths: BuildPaths) -> set[Path]:
    """Checkpoint folders a record points to, or that a run which has not finished (failed
    or interrupted: it resumes from them) noted."""
    used: set[str] = set()
    for record_file in (paths.cache / "chapters").glob("*.json"):
        record = read_record(paths, record_file.stem) or {}
        used |= set(record.get("checkpoints", []))
    for log in paths.work.glob("*.checkpoints.log"):
        used |= set(_lines(log))
    return {Path(name).resolve() for name in used}


def prune_checkpoints(paths: BuildPaths, dry_run: bool = False) -> list[tuple[Path, int]]:
    """Remove the checkpoint folders under ``<build>/cache`` that no record points to.
    Returns (folder, bytes) of each removed (or, with ``dry_run``, removable) folder."""
    keep = referenced_checkpoints(paths)
    removed = []
    for folder in checkpoint_folders(paths.cache):
        if folder.resolve() in keep:
            continue
        size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        if not dry_run:
            shutil.rmtree(folder)
        removed.append((folder, size))
    return removed


def dependents(chapter: Chapter, chapters: Iterable[Chapter]) -> list[Chapter]:
    """The chapters that read ``chapter``'s results."""
    return [other for other in chapters if chapter.name in other.needs]


def mark_outdated(chapters: Sequence[Chapter], report: dict, paths: BuildPaths,
                  why: str) -> list[Path]:
    """Warn at the top of the built pages of the chapters that ran (and of the pages using
    their results) that they are older than the results files: the HTML was not rebuilt."""
    ran = [chapter for chapter in chapters if report.get(chapter.name, {}).get("status") == "ran"]
    if not ran or not paths.html.is_dir():
        return []
    when = time.strftime("%Y-%m-%d %H:%M")
    docnames = {chapter.docname for chapter in ran}
    docnames |= {other.docname for chapter in ran for other in dependents(chapter, chapters)}
    return mark_pages_stale(paths, sorted(docnames),
                            f"Chapters shown here ran again ({when}, profile {paths.profile}) "
                            f"but the HTML was not rebuilt ({why}): this page may show "
                            f"numbers older than the results files. Build the book again.")
