"""The ``collapse`` command behind ``make book``: execute chapters, then build the HTML.

Each chapter is a MyST-Markdown notebook in ``book/``. ``collapse build`` converts it with
jupytext, executes it once with papermill under a profile (``smoke``, ``book``, ``paper``) and
optional parameter overrides, and builds the HTML with Jupyter Book 1.x with execution off and
Sphinx warnings treated as errors. Executed notebooks and results live under the build
directory, never beside the sources:

    <output root>/_build/site/       the book as Sphinx sees it (executed .ipynb + static pages)
    <output root>/_build/results/    <chapter>.json, one per executed chapter
    <output root>/_build/cache/      cache keys: a chapter whose source, parameters, collapse
                                     code and inputs are unchanged is not executed again
    <output root>/_build/html/       the built book

A chapter may read other chapters' results: list them in its front matter as
``collapse: {needs: [gaussian, gmm]}`` (``["*"]`` = every other chapter in the toc); it then
runs after them, and reruns when their results change.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Sequence


from ..core.io import PROJECT_ROOT, atomic_write_bytes
from .chapters import (BuildPaths, Chapter, book_chapters, chapter_from_path,
                       notebook_parameters, split_overrides)
from .profiles import PROFILE_NAMES
from .site import BookBuildFailed, build_html, stage_site

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the whole collapse package
CACHE_VARIABLES = {  # tool caches kept inside the project (nothing written under ~)
    "MPLCONFIGDIR": "matplotlib", "IPYTHONDIR": "ipython", "JUPYTER_DATA_DIR": "jupyter",
    "JUPYTER_CONFIG_DIR": "jupyter-config", "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
    "SCIKIT_LEARN_DATA": "scikit_learn", "HF_HOME": "huggingface", "TORCH_HOME": "torch",
    "XDG_CACHE_HOME": "xdg/cache", "XDG_CONFIG_HOME": "xdg/config", "XDG_DATA_HOME": "xdg/data",
    "XDG_STATE_HOME": "xdg/state",
}


class ChapterFailed(RuntimeError):
    """A chapter raised an error while executing; the message holds the cell's traceback."""


# ----------------------------------------------------------------------------- cache keys
def collapse_code_digest() -> str:
    """sha256 over every source file of the collapse package (a change reruns chapters)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def chapter_key(chapter: Chapter, profile: str, overrides: dict, results: Path,
                code_digest: str) -> str:
    """What a chapter's output depends on: its source, profile, overrides, the collapse code,
    and the results of the chapters it needs."""
    digest = hashlib.sha256()
    digest.update(chapter.source.read_bytes())
    digest.update(json.dumps({"profile": profile, "overrides": overrides},
                             sort_keys=True, default=str).encode())
    digest.update(code_digest.encode())
    for need in chapter.needs:
        path = results / f"{need}.json"
        digest.update(path.read_bytes() if path.is_file() else b"missing")
    return digest.hexdigest()


# ----------------------------------------------------------------------------- execution
def configure_environment(project_root: Path = PROJECT_ROOT) -> None:
    """Keep tool caches inside the project and never reach a model hub (unless set already)."""
    cache = project_root / ".cache"
    for variable, folder in CACHE_VARIABLES.items():
        os.environ.setdefault(variable, str(cache / folder))
        Path(os.environ[variable]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def execute_chapter(chapter: Chapter, profile: str, overrides: dict, paths: BuildPaths,
                    progress_bar: bool = False) -> float:
    """Execute one chapter with papermill; write the executed notebook atomically.

    Returns the wall time in seconds. Raises ChapterFailed with the failing cell's traceback.
    """
    import jupytext
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    allowed = notebook_parameters(chapter.source)
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"{chapter.name}: unknown parameter(s) {unknown}; this chapter takes: "
                         f"{', '.join(sorted(allowed))}")
    target = paths.executed(chapter)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = paths.build / "work"
    work.mkdir(parents=True, exist_ok=True)
    source_notebook = work / f"{chapter.name}.source.ipynb"
    output_notebook = work / f"{chapter.name}.executed.ipynb"
    nbformat.write(jupytext.read(chapter.source), source_notebook)
    os.environ["COLLAPSE_RESULTS_DIR"] = str(paths.results)  # inherited by the kernel
    os.environ.pop("MPLBACKEND", None)  # kernels must use the inline backend to keep figures
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source_notebook), str(output_notebook),
            parameters={"profile": profile, **overrides}, kernel_name="python3",
            cwd=str(chapter.source.parent), progress_bar=progress_bar,
            request_save_on_cell_execute=False, log_output=False)
    except PapermillExecutionError as error:
        raise ChapterFailed(format_cell_error(chapter, error)) from None
    elapsed = time.perf_counter() - started
    notebook = nbformat.read(output_notebook, as_version=4)
    tidy_executed_notebook(notebook)
    atomic_write_bytes(target, nbformat.writes(notebook).encode())
    output_notebook.unlink(missing_ok=True)
    return elapsed


def format_cell_error(chapter: Chapter, error) -> str:
    """The failing cell's source and traceback, ANSI colours removed."""
    import re
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    traceback = "\n".join(ansi.sub("", line) for line in error.traceback)
    return (f"chapter {chapter.name!r} ({chapter.source}) failed in cell "
            f"{error.exec_count}:\n--- cell source ---\n{error.source}\n--- traceback ---\n"
            f"{traceback}\n{error.ename}: {ansi.sub('', str(error.evalue))}")


