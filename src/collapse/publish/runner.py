"""The ``collapse`` command behind ``make book``: execute chapters, then build the HTML.

Each chapter is a MyST-Markdown notebook in ``book/``. ``collapse build`` converts it with
jupytext, executes it once with papermill under a profile (``smoke``, ``book``, ``paper``) and
optional parameter overrides, and builds the HTML with Jupyter Book 1.x with execution off and
Sphinx warnings treated as errors. Executed notebooks and results live under the build folder,
never beside the sources, and each profile has its own (:class:`.chapters.BuildPaths`):

    <output root>/_build/            the book (profile "book"); <output root>/_build/<profile>/
                                     for the others; ``collapse run`` writes to
                                     <output root>/_build/runs/<profile>/, never into a book
      site/       the book as Sphinx sees it (executed .ipynb + static pages)
      results/    <chapter>.json, one per executed chapter
      cache/      chapters/<name>.json: what each chapter's last successful run depended on
                  (:mod:`.cache`); loop checkpoints
      stale/      outputs of chapters whose last run failed
      html/       the built book (for profiles other than "book": _build/html inside)

A chapter may read other chapters' results: list them in its front matter as
``collapse: {needs: [gaussian, gmm]}`` (``["*"]`` = every other chapter in the toc); it then
runs after them, and reruns when their results change. ``collapse run`` copies the results of
the chapters it needs (and does not run) from the same profile's book when its folder has none.

Before anything runs, every override is checked (names and values, :mod:`.chapters`), and so is
the Dask scheduler when one is given (``--scheduler``); then the build folder is locked
(:mod:`.lock`). While chapters run, what their jobs report (jobs done, generation k of n, time
left) is printed every ``--progress`` seconds (:mod:`.progress`). Ctrl-C (or SIGTERM)
interrupts the running chapters' kernels, kills them if they do not stop, prints one line and
exits 130 (143); checkpoints are kept, so the next build resumes. A page whose chapter ran
again without the HTML being rebuilt (a later chapter failed, Ctrl-C, ``--no-html``) says so
at its top. Exit codes: 0 done, 1 a chapter failed, 2 bad input or a failed HTML build, 3 the
build folder is busy, 130/143 interrupted.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

import yaml

from ..core import data
from ..core.io import PROJECT_ROOT
from ..core.jobs import SCHEDULER
from ..core.progress import PROGRESS_LOG
from . import cache
from .chapters import (BuildPaths, Chapter, book_chapters, build_folders, chapter_from_path,
                       check_overrides, copy_needed_results, notebook_parameters, run_command,
                       split_overrides)
from .execution import ChapterFailed, Execution
from .lock import BuildBusy, BuildLock
from . import profiles
from .profiles import PROFILE_NAMES
from .progress import PROGRESS_EVERY, ChapterWatch, Progress
from .records import RERUN
from .site import BookBuildFailed, build_html, mark_pages_stale, stage_site

__all__ = ["main", "run_chapters", "BuildInterrupted", "ChapterFailed", "BuildPaths",
           "run_command", "book_chapters", "notebook_parameters", "split_overrides",
           "stage_site", "build_html", "configure_environment"]

CACHE_VARIABLES = {  # tool caches kept inside the project (nothing written under ~)
    "MPLCONFIGDIR": "matplotlib", "IPYTHONDIR": "ipython", "JUPYTER_DATA_DIR": "jupyter",
    "JUPYTER_CONFIG_DIR": "jupyter-config", "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
    "SCIKIT_LEARN_DATA": "scikit_learn", "HF_HOME": "huggingface", "TORCH_HOME": "torch",
    "XDG_CACHE_HOME": "xdg/cache", "XDG_CONFIG_HOME": "xdg/config", "XDG_DATA_HOME": "xdg/data",
    "XDG_STATE_HOME": "xdg/state",
}
#: folders given through the environment, relative to the caller's working directory
PATH_VARIABLES = ("COLLAPSE_DATA_DIR", "COLLAPSE_CACHE_DIR", "COLLAPSE_RESULTS_DIR")
INTERRUPT_GRACE = 3.0   # seconds a chapter gets to stop after its kernel is interrupted


class BuildInterrupted(RuntimeError):
    """The build was stopped by a signal; ``exit_code`` is 128 + its number."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.exit_code = 128 + int(signum)


