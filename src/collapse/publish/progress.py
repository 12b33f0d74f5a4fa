"""Progress on the terminal that runs the book: one line per event of the build, and, while a
chapter runs, what its jobs and chains report (:mod:`collapse.core.progress`): jobs done,
generation k of n of each running job, and an estimate of the time left.

Nothing here reaches the pages: a chapter's kernel appends events to a file the runner reads
(``<build>/work/<chapter>.progress.log``), and the runner prints them (no notebook widgets, no
output cells).
"""
from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from pathlib import Path

__all__ = ["Progress", "ChapterWatch", "PROGRESS_EVERY", "format_duration"]

PROGRESS_EVERY = 20.0   # default seconds between two progress lines of one chapter
SHOWN_JOBS = 4          # running jobs named in one line


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


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min``, ``1 h 05 min``."""
    seconds = max(float(seconds), 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


@dataclasses.dataclass
class _Running:
    chain: int | None = None
    generation: int = 0
    of: int = 0


@dataclasses.dataclass
class _Batch:
    """One ``run_jobs`` call of the chapter, as its events describe it."""

    label: str
    jobs: int
    started: float
    done: set = dataclasses.field(default_factory=set)
    failed: set = dataclasses.field(default_factory=set)
    running: dict = dataclasses.field(default_factory=dict)     # job -> _Running
    chains_per_job: int = 0                                     # most chains a done job ran
    finished_at: float | None = None

    def fraction(self) -> float:
        """Share of the batch's work done: finished jobs, plus the running jobs' generations
        (a job running its c-th chain of an expected C counts (c - 1 + k/n) / C)."""
        partial = 0.0
        for state in self.running.values():
            if state.of <= 0:
                continue
            chain = state.chain or 1
            expected = max(self.chains_per_job, chain)
            partial += (chain - 1 + state.generation / state.of) / expected
        return (len(self.done) + partial) / max(self.jobs, 1)


class ChapterWatch:
    """Reads a running chapter's progress log and says, now and then, how far it is.

    :meth:`poll` returns a line (or None) and is cheap to call often: it reads only what was
    appended since the last call. A line is due every ``every`` seconds while something
    changed, when a batch of jobs starts or ends, and (``heartbeat``) when the chapter has
    reported nothing for a long time. ``every=0`` turns the lines off.
    """

    def __init__(self, name: str, log: Path, every: float = PROGRESS_EVERY,
                 heartbeat: float = 120.0):
        self.name, self.log, self.every, self.heartbeat = name, Path(log), every, heartbeat
        self._offset, self._partial = 0, b""
        self.batches: dict[str, _Batch] = {}
        self.chains: dict[int, dict] = {}      # pid -> the chain running outside any job
        self._last_line = time.monotonic()
        self._last_event = time.monotonic()
        self._changed = False
        self._urgent: list[str] = []

    # ------------------------------------------------------------------ reading
    def _read(self) -> list[dict]:
        try:
            with open(self.log, "rb") as stream:
                stream.seek(self._offset)
                chunk = stream.read()
        except OSError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()       # an unfinished last line waits for the next poll
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def _apply(self, event: dict) -> None:
        kind, now = event.get("event"), float(event.get("t", time.time()))
        if kind == "batch":
            self.batches[event["batch"]] = _Batch(str(event.get("label", "jobs")),
                                                  int(event.get("jobs", 0)), now)
            self._urgent.append(f"{event.get('jobs')} jobs ({event.get('label', 'jobs')}) "
                                f"started")
        elif kind == "job" and event.get("batch") in self.batches:
            batch, index = self.batches[event["batch"]], int(event["job"])
            state = event.get("state")
            if state == "start" and index not in batch.done:
                batch.running.setdefault(index, _Running())
            elif state in ("done", "failed"):
                was = batch.running.pop(index, None)
                (batch.done if state == "done" else batch.failed).add(index)
                if was is not None and was.chain:
                    batch.chains_per_job = max(batch.chains_per_job, was.chain)
                if len(batch.done) + len(batch.failed) >= batch.jobs and \
                        batch.finished_at is None:
                    batch.finished_at = now
                    self._urgent.append(f"{batch.jobs} jobs ({batch.label}) done in "
                                        f"{format_duration(now - batch.started)}")
        elif kind == "generation":
            if event.get("batch") in self.batches and event.get("job") is not None:
                batch = self.batches[event["batch"]]
                index = int(event["job"])
                if index not in batch.done:
                    batch.running[index] = _Running(event.get("chain"),
                                                    int(event["generation"]), int(event["of"]))
            else:
                chain = self.chains.get(event.get("pid"))
                if chain is None or event["generation"] < chain["generation"] \
                        or event["of"] != chain["of"]:
                    chain = {"t0": now, "g0": int(event["generation"]), "of": int(event["of"])}
                    self.chains[event.get("pid")] = chain
                chain.update(generation=int(event["generation"]), t=now)
        elif kind == "note":
            self._urgent.append(str(event.get("message", "")))
        self._changed = True

    # ------------------------------------------------------------------ saying
    def status(self) -> str | None:
        """How far the chapter is, in one line (None when it has reported nothing yet)."""
        active = [batch for batch in self.batches.values() if batch.finished_at is None]
        now = time.time()
        if active:
            batch = active[-1]
            parts = [f"{len(batch.done)}/{batch.jobs} jobs done"
                     + (f" ({len(batch.failed)} failed)" if batch.failed else "")]
            running = sorted(batch.running.items())
            shown = [f"job {index + 1}: generation {state.generation}/{state.of}"
                     + (f" of chain {state.chain}" if (state.chain or 1) > 1 else "")
                     for index, state in running[:SHOWN_JOBS] if state.of]
            if shown:
                parts.append("; ".join(shown) + (" …" if len(running) > SHOWN_JOBS else ""))
            fraction = batch.fraction()
            if fraction > 0:
                left = (now - batch.started) * (1 - fraction) / fraction
                parts.append(f"about {format_duration(left)} left for these jobs")
            return f"{batch.label}: " + " · ".join(parts)
        if self.chains:
            chain = max(self.chains.values(), key=lambda item: item["t"])
            line = f"generation {chain['generation']}/{chain['of']}"
            done = chain["generation"] - chain["g0"]
            if done > 0:
                rate = (chain["t"] - chain["t0"]) / done
                line += (f" · about {format_duration(rate * (chain['of'] - chain['generation']))}"
                         f" left for this chain")
            return line
        return None

    def poll(self) -> str | None:
        """A line for the terminal when one is due, else None."""
        events = self._read()
        for event in events:
            try:
                self._apply(event)
            except (KeyError, TypeError, ValueError):
                continue
        now = time.monotonic()
        if events:
            self._last_event = now
        if self.every <= 0:
            self._urgent.clear()
            return None
        lines = []
        if self._urgent:
            lines.append("; ".join(self._urgent))
            self._urgent.clear()
        due = now - self._last_line >= self.every
        if due and self._changed:
            status = self.status()
            if status:
                lines.append(status)
        elif due and now - self._last_event >= self.heartbeat \
                and now - self._last_line >= self.heartbeat:
            lines.append(f"still running (no progress report for "
                         f"{format_duration(now - self._last_event)})")
        if not lines:
            return None
        self._last_line, self._changed = now, False
        return f"{self.name}: " + " — ".join(lines)