def tidy_executed_notebook(notebook) -> None:
    """Collapse the parameter cells in the HTML (remove papermill's too when the page removes
    its own: ``remove-cell``), give claim tables the page's full width, and drop papermill's
    run metadata."""
    hide = "hide-cell"
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags and "remove-cell" in tags:
            hide = "remove-cell"
        if "parameters" in tags or "injected-parameters" in tags:
            if hide not in tags:
                cell.metadata["tags"] = [*tags, hide]
        if any('class="claim-check"' in str(output.get("data", {}).get("text/html", ""))
               for output in cell.get("outputs", [])) and "full-width" not in tags:
            cell.setdefault("metadata", {})["tags"] = [*cell.metadata.get("tags", []),
                                                       "full-width"]  # wide claim tables
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    notebook.metadata.pop("papermill", None)


def is_up_to_date(chapter: Chapter, key: str, paths: BuildPaths) -> bool:
    """True when ``chapter`` last ran with this ``key`` and its outputs are still there."""
    key_file = paths.cache / f"{chapter.name}.key"
    if not key_file.is_file() or not paths.executed(chapter).is_file():
        return False
    recorded, _, outputs = key_file.read_text().partition("\n")
    if recorded != key:
        return False
    return outputs != "results" or (paths.results / f"{chapter.name}.json").is_file()


# ----------------------------------------------------------------------------- scheduling
class Progress:
    """One line per event on stderr, safe across threads."""

    def __init__(self, total: int, stream=None):
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.lock = threading.Lock()
        self.started = time.perf_counter()

    def say(self, message: str) -> None:
        with self.lock:
            elapsed = time.perf_counter() - self.started
            print(f"[{elapsed:7.1f}s] {message}", file=self.stream, flush=True)

    def finished(self, message: str) -> None:
        with self.lock:
            self.done += 1
        self.say(f"({self.done}/{self.total}) {message}")