def configure_environment(project_root: Path = PROJECT_ROOT) -> None:
    """Keep tool caches inside the project and never reach a model hub (unless set already);
    make folders given relative to the caller's working directory absolute (kernels run in
    the chapter's folder)."""
    for variable in PATH_VARIABLES:
        if os.environ.get(variable) and not os.path.isabs(os.environ[variable]):
            os.environ[variable] = os.path.abspath(os.path.expanduser(os.environ[variable]))
    cache_root = project_root / ".cache"
    for variable, folder in CACHE_VARIABLES.items():
        os.environ.setdefault(variable, str(cache_root / folder))
        Path(os.environ[variable]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


# ----------------------------------------------------------------------------- scheduling
class StopSignals:
    """While active (in the main thread), SIGINT and SIGTERM set :attr:`received` instead of
    raising KeyboardInterrupt at an arbitrary line; :attr:`count` counts them."""

    def __init__(self):
        self.received: int | None = None
        self.count = 0
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        self.received, self.count = signum, self.count + 1

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> bool:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False


def _stop(running: dict, stop: StopSignals) -> list[tuple[str, float]]:
    """Interrupt every running chapter's kernel; kill those still running after
    INTERRUPT_GRACE seconds (at once on a second signal). Returns (name, seconds) of each."""
    stopped = [(execution.chapter.name, execution.seconds) for execution, _ in running.values()]
    logging.getLogger("papermill").setLevel(logging.CRITICAL)  # no "kernel died" lines: one
    for execution, _ in running.values():                     # line says what happened
        execution.handle.interrupt()
    deadline = time.monotonic() + INTERRUPT_GRACE
    while running and time.monotonic() < deadline and stop.count < 2:
        done, _ = concurrent.futures.wait(running, timeout=0.1)
        for future in done:
            running.pop(future)
    for execution, _ in running.values():
        execution.handle.kill()
    concurrent.futures.wait(running, timeout=INTERRUPT_GRACE)
    return stopped


def _failed(chapter: Chapter, error: Exception, chapters: Sequence[Chapter], paths: BuildPaths,
            profile: str, progress: Progress) -> ChapterFailed:
    """Move a failed chapter's previous outputs aside and mark its pages (and those using its
    results) as from an earlier run."""
    failure = error if isinstance(error, ChapterFailed) else \
        ChapterFailed(f"chapter {chapter.name!r}: {error!r}")
    last_line = str(failure).strip().splitlines()[-1][:300]
    moved = cache.move_aside(chapter, paths, f"the run under profile {profile!r} failed: "
                             f"{last_line}")
    when = time.strftime("%Y-%m-%d %H:%M")
    mark_pages_stale(paths, [chapter.docname],
                     f"The last run of this chapter ({when}, profile {profile}) failed: "
                     f"{last_line}. Its previous outputs were moved to "
                     f"{paths.stale.relative_to(paths.root)}/.")
    try:   # the pages using its results, in this run or elsewhere in the book
        book = [c for c in book_chapters() if c.docname not in {o.docname for o in chapters}]
    except (OSError, ValueError):
        book = []
    mark_pages_stale(paths, [c.docname for c in cache.dependents(chapter, [*chapters, *book])],
                     f"This page uses the results of {chapter.name}, whose last run ({when}, "
                     f"profile {profile}) failed: {last_line}.")
    progress.say(f"{chapter.name}: FAILED" + (f" (its previous outputs moved to {paths.stale})"
                                               if moved else ""))
    return failure


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it (for messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def fetch_data(chapter: Chapter, profile: str, overrides: dict, progress: Progress) -> None:
    """Fetch the datasets a chapter's settings name (``dataset``, ``*_dataset``) when they are
    missing from the data root, before its kernel starts (:func:`collapse.core.data.fetch`).
    A failure is said and left to the chapter, which stops with the data error if it really
    needs the files."""
    if chapter.name not in profiles.PROFILES or data.offline():
        return
    try:
        settings = profiles.settings(chapter.name, profile, **overrides)
    except ValueError:
        return
    for name in data.datasets_in(settings):
        try:
            data.fetch(name)
        except data.DataError as error:
            progress.say(f"{chapter.name}: {error}")


def run_chapters(chapters: Sequence[Chapter], profile: str, overrides: dict, paths: BuildPaths,
                 jobs: int = 1, force: bool = False,
                 progress_every: float = PROGRESS_EVERY) -> dict[str, dict]:
    """Execute ``chapters`` (each after the chapters it needs), skipping unchanged ones, into
    ``paths`` (which must be for ``profile``).

    Every override is checked first (nothing runs or is written on a bad one). Returns name ->
    {"status": "ran" | "skipped", "seconds": wall time}. Stops at the first failure (running
    chapters finish, no new ones start; the failed chapter's old outputs are moved aside) and
    raises ChapterFailed; on SIGINT/SIGTERM stops the running chapters and raises
    BuildInterrupted. Either exception carries the chapters done so far as ``report``. While a
    chapter runs, a line about its progress is printed every ``progress_every`` seconds (0:
    never).
    """
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILE_NAMES)}")
    if paths.profile != profile:
        raise ValueError(f"the build folder {paths.build} is for profile {paths.profile!r}, "
                         f"not {profile!r}: use BuildPaths(root, {profile!r})")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    overrides = check_overrides(chapters, overrides)
    names = {chapter.name for chapter in chapters}
    paths.cache.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(chapters))
    report: dict[str, dict] = {}
    pending = {chapter.name: chapter for chapter in chapters}
    running: dict[concurrent.futures.Future, tuple[Execution, cache.Run]] = {}
    watches: dict[str, ChapterWatch] = {}
    failure: ChapterFailed | None = None

    def ready(chapter: Chapter) -> bool:
        return all(need in report for need in chapter.needs if need in names)

    def start(chapter: Chapter) -> None:
        chosen = overrides.get(chapter.name, {})
        parts = cache.key_parts(chapter, profile, chosen, paths.results)
        reason = "--force" if force else cache.why_run(chapter, parts, paths)
        if reason is None:
            report[chapter.name] = {"status": "skipped", "seconds": 0.0}
            progress.finished(f"{chapter.name}: unchanged, skipped")
            return
        progress.say(f"{chapter.name}: executing under profile '{profile}'"
                     + (f" with {chosen}" if chosen else "") + f" ({reason})")
        fetch_data(chapter, profile, chosen, progress)
        run = cache.Run(chapter, paths, parts)
        environment = run.begin()
        log = paths.work / f"{chapter.name}.progress.log"
        log.write_text("")
        watches[chapter.name] = ChapterWatch(chapter.name, log, every=progress_every)
        environment.update({PROGRESS_LOG: str(log),
                            RERUN: run_command(chapter, profile, chosen)})
        execution = Execution(chapter, profile, chosen, paths, environment=environment)
        running[pool.submit(execution.run)] = (execution, run)

    def watch() -> None:
        """Print what the running chapters reported since the last call, when due."""
        for execution, _ in list(running.values()):
            line = watches[execution.chapter.name].poll()
            if line:
                progress.say(line)

    def forget(chapter: Chapter) -> None:
        watches.pop(chapter.name, None)
        (paths.work / f"{chapter.name}.progress.log").unlink(missing_ok=True)

    def schedule(stop: StopSignals) -> None:
        nonlocal failure
        while pending or running:
            for name, chapter in list(pending.items()):
                if stop.received or failure is not None or len(running) >= jobs \
                        or not ready(chapter):
                    continue
                del pending[name]
                start(chapter)
            if stop.received:
                stopped = _stop(running, stop)
                what = ", ".join(f"{name} after {seconds:.0f} s" for name, seconds in stopped)
                raise BuildInterrupted(
                    (f"stopped {what}" if stopped else "stopped before the next chapter")
                    + "; checkpoints are kept: rerun the same command to resume",
                    stop.received)
            if not running:
                if pending and failure is None:
                    raise ValueError(f"chapters {sorted(pending)} need chapters that are not "
                                     f"being built")
                return
            done, _ = concurrent.futures.wait(running, timeout=0.2,
                                              return_when="FIRST_COMPLETED")
            if stop.received:
                continue   # the interrupted chapters' errors are not failures
            watch()
            for future in done:
                execution, run = running.pop(future)
                forget(execution.chapter)
                try:
                    seconds = future.result()
                except Exception as error:
                    failure = failure or _failed(execution.chapter, error, chapters, paths,
                                                 profile, progress)
                    continue
                run.finish()
                report[execution.chapter.name] = {"status": "ran", "seconds": seconds}
                progress.finished(f"{execution.chapter.name}: done in {seconds:.1f} s")
            if failure is not None:
                pending.clear()

    pool = concurrent.futures.ThreadPoolExecutor(jobs, thread_name_prefix="chapter")
    with StopSignals() as stop:
        try:
            schedule(stop)
        except BuildInterrupted as interrupted:
            interrupted.report = report
            raise
        finally:
            pool.shutdown(wait=not stop.received, cancel_futures=True)
            for execution, _ in list(running.values()):
                forget(execution.chapter)
    if failure is not None:
        failure.report = report
        raise failure
    return report


