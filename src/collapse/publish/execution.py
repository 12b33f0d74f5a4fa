"""Executing one chapter: its notebook runs once, with papermill, in a kernel this module owns.

Owning the kernel (instead of letting papermill start one) is what makes a build stoppable:
Jupyter starts kernels in a session of their own, so a Ctrl-C in the terminal never reaches
them. :class:`KernelHandle` lets the runner's main thread interrupt a chapter's kernel
(SIGINT to the kernel's process group: the running cell raises KeyboardInterrupt) and, if the
kernel does not stop, kill it with every worker process it started.

The kernel gets its own environment (:attr:`Execution.environment`): where results go, the data
and checkpoint logs the cache reads afterwards. Nothing is written beside the sources; the
executed notebook is written atomically only when every cell succeeded.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Mapping

from ..core.io import atomic_write_bytes
from .chapters import BuildPaths, Chapter


class ChapterFailed(RuntimeError):
    """A chapter raised an error while executing; the message holds the cell's traceback."""


class KernelHandle:
    """The kernel of one running chapter, reachable from another thread to stop it."""

    def __init__(self):
        self._lock = threading.Lock()
        self.pid: int | None = None
        self.stopping = False       # set once the runner asked this chapter to stop

    def attach(self, pid: int) -> None:
        with self._lock:
            self.pid = pid
            stopping = self.stopping
        if stopping:                 # asked to stop while the kernel was starting
            self.kill()

    def _signal(self, signum: int) -> None:
        with self._lock:
            pid = self.pid
        if pid is None:
            return
        try:
            group = os.getpgid(pid)
            if group != os.getpgrp():   # the kernel's own session: its workers too
                os.killpg(group, signum)
            else:
                os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def interrupt(self) -> None:
        """Ask the running cell to stop (KeyboardInterrupt in the kernel)."""
        with self._lock:
            self.stopping = True
        self._signal(signal.SIGINT)

    def kill(self) -> None:
        """Kill the kernel and every process of its session (joblib workers included)."""
        with self._lock:
            self.stopping = True
        self._signal(signal.SIGKILL)


def _kernel_manager(handle: KernelHandle, environment: Mapping[str, str], cwd: Path,
                    sockets: Path):
    """An AsyncKernelManager that starts the kernel with ``environment`` in ``cwd`` and tells
    ``handle`` its pid; it remembers its clients so their sockets can be closed.

    The kernel talks to the runner over Unix sockets in the private folder ``sockets`` (IPC
    transport), not over TCP: no port is opened, and the kernel has no reason to warn that it
    "is running over TCP without encryption"."""
    from jupyter_client.manager import AsyncKernelManager

    class ChapterKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kwargs):
            inherited = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
            kwargs["env"] = {**inherited, **environment}  # (inline figures: no MPLBACKEND)
            kwargs["cwd"] = str(cwd)
            await super().start_kernel(**kwargs)
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                handle.attach(process.pid)

        def client(self, **kwargs):
            made = super().client(**kwargs)
            self.clients.append(made)
            return made

    manager = ChapterKernelManager(kernel_name="python3", transport="ipc",
                                   ip=str(sockets / "kernel"))
    manager.clients = []
    return manager


def _close(manager) -> None:
    """Close the clients' sockets and shut the kernel down (killed if it does not go)."""
    from jupyter_core.utils import run_sync
    for client in manager.clients:
        try:
            client.stop_channels()
        except Exception:
            pass
    try:
        if manager.has_kernel:
            run_sync(manager.shutdown_kernel)(now=True)
    except Exception:
        pass
    try:
        run_sync(manager.cleanup_resources)()
    except Exception:
        pass


class Execution:
    """One run of one chapter: its kernel handle, environment and outputs."""

    def __init__(self, chapter: Chapter, profile: str, overrides: Mapping, paths: BuildPaths,
                 environment: Mapping[str, str] | None = None):
        self.chapter, self.profile, self.overrides, self.paths = chapter, profile, overrides, paths
        self.environment = {"COLLAPSE_RESULTS_DIR": str(paths.results), **(environment or {})}
        self.handle = KernelHandle()
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def run(self, progress_bar: bool = False) -> float:
        """Execute the chapter; write the executed notebook atomically. Returns the wall time
        in seconds. Raises ChapterFailed with the failing cell's traceback."""
        import jupytext
        import nbformat
        import papermill
        from papermill.exceptions import PapermillExecutionError

        chapter, target = self.chapter, self.paths.executed(self.chapter)
        self.started = time.perf_counter()
        sockets = Path(tempfile.mkdtemp(prefix="collapse-kernel-"))  # (short socket paths)
        manager = _kernel_manager(self.handle, self.environment, chapter.source.parent, sockets)
        try:
            notebook = papermill.execute_notebook(
                jupytext.read(chapter.source), None,
                parameters={"profile": self.profile, **self.overrides}, kernel_name="python3",
                progress_bar=progress_bar, request_save_on_cell_execute=False,
                log_output=False, km=manager)
        except PapermillExecutionError as error:
            raise ChapterFailed(format_cell_error(chapter, error)) from None
        except Exception as error:  # the kernel died or could not start
            raise ChapterFailed(f"chapter {chapter.name!r} ({chapter.source}): "
                                f"{type(error).__name__}: {error}") from None
        finally:
            _close(manager)
            shutil.rmtree(sockets, ignore_errors=True)
        elapsed = time.perf_counter() - self.started
        tidy_executed_notebook(notebook)
        atomic_write_bytes(target, nbformat.writes(notebook).encode())
        return elapsed


def format_cell_error(chapter: Chapter, error) -> str:
    """The failing cell's source and traceback, ANSI colours removed."""
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
