"""Live progress of long work, for the terminal that runs the book (never for the pages).

The runner gives each chapter's kernel a file, ``$COLLAPSE_PROGRESS_LOG``; the generational loop
(:func:`collapse.core.loop.run_generations`) and the job runner
(:func:`collapse.core.jobs.run_jobs`) append one JSON line per event to it, from the kernel and
from every worker process (one short ``O_APPEND`` write each, so lines never interleave):

* ``{"event": "batch", "batch": B, "jobs": n, "label": "run_job"}``: a batch of n independent
  jobs starts (one call of ``run_jobs``);
* ``{"event": "job", "batch": B, "job": i, "state": "start" | "done" | "failed"}``;
* ``{"event": "generation", "batch": B, "job": i, "chain": c, "generation": k, "of": n}``:
  generation k of n of the c-th chain of job i is finished (``batch`` and ``job`` are None for a
  chain run outside ``run_jobs``).

Every event also carries ``t`` (seconds since the epoch) and ``pid``. Generation events are
throttled to one per :data:`GENERATION_INTERVAL` seconds per process, so a loop of many cheap
generations writes almost nothing. Without ``$COLLAPSE_PROGRESS_LOG`` (a chapter run by hand)
nothing is written. Dask workers cannot reach the file: the Dask engine installs a relay
(:func:`set_sink`) that sends their events to the client, which appends them.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import itertools
import json
import os
import time
from typing import Callable, Iterator

from .io import note_use

__all__ = ["PROGRESS_LOG", "emit", "emit_raw", "set_sink", "job", "current_job", "new_batch",
           "Chain", "start_chain"]

#: the environment variable naming the file the runner reads progress events from
PROGRESS_LOG = "COLLAPSE_PROGRESS_LOG"
GENERATION_INTERVAL = 1.0   # seconds between two generation events of one process

_sink: Callable[[dict], None] | None = None
_batches = itertools.count(1)
_last_generation_event = [0.0]


@dataclasses.dataclass
class Job:
    """The job a process is running: its batch, its index in the batch, chains started."""

    batch: str
    index: int
    chains: int = 0


_current: contextvars.ContextVar[Job | None] = contextvars.ContextVar("collapse_job",
                                                                      default=None)


def _write_to_log(event: dict) -> None:
    note_use(PROGRESS_LOG, json.dumps(event, separators=(",", ":")))


def set_sink(sink: Callable[[dict], None] | None) -> None:
    """Send events to ``sink`` instead of ``$COLLAPSE_PROGRESS_LOG`` (None: back to the file)."""
    global _sink
    _sink = sink


def enabled() -> bool:
    return _sink is not None or bool(os.environ.get(PROGRESS_LOG))


def emit(event: dict) -> None:
    """Report one event (a no-op when nobody listens). Never raises: progress is advisory."""
    if not enabled():
        return
    try:
        (_sink or _write_to_log)({**event, "t": round(time.time(), 3), "pid": os.getpid()})
    except Exception:
        pass


def emit_raw(event: dict) -> None:
    """Append an event made elsewhere (a Dask worker's, relayed to the client) as it is."""
    if _sink is None and os.environ.get(PROGRESS_LOG) and isinstance(event, dict):
        _write_to_log(event)


def current_job() -> Job | None:
    """The job this thread is running inside :func:`collapse.core.jobs.run_jobs`, if any."""
    return _current.get()


def new_batch(n_jobs: int, label: str) -> str:
    """Announce a batch of ``n_jobs`` jobs; returns its id (unique across processes)."""
    batch = f"{os.getpid()}-{next(_batches)}"
    emit({"event": "batch", "batch": batch, "jobs": int(n_jobs), "label": label})
    return batch


@contextlib.contextmanager
def job(batch: str, index: int) -> Iterator[Job]:
    """Run the body as job ``index`` of ``batch``: start and end events around it, and every
    chain inside reports as part of this job."""
    running = Job(batch, int(index))
    token = _current.set(running)
    emit({"event": "job", "batch": batch, "job": running.index, "state": "start"})
    state = "failed"
    try:
        yield running
        state = "done"
    finally:
        _current.reset(token)
        emit({"event": "job", "batch": batch, "job": running.index, "state": state})


class Chain:
    """One chain of the generational loop, reporting each finished generation."""

    def __init__(self, n_generations: int):
        self.n_generations = int(n_generations)
        running = current_job()
        if running is not None:
            running.chains += 1
        self.batch = running.batch if running is not None else None
        self.job = running.index if running is not None else None
        self.chain = running.chains if running is not None else None

    def finished(self, generation: int) -> None:
        """Generation ``generation`` (0..n) is done; reported at most once per interval."""
        if not enabled():
            return
        now = time.monotonic()
        if now - _last_generation_event[0] < GENERATION_INTERVAL:
            return
        _last_generation_event[0] = now
        emit({"event": "generation", "batch": self.batch, "job": self.job, "chain": self.chain,
              "generation": int(generation), "of": self.n_generations})


def start_chain(n_generations: int) -> Chain:
    """A :class:`Chain` of ``n_generations`` generations, attributed to the current job."""
    return Chain(n_generations)