# ----------------------------------------------------------------------------- command line
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collapse", description="Execute the book's chapters and build the HTML book.")
    sub = parser.add_subparsers(dest="command", required=True)
    folder = argparse.ArgumentParser(add_help=False)
    folder.add_argument("--output-root", type=Path, default=PROJECT_ROOT,
                        help="folder that receives _build/ (default: the repository)")
    folder.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for another collapse command using the same "
                        "build folder to finish (default: stop at once)")
    common = argparse.ArgumentParser(add_help=False, parents=[folder])
    common.add_argument("--profile", default="book", help=f"one of {', '.join(PROFILE_NAMES)} "
                        "(default: book)")
    common.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override one chapter parameter (YAML value); with several "
                        "chapters write CHAPTER.NAME=VALUE")
    common.add_argument("--force", action="store_true", help="rerun even unchanged chapters")
    common.add_argument("-j", "--jobs", type=int, default=1,
                        help="chapters executed in parallel (default 1)")
    common.add_argument("--scheduler", metavar="ADDRESS", default=os.environ.get(SCHEDULER),
                        help="run every chapter's independent jobs on the Dask cluster whose "
                        f"scheduler is at ADDRESS, e.g. tcp://host:8786 (default: ${SCHEDULER}; "
                        "needs the dask extra: make book ENGINE=dask)")
    common.add_argument("--progress", type=float, default=PROGRESS_EVERY, metavar="SECONDS",
                        help="seconds between two progress lines of a running chapter (jobs "
                        f"done, generation k of n, time left; 0: none; default {PROGRESS_EVERY:g})")
    build = sub.add_parser("build", parents=[common], help="execute every chapter in _toc.yml "
                           "and build the HTML into <output root>/_build/html (profile book) "
                           "or <output root>/_build/<profile>/_build/html")
    build.add_argument("--no-html", action="store_true", help="execute chapters only")
    run = sub.add_parser("run", parents=[common], help="execute one or more chapters (no HTML) "
                         "into <output root>/_build/runs/<profile>/, never into a built book")
    run.add_argument("chapters", nargs="+", type=Path, help="chapter files, e.g. book/gaussian.md")
    sub.add_parser("list", help="list the chapters of the toc and their parameters")
    fetch = sub.add_parser("fetch", help="fetch the datasets missing from the data root "
                           "($COLLAPSE_DATA_DIR) from their canonical sources (sha256-checked)")
    fetch.add_argument("datasets", nargs="*", metavar="DATASET",
                       help=f"any of {', '.join(data.DATASETS)} (default: all)")
    clean = sub.add_parser("clean", parents=[folder], help="remove what no build needs")
    clean.add_argument("--checkpoints", action="store_true", required=True,
                       help="remove the checkpoint folders under each build folder's cache/ "
                       "that no chapter's record points to (a chapter that was interrupted "
                       "keeps its own)")
    clean.add_argument("--dry-run", action="store_true", help="only list what would go")
    return parser


