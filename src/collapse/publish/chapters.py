"""The book's shape: its chapters (from ``_toc.yml`` and their front matter), their parameters
and overrides (checked against the profiles' schema before anything runs), and where a build
puts its files."""
from __future__ import annotations

import dataclasses
import functools
import shlex
import shutil
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..core.io import PROJECT_ROOT
from . import profiles


@dataclasses.dataclass(frozen=True)
class Chapter:
    """One notebook page of the book. ``name`` is the file stem (``gaussian``)."""

    name: str
    source: Path          # book/<name>.md
    docname: str          # book/<name>, as in _toc.yml
    needs: tuple[str, ...]
    gathers: bool = False  # needs ["*"]: a page over every chapter's results (landing, claims)


def front_matter(path: Path) -> dict:
    """The YAML front matter of a MyST-Markdown file ({} when there is none)."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        raise ValueError(f"{path}: front matter starts with '---' but never ends")
    return yaml.safe_load(text[3:end]) or {}


def toc_docnames(root: Path = PROJECT_ROOT) -> list[str]:
    """Every document of ``_toc.yml`` in reading order (e.g. ``book/intro``)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names: list[str] = []

    def walk(entry: Any) -> None:
        if isinstance(entry, dict):
            for key in ("root", "file"):
                if key in entry:
                    names.append(str(entry[key]))
            for key in ("chapters", "sections", "parts"):
                for child in entry.get(key, []) or []:
                    walk(child)
        elif isinstance(entry, list):
            for child in entry:
                walk(child)

    walk(toc)
    return [name[:-3] if name.endswith(".md") else name for name in names]


def book_chapters(root: Path = PROJECT_ROOT) -> list[Chapter]:
    """The notebook chapters of the toc (pages with a ``kernelspec``), in reading order."""
    chapters = []
    for docname in toc_docnames(root):
        source = root / f"{docname}.md"
        if not source.is_file():
            raise FileNotFoundError(f"_toc.yml lists {docname!r} but {source} does not exist")
        meta = front_matter(source)
        if "kernelspec" not in meta:
            continue
        needs = tuple((meta.get("collapse") or {}).get("needs", []) or [])
        chapters.append(Chapter(source.stem, source, docname, needs))
    names = [chapter.name for chapter in chapters]
    gathering = {chapter.name for chapter in chapters if "*" in chapter.needs}
    resolved = []
    for chapter in chapters:
        # "*": every chapter that is not itself a page over all the others
        needs = tuple(n for n in names if n not in gathering) if "*" in chapter.needs \
            else chapter.needs
        unknown = sorted(set(needs) - set(names))
        if unknown:
            raise ValueError(f"{chapter.source}: needs {unknown}, which are not chapters in the "
                             f"toc; chapters: {names}")
        resolved.append(dataclasses.replace(chapter, needs=needs,
                                            gathers=chapter.name in gathering))
    return resolved


def content_chapters(root: Path = PROJECT_ROOT) -> list[Chapter]:
    """The chapters that write results (every notebook page but those gathering all others)."""
    return [chapter for chapter in book_chapters(root) if not chapter.gathers]


def chapter_from_path(path: Path, root: Path = PROJECT_ROOT) -> Chapter:
    """A chapter given by path (it may be outside the toc: ``collapse run book/x.md``). A
    chapter of the toc keeps the chapters it needs (their results are part of its key)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no chapter at {path}")
    if "kernelspec" not in front_matter(path):
        raise ValueError(f"{path} is not a notebook chapter (its front matter has no kernelspec)")
    if (root / "_toc.yml").is_file():
        for chapter in book_chapters(root):
            if chapter.source.resolve() == path:
                return chapter
    try:
        docname = str(path.relative_to(root).with_suffix(""))
    except ValueError:
        docname = f"book/{path.stem}"
    return Chapter(path.stem, path, docname, ())


# ----------------------------------------------------------------------------- parameters
def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["n_seeds=8", "sample_sizes=[100, 1000]"]`` -> {"n_seeds": 8, ...} (YAML values)."""
    overrides = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name.isidentifier():
            raise ValueError(f"parameter override {pair!r} must look like name=value")
        overrides[name] = yaml.safe_load(value)
    return overrides