def run_chapters(chapters: Sequence[Chapter], profile: str, overrides: dict, paths: BuildPaths,
                 jobs: int = 1, force: bool = False) -> dict[str, dict]:
    """Execute ``chapters`` (each after the chapters it needs), skipping unchanged ones.

    Returns name -> {"status": "ran" | "skipped", "seconds": wall time}. Stops at the first
    failure (running chapters finish, no new ones start) and raises ChapterFailed.
    """
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILE_NAMES)}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    names = {chapter.name for chapter in chapters}
    code_digest = collapse_code_digest()
    paths.cache.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(chapters))
    report: dict[str, dict] = {}
    pending = {chapter.name: chapter for chapter in chapters}
    running: dict[concurrent.futures.Future, tuple[Chapter, str]] = {}
    failure: ChapterFailed | None = None

    def ready(chapter: Chapter) -> bool:
        return all(need in report for need in chapter.needs if need in names)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            for name, chapter in list(pending.items()):
                if failure is not None or len(running) >= jobs or not ready(chapter):
                    continue
                del pending[name]
                chapter_overrides = overrides.get(name, {})
                key = chapter_key(chapter, profile, chapter_overrides, paths.results,
                                  code_digest)
                if not force and is_up_to_date(chapter, key, paths):
                    report[name] = {"status": "skipped", "seconds": 0.0}
                    progress.finished(f"{name}: unchanged, skipped")
                    continue
                progress.say(f"{name}: executing under profile '{profile}'"
                             + (f" with {chapter_overrides}" if chapter_overrides else ""))
                (paths.cache / f"{name}.key").unlink(missing_ok=True)
                future = pool.submit(execute_chapter, chapter, profile, chapter_overrides,
                                     paths, progress_bar=(jobs == 1 and sys.stderr.isatty()))
                running[future] = (chapter, key)
            if not running:
                if pending and failure is None:
                    raise ValueError(f"chapters {sorted(pending)} need chapters that are not "
                                     f"being built")
                break
            done, _ = concurrent.futures.wait(running, return_when="FIRST_COMPLETED")
            for future in done:
                chapter, key = running.pop(future)
                try:
                    seconds = future.result()
                except ChapterFailed as error:
                    failure = failure or error
                    progress.say(f"{chapter.name}: FAILED")
                    continue
                except Exception as error:
                    failure = failure or ChapterFailed(f"chapter {chapter.name!r}: {error!r}")
                    progress.say(f"{chapter.name}: FAILED")
                    continue
                wrote_results = (paths.results / f"{chapter.name}.json").is_file()
                atomic_write_bytes(paths.cache / f"{chapter.name}.key",
                                   f"{key}\n{'results' if wrote_results else 'no-results'}"
                                   .encode())
                report[chapter.name] = {"status": "ran", "seconds": seconds}
                progress.finished(f"{chapter.name}: done in {seconds:.1f} s")
            if failure is not None:
                pending.clear()
    if failure is not None:
        raise failure
    return report


# ----------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collapse", description="Execute the book's chapters and build the HTML book.")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", default="book", help=f"one of {', '.join(PROFILE_NAMES)} "
                        "(default: book)")
    common.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override one chapter parameter (YAML value); with several "
                        "chapters write CHAPTER.NAME=VALUE")
    common.add_argument("--output-root", type=Path, default=PROJECT_ROOT,
                        help="folder that receives _build/ (default: the repository)")
    common.add_argument("--force", action="store_true", help="rerun even unchanged chapters")
    build = sub.add_parser("build", parents=[common], help="execute every chapter in _toc.yml "
                           "and build the HTML into <output root>/_build/html")
    build.add_argument("-j", "--jobs", type=int, default=1,
                       help="chapters executed in parallel (default 1)")
    build.add_argument("--no-html", action="store_true", help="execute chapters only")
    run = sub.add_parser("run", parents=[common], help="execute one or more chapters (no HTML)")
    run.add_argument("chapters", nargs="+", type=Path, help="chapter files, e.g. book/gaussian.md")
    run.add_argument("-j", "--jobs", type=int, default=1)
    sub.add_parser("list", help="list the chapters of the toc and their parameters")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    configure_environment()
    try:
        if arguments.command == "list":
            for chapter in book_chapters():
                parameters = ", ".join(sorted(notebook_parameters(chapter.source)))
                needs = f" (after {', '.join(chapter.needs)})" if chapter.needs else ""
                print(f"{chapter.name:18s} {chapter.source.relative_to(PROJECT_ROOT)}{needs}\n"
                      f"{'':18s} parameters: {parameters}")
            return 0
        if arguments.profile not in PROFILE_NAMES:
            raise ValueError(f"unknown profile {arguments.profile!r}; allowed: "
                             f"{', '.join(PROFILE_NAMES)}")
        paths = BuildPaths(arguments.output_root.resolve())
        started = time.perf_counter()
        chapters = (book_chapters() if arguments.command == "build"
                    else [chapter_from_path(path) for path in arguments.chapters])
        overrides = split_overrides(arguments.param, chapters)
        report = run_chapters(chapters, arguments.profile, overrides, paths,
                              jobs=arguments.jobs, force=arguments.force)
        for name, item in report.items():
            print(f"  {name:18s} {item['status']:8s} {item['seconds']:8.1f} s", file=sys.stderr)
        if arguments.command == "build" and not arguments.no_html:
            digest = stage_site(chapters, paths)
            built = build_html(paths, digest, force=arguments.force)
            print(("built" if built else "up to date:") + f" {paths.html / 'index.html'} "
                  f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        return 0
    except ChapterFailed as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 1
    except (BookBuildFailed, ValueError, FileNotFoundError) as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