def _list_chapters() -> None:
    for chapter in book_chapters():
        parameters = ", ".join(sorted(notebook_parameters(chapter.source)))
        needs = f" (after {', '.join(chapter.needs)})" if chapter.needs else ""
        print(f"{chapter.name:18s} {chapter.source.relative_to(PROJECT_ROOT)}{needs}\n"
              f"{'':18s} parameters: {parameters}")


def _clean(root: Path, wait: float, dry_run: bool) -> None:
    removed = []
    for paths in build_folders(root):
        with BuildLock(paths.lock, wait=wait):
            removed += cache.prune_checkpoints(paths, dry_run=dry_run)
    for folder, size in removed:
        print(f"  {'would remove' if dry_run else 'removed'} {folder} ({size / 1e6:.1f} MB)",
              file=sys.stderr)
    total = sum(size for _, size in removed) / 1e6
    print(f"{len(removed)} unreferenced checkpoint folder(s), {total:.1f} MB"
          + (" (dry run: nothing removed)" if dry_run else " removed"), file=sys.stderr)


def _fetch(names: Sequence[str]) -> int:
    unknown = sorted(set(names) - set(data.DATASETS))
    if unknown:
        raise ValueError(f"unknown dataset(s) {unknown}; allowed: {', '.join(data.DATASETS)}")
    for name in names:
        try:
            print(f"{name}: {data.fetch(name)}", file=sys.stderr)
        except data.DataError as error:
            print(f"\nERROR: {error}", file=sys.stderr)
            return 2
    return 0