def notebook_parameters(path: Path) -> set[str]:
    """Names assigned in the chapter's ``parameters`` cell."""
    path = Path(path).resolve()
    stat = path.stat()
    return set(_notebook_parameters(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _notebook_parameters(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    import ast
    import jupytext
    notebook = jupytext.read(path)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            return frozenset(target.id for node in tree.body if isinstance(node, ast.Assign)
                             for target in node.targets if isinstance(target, ast.Name))
    raise ValueError(f"{path} has no cell tagged 'parameters'")


def overridable_parameters(path: Path) -> set[str]:
    """The parameters ``-p`` may set: every notebook parameter but ``profile``."""
    return notebook_parameters(path) - {"profile"}


@dataclasses.dataclass(frozen=True)
class BuildPaths:
    """Where one build puts its files. ``root`` is the output root holding ``_build``; each
    profile has a build folder of its own, so no run ever writes over another profile's book:

        <root>/_build/                 the book (profile ``book``): site/, results/, cache/,
                                       stale/, work/, html/
        <root>/_build/<profile>/       the same for another profile (its HTML in _build/html)
        <root>/_build/runs/<profile>/  ``collapse run``: chapters run outside the book (no HTML)
    """

    root: Path
    profile: str = "book"
    scratch: bool = False     # a `collapse run` folder, never the book's

    @property
    def build(self) -> Path:
        """This build's folder."""
        if self.scratch:
            return self.root / "_build" / "runs" / self.profile
        if self.profile == "book":
            return self.root / "_build"
        return self.root / "_build" / self.profile

    @property
    def site(self) -> Path:
        return self.build / "site"

    @property
    def results(self) -> Path:
        return self.build / "results"

    @property
    def cache(self) -> Path:
        """Records of each chapter's last successful run, checkpoints, the HTML stamp."""
        return self.build / "cache"

    @property
    def html_output(self) -> Path:
        """The folder Jupyter Book writes ``_build/html`` into."""
        return self.root if self.build == self.root / "_build" else self.build

    @property
    def html(self) -> Path:
        return self.html_output / "_build" / "html"

    @property
    def work(self) -> Path:
        """Scratch files of running chapters (their data, checkpoint and progress logs)."""
        return self.build / "work"

    @property
    def stale(self) -> Path:
        """Outputs of chapters whose last run failed, moved out of the book."""
        return self.build / "stale"

    @property
    def lock(self) -> Path:
        return self.build / "build.lock"

    def executed(self, chapter: Chapter) -> Path:
        return self.site / f"{chapter.docname}.ipynb"


def run_command(chapter: Chapter, profile: str, overrides: dict) -> str:
    """The command that reruns ``chapter`` as this build runs it, into ``_build/runs/``
    (shown in the chapter's footer: following it never overwrites the book)."""
    try:
        source = str(chapter.source.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        source = str(chapter.source)
    words = ["collapse", "run", source, "--profile", profile]
    for name, value in overrides.items():
        shown = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
        words += ["-p", f"{name}={shown.removesuffix('...').strip()}"]
    return shlex.join(words)


def build_folders(root: Path) -> list[BuildPaths]:
    """Every build folder under ``root/_build`` that exists: each profile's book and runs."""
    folders = [BuildPaths(root, profile, scratch) for scratch in (False, True)
               for profile in profiles.PROFILE_NAMES]
    return [paths for paths in folders if paths.cache.is_dir()]


def copy_needed_results(chapters: Sequence[Chapter], paths: BuildPaths) -> list[str]:
    """For ``collapse run``: the results (and artifacts) of chapters the run needs but does not
    run, copied from the same profile's book when the run's folder has none. Returns their
    names."""
    book = BuildPaths(paths.root, paths.profile)
    running = {chapter.name for chapter in chapters}
    copied = []
    for need in sorted({need for chapter in chapters for need in chapter.needs} - running):
        source, target = book.results / f"{need}.json", paths.results / f"{need}.json"
        if target.is_file() or not source.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        for artifact in sorted((book.results / "artifacts").glob(f"{need}-*")):
            (paths.results / "artifacts").mkdir(exist_ok=True)
            shutil.copy2(artifact, paths.results / "artifacts" / artifact.name)
        copied.append(need)
    return copied


PROFILE_HINT = "'profile' is not a parameter to override: choose it with --profile"


def split_overrides(pairs: Sequence[str], chapters: Sequence[Chapter]) -> dict[str, dict]:
    """Per-chapter overrides from ``NAME=VALUE`` (every chapter taking NAME) or
    ``CHAPTER.NAME=VALUE`` (that chapter only). Names are checked here, values by
    :func:`check_overrides`."""
    names = {chapter.name: chapter for chapter in chapters}
    per_chapter: dict[str, dict] = {name: {} for name in names}
    for pair in pairs:
        target, separator, value = pair.partition("=")
        chapter, dot, parameter = target.rpartition(".")
        if not separator or not parameter.isidentifier():
            raise ValueError(f"parameter override {pair!r} must look like NAME=VALUE or "
                             f"CHAPTER.NAME=VALUE")
        if parameter == "profile":
            raise ValueError(f"{pair!r}: {PROFILE_HINT} ({', '.join(profiles.PROFILE_NAMES)})")
        parsed = parse_overrides([f"{parameter}={value}"])[parameter]
        if dot:
            if chapter not in names:
                raise ValueError(f"override for unknown chapter {chapter!r}; chapters: "
                                 f"{', '.join(sorted(names))}")
            allowed = overridable_parameters(names[chapter].source)
            if parameter not in allowed:
                raise ValueError(f"{chapter}: unknown parameter {parameter!r}; this chapter "
                                 f"takes: {', '.join(sorted(allowed)) or 'none'}")
            per_chapter[chapter][parameter] = parsed
            continue
        takers = [c.name for c in chapters if parameter in overridable_parameters(c.source)]
        if not takers:
            raise ValueError(f"no chapter being run takes a parameter {parameter!r}")
        for taker in takers:
            per_chapter[taker][parameter] = parsed
    return per_chapter


def check_overrides(chapters: Sequence[Chapter], overrides: dict[str, dict]) -> dict[str, dict]:
    """Every chapter's overrides checked before any chapter runs: names against its parameters
    cell, values against its profile schema (:mod:`collapse.publish.profiles.spec`). Returns
    them in canonical types; ValueError names the chapter, the parameter and what is allowed."""
    checked = {}
    for chapter in chapters:
        given = dict(overrides.get(chapter.name, {}))
        if "profile" in given:
            raise ValueError(f"{chapter.name}: {PROFILE_HINT}")
        allowed = overridable_parameters(chapter.source)
        unknown = sorted(set(given) - allowed)
        if unknown:
            raise ValueError(f"{chapter.name}: unknown parameter(s) {unknown}; this chapter "
                             f"takes: {', '.join(sorted(allowed)) or 'none'}")
        if chapter.name in profiles.PROFILES:
            given.update(profiles.check_overrides(chapter.name, given))
        checked[chapter.name] = given
    unknown_chapters = sorted(set(overrides) - {chapter.name for chapter in chapters})
    if unknown_chapters:
        raise ValueError(f"overrides for chapters not being run: {unknown_chapters}")
    return checked