def _use_scheduler(address: str | None) -> None:
    """Check the Dask scheduler (reachable, with workers) and hand it to every kernel."""
    if not address:
        return
    from ..core.jobs import check_scheduler
    workers = check_scheduler(address)
    os.environ[SCHEDULER] = address
    print(f"Dask scheduler {address}: {len(workers)} worker(s); every chapter's jobs run there",
          file=sys.stderr)
    if max(workers.values()) > 1:
        print("note: workers with several threads run several jobs in one process, whose "
              "thread pinning then overlaps (numbers may differ in the last bits from local "
              "processes); start them with --nthreads 1", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    configure_environment()
    chapters, report, paths = [], {}, None
    try:
        if arguments.command == "list":
            _list_chapters()
            return 0
        if arguments.command == "fetch":
            return _fetch(arguments.datasets or list(data.DATASETS))
        root = arguments.output_root.resolve()
        if arguments.command == "clean":
            _clean(root, arguments.wait, arguments.dry_run)
            return 0
        if arguments.profile not in PROFILE_NAMES:
            raise ValueError(f"unknown profile {arguments.profile!r}; allowed: "
                             f"{', '.join(PROFILE_NAMES)}")
        if arguments.jobs < 1:
            raise ValueError(f"--jobs must be an integer >= 1, got {arguments.jobs}")
        if arguments.progress < 0:
            raise ValueError(f"--progress must be >= 0 seconds, got {arguments.progress:g}")
        started = time.perf_counter()
        paths = BuildPaths(root, arguments.profile, scratch=arguments.command == "run")
        chapters = (book_chapters() if arguments.command == "build"
                    else [chapter_from_path(path) for path in arguments.chapters])
        # every name and value is checked before the build folder is touched
        overrides = check_overrides(chapters, split_overrides(arguments.param, chapters))
        _use_scheduler(arguments.scheduler)
        with BuildLock(paths.lock, wait=arguments.wait) as lock:
            if lock.note:
                print(f"note: {lock.note}", file=sys.stderr)
            if paths.scratch:
                print(f"collapse run writes to {_shown(paths.build)} (the book is built by "
                      f"collapse build)", file=sys.stderr)
                copied = copy_needed_results(chapters, paths)
                if copied:
                    book = BuildPaths(root, paths.profile).results
                    print(f"results of {', '.join(copied)} copied from the {paths.profile} "
                          f"book ({_shown(book)})", file=sys.stderr)
            report = run_chapters(chapters, arguments.profile, overrides, paths,
                                  jobs=arguments.jobs, force=arguments.force,
                                  progress_every=arguments.progress)
            for name, item in report.items():
                print(f"  {name:18s} {item['status']:8s} {item['seconds']:8.1f} s",
                      file=sys.stderr)
            if arguments.command == "build" and not arguments.no_html:
                digest = stage_site(chapters, paths)
                built = build_html(paths, digest, force=arguments.force)
                print(("built" if built else "up to date:") + f" {paths.html / 'index.html'} "
                      f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
            elif arguments.command == "build":
                cache.mark_outdated(chapters, report, paths, "collapse build --no-html")
        return 0
    except BuildInterrupted as error:
        _outdated(chapters, error, paths, "the build was interrupted")
        print(f"\ninterrupted: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted: stopped; checkpoints are kept: rerun the same command to resume",
              file=sys.stderr)
        return 130
    except ChapterFailed as error:
        _outdated(chapters, error, paths, "a chapter failed")
        print(f"\nERROR: {error}", file=sys.stderr)
        return 1
    except BuildBusy as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 3
    except BookBuildFailed as error:
        _outdated(chapters, report, paths, "the HTML build failed")
        print(f"\nERROR: {error}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as error:
        print(f"\nERROR: {error}", file=sys.stderr)
        return 2


def _outdated(chapters, error_or_report, paths: BuildPaths | None, why: str) -> None:
    report = error_or_report if isinstance(error_or_report, dict) else \
        getattr(error_or_report, "report", {})
    if paths is not None and not paths.scratch and report:
        cache.mark_outdated(chapters, report, paths, why)


if __name__ == "__main__":
    sys.exit(main())
