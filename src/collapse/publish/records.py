"""Each chapter's headline numbers and claim verdicts (the results files).

A chapter makes one :class:`ChapterRecord` at its start, *declares* each claim with its
criterion before running the experiment, records metrics, *evaluates* the claims on the
measured values, shows the claim table and reproducibility footer, and saves
``<results dir>/<chapter>.json`` atomically. Verdicts are computed, never typed in.

For figure-first chapters: :meth:`ChapterRecord.key_results` makes the "Key results" box (this
chapter's paper-claim verdicts and two or three headline numbers), to be shown near the top of
the chapter (through ``myst_nb.glue``: computed at the end, pasted at the top), and
:meth:`ChapterRecord.log` collects run logs and timings out of the reading flow into a
collapsed block of the reproducibility footer.

The results directory is ``$COLLAPSE_RESULTS_DIR`` when set (the runner and the tests set it),
else ``<project root>/_build/runs/interactive/results`` (a chapter run by hand in Jupyter never
writes into a built book).
"""
from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import math
import os
import platform
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from ..core.io import PROJECT_ROOT, atomic_write_bytes, sha256_of

VERDICTS = ("reproduced", "partially reproduced", "not reproduced")
#: A results field named like this holds a measurement of the machine (wall or CPU time, a
#: speed or throughput, memory, load), which differs from run to run; every other field is a
#: function of the code, settings and data, identical across runs (tests/test_hardening.py).
#: Keep timings out of claims' ``measured`` text: say them in the chapter's prose.
# run_log: the footer's stamped progress lines, wall times by nature
TIMING_FIELD = re.compile(r"(^|_)(seconds|timings?|speed\w*|wall\w*|cpu\w*|throughput\w*|"
                          r"per_second|rss\w*|load\w*|memory\w*|run_log)($|_)")
VERSIONED_PACKAGES = ("numpy", "scipy", "matplotlib", "scikit-learn", "torch", "transformers",
                      "tokenizers", "papermill", "jupyter-book")


#: the environment variable holding the command that reruns a chapter as the runner ran it
RERUN = "COLLAPSE_RERUN"


def results_dir() -> Path:
    """Where chapters write their results files."""
    configured = os.environ.get("COLLAPSE_RESULTS_DIR")
    return Path(configured) if configured else PROJECT_ROOT / "_build" / "runs" / "interactive" \
        / "results"


def rerun_command(chapter: str, profile: str) -> str:
    """How to rerun a chapter: the runner's exact command (``$COLLAPSE_RERUN``: profile and
    overrides), else ``collapse run book/<chapter>.md --profile <profile>``. Either writes to
    ``_build/runs/<profile>/``, never over a built book."""
    return os.environ.get(RERUN) or f"collapse run book/{chapter}.md --profile {profile}"


def package_versions(names: Iterable[str] = VERSIONED_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages a result depends on (Python and collapse included)."""
    versions = {"python": platform.python_version()}
    for name in ("collapse", *names):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(root: Path = PROJECT_ROOT) -> str:
    """The commit the book was built from, ``+dirty`` when the work tree has changes;
    ``$COLLAPSE_GIT_COMMIT`` wins when set; "unknown" outside a git checkout."""
    if os.environ.get("COLLAPSE_GIT_COMMIT"):
        return os.environ["COLLAPSE_GIT_COMMIT"]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty.strip() else "")


def to_jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into plain numbers/lists (NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


CLAIM_KINDS = {
    "paper": "a statement the paper makes (its section, figure, theorem or released code)",
    "check": "a method validation, an identity, theory from elsewhere, or an extension",
}


def criteria_fingerprint(module: str) -> dict:
    """Where a chapter's claim criteria live and the sha256 of that file (None when the module
    cannot be found, e.g. a test chapter without a claims module)."""
    import importlib.util
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        return {"module": module, "path": None, "sha256": None}
    path = Path(spec.origin).resolve()
    try:
        shown = str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        shown = str(path)
    return {"module": module, "path": shown, "sha256": sha256_of(path)}


@dataclasses.dataclass
class Claim:
    """One declared row of a chapter's claim check: its criterion (fixed before the run) and,
    once evaluated, this run's measurement and verdict.

    ``kind``: "paper" (a statement of the paper; ``where`` says where it is made) or "check"
    (see :data:`CLAIM_KINDS`). Verdict counts are over paper claims only. ``revised``: for a
    criterion changed after a result was seen, one line "why, from what".
    """

    id: str
    claim: str
    paper: str
    criterion: str
    reproduced_if: Callable[[Any], bool] = dataclasses.field(repr=False)
    partially_if: Callable[[Any], bool] | None = dataclasses.field(default=None, repr=False)
    kind: str = "paper"
    where: str = ""
    revised: str = ""
    measured: str | None = None
    verdict: str | None = None
    note: str = ""

    def verdict_for(self, value: Any) -> str:
        """The verdict this claim's criterion gives ``value`` (nothing is recorded)."""
        if bool(self.reproduced_if(value)):
            return "reproduced"
        if self.partially_if is not None and bool(self.partially_if(value)):
            return "partially reproduced"
        return "not reproduced"

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "claim": self.claim, "where": self.where,
                "paper": self.paper, "measured": self.measured, "criterion": self.criterion,
                "revised": self.revised, "verdict": self.verdict, "note": self.note}


class ChapterRecord:
    """Metrics, claims and provenance of one chapter run. Start it in the chapter's first cell."""

    def __init__(self, chapter: str, settings: Mapping[str, Any], seeds: int | None = None,
                 criteria_module: str | None = None):
        self.chapter = chapter
        # where the claim criteria live (their hash goes into the results: a visible trail)
        self.criteria_module = criteria_module or f"collapse.{chapter}.claims"
        self.settings = dict(settings)
        self.profile = self.settings.get("profile", "book")
        self.seeds = seeds if seeds is not None else self.settings.get("n_seeds")
        self.started = time.perf_counter()
        self.metrics: dict[str, Any] = {}
        self.claims: dict[str, Claim] = {}
        self.headlines: dict[str, str] = {}   # the key-results box's numbers, as shown
        self.run_log: list[str] = []          # progress lines and timings (footer, collapsed)

    # ---------------------------------------------------------------- metrics
    def metric(self, name: str, value: Any) -> Any:
        """Record a headline number (or list / dict of numbers) under ``name``; returns it."""
        self.metrics[name] = to_jsonable(value)
        return value

    # ---------------------------------------------------------------- claims
    def declare_claim(self, id: str, claim: str, paper: str, criterion: str,
                      reproduced_if: Callable[[Any], bool],
                      partially_if: Callable[[Any], bool] | None = None, *,
                      kind: str = "paper", where: str = "", revised: str = "") -> Claim:
        """Fix a claim's criterion before the experiment runs.

        ``reproduced_if(value)`` decides "reproduced"; when it fails, ``partially_if(value)``
        (if given) decides "partially reproduced"; otherwise "not reproduced". ``kind`` is
        "paper" (``where``: the paper's section, figure, theorem or code) or "check".
        """
        if id in self.claims:
            raise ValueError(f"claim {id!r} declared twice")
        if kind not in CLAIM_KINDS:
            raise ValueError(f"claim {id!r}: kind must be one of {', '.join(CLAIM_KINDS)}, "
                             f"got {kind!r}")
        self.claims[id] = Claim(id, claim, paper, criterion, reproduced_if, partially_if,
                                kind=kind, where=where, revised=revised)
        return self.claims[id]

    def evaluate(self, id: str, value: Any, measured: str, note: str = "") -> str:
        """Apply claim ``id``'s criterion to the measured ``value``; ``measured`` is how the
        value is shown in the table. Returns the verdict."""
        if id not in self.claims:
            raise KeyError(f"claim {id!r} was not declared; declared: {sorted(self.claims)}")
        claim = self.claims[id]
        verdict = claim.verdict_for(value)
        claim.measured, claim.verdict, claim.note = measured, verdict, note
        return verdict

    def evaluate_all(self, measurements: Mapping[str, Callable[[Any], tuple]],
                     runs: Any) -> None:
        """Evaluate every claim of ``measurements`` (claim id -> function of ``runs`` returning
        ``(value, measured text, note)``): the chapter's one table of how each claim is
        measured, judged by its declared criterion."""
        for claim_id, measure in measurements.items():
            value, measured, note = measure(runs)
            self.evaluate(claim_id, value, measured, note=note)

    def claims_markdown(self) -> str:
        """The declared claims as a Markdown list (claim, paper claim with where it is made or
        check, criterion), to show before the run."""
        def source(claim: Claim) -> str:
            return f"*Paper claim ({claim.where}).*" if claim.kind == "paper" else "*Check.*"

        return "\n".join(f"- **{claim.claim.rstrip('.')}.** {source(claim)} Criterion: "
                         f"{claim.criterion.rstrip('.')}." for claim in self.claims.values())

    def claims_table(self):
        """The "Claim check" table, as a rich display object for the notebook."""
        from IPython.display import HTML
        unevaluated = [claim.id for claim in self.claims.values() if claim.verdict is None]
        if unevaluated:
            raise RuntimeError(f"claims declared but never evaluated: {unevaluated}")
        from .claims_page import claims_by_kind_html
        return HTML(claims_by_kind_html([claim.as_dict() for claim in self.claims.values()]))

    # ---------------------------------------------------------------- key results, run log
    def key_results(self, headlines: Mapping[str, str] | None = None,
                    title: str = "Key results"):
        """The "Key results" box: the verdict of each of this chapter's paper claims (linked to
        its row of the claim table) and the headline numbers ``{label: shown value}`` (two or
        three; Markdown, ``$...$`` maths allowed; computed by the run). The numbers are also
        saved in the results file (``key_results``) for the landing page.

        Call it once every paper claim is evaluated. To show the box at the top of the chapter
        although it is computed later, glue it (myst-nb pastes from anywhere in the page)::

            from myst_nb import glue                      # in a cell after the evaluation
            glue("key-results", record.key_results({"median σ_N": f"{s:.2f}"}), display=False)

        and, at the top of the chapter, a ``{glue:md}`` directive with argument
        ``key-results`` and option ``:format: myst``.
        """
        paper = [claim for claim in self.claims.values() if claim.kind == "paper"]
        unevaluated = [claim.id for claim in paper if claim.verdict is None]
        if unevaluated:
            raise RuntimeError(f"key_results: paper claims not evaluated yet: {unevaluated} "
                               f"(evaluate them first; glue the box to show it earlier)")
        for label, value in (headlines or {}).items():
            if not isinstance(value, str):
                raise TypeError(f"key_results: headline {label!r} must be the value as shown "
                                f"(a string such as f'{{x:.2f}}'), got {type(value).__name__}")
        self.headlines = dict(headlines or {})
        from .overview import verdict_badge
        counts = {verdict: sum(claim.verdict == verdict for claim in paper)
                  for verdict in VERDICTS}
        summary = ", ".join(f"{count} {verdict}" for verdict, count in counts.items() if count)
        lines = [f":::{{admonition}} {title}", ":class: key-results", ""]
        if self.headlines:
            lines += [f"- **{label}**: {value}" for label, value in self.headlines.items()]
            lines.append("")
        if paper:
            lines += [f"**{_plural(len(paper), 'paper claim')}**: {summary}.", ""]
        else:   # a chapter of checks only (results of other papers, extensions)
            checks = [claim for claim in self.claims.values() if claim.verdict is not None]
            counts = {verdict: sum(claim.verdict == verdict for claim in checks)
                      for verdict in VERDICTS}
            summary = ", ".join(f"{count} {verdict}" for verdict, count in counts.items()
                                if count)
            lines += [f"**{_plural(len(checks), 'check')}** (no claim of the paper itself): "
                      f"{summary or 'none evaluated'}.", ""]
        lines += [f"* {verdict_badge(claim.verdict)} "
                  f'<a href="#claim-{html.escape(claim.id)}">'
                  f"{_one_line(html.escape(claim.claim, quote=False))}</a>" for claim in paper]
        lines.append(":::")
        from IPython.display import Markdown
        return Markdown("\n".join(lines) + "\n")

    def log(self, *lines: Any) -> None:
        """Add progress lines (each stamped with the seconds since the chapter started) to the
        run log the footer shows collapsed, instead of printing them into the page. A
        multi-line string gives one entry per line."""
        stamp = f"[{self.wall_seconds:7.1f} s]"
        for item in lines:
            for line in str(item).splitlines() or [""]:
                if line.strip():
                    self.run_log.append(f"{stamp} {line.rstrip()}")

    @contextlib.contextmanager
    def timed(self, label: str):
        """``with record.timed("fit 100 seeds"): ...`` logs the wall time of the block."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.log(f"{label}: {time.perf_counter() - start:.1f} s")

    def run_log_html(self, summary: str = "Run log") -> str:
        """The run log as a collapsed ``<details>`` block ("" when nothing was logged)."""
        if not self.run_log:
            return ""
        body = "&#10;".join(html.escape(line) for line in self.run_log)
        return (f'<details class="collapse-run-log"><summary>{html.escape(summary)} '
                f"({_plural(len(self.run_log), 'line')})</summary><pre>{body}</pre></details>")

    def show_log(self, summary: str = "Run log"):
        """Display the run log so far as a collapsed block (e.g. under a long experiment)."""
        from IPython.display import HTML
        return HTML(self.run_log_html(summary))

    # ---------------------------------------------------------------- provenance
    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self.started

    def as_dict(self) -> dict:
        return {"chapter": self.chapter, "profile": self.profile, "seeds": self.seeds,
                "wall_seconds": round(self.wall_seconds, 2), "versions": package_versions(),
                "git_commit": git_commit(), "settings": to_jsonable(self.settings),
                "criteria": criteria_fingerprint(self.criteria_module),
                "metrics": self.metrics, "key_results": self.headlines,
                "run_log": self.run_log,
                "claims": [claim.as_dict() for claim in self.claims.values()]}

    def save(self, directory: str | os.PathLike | None = None) -> Path:
        """Write ``<directory>/<chapter>.json`` atomically and return its path."""
        unevaluated = [claim.id for claim in self.claims.values() if claim.verdict is None]
        if unevaluated:
            raise RuntimeError(f"claims declared but never evaluated: {unevaluated}")
        path = Path(directory or results_dir()) / f"{self.chapter}.json"
        atomic_write_bytes(path, json.dumps(self.as_dict(), indent=1).encode())
        return path

    def footer(self):
        """The reproducibility footer: profile, seeds, versions, wall time, git commit, the
        downloads (this chapter's results file, every claim as CSV) and the run log
        (collapsed). The download links are relative to the chapter's page in the site."""
        from IPython.display import Markdown
        info = self.as_dict()
        versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
        downloads = (f'<a href="../results/{self.chapter}.json">this chapter\'s results '
                     f'(JSON)</a> · <a href="../results/claims.csv">every claim of the book '
                     f"(CSV)</a>")
        log = self.run_log_html()
        return Markdown(
            "::::{admonition} Reproducibility\n:class: reproducibility\n\n"
            f"**Profile** `{self.profile}` · **seeds** {self.seeds} · "
            f"**wall time** {info['wall_seconds']:.1f} s · "
            f"**git commit** `{info['git_commit']}` · **machine** {platform.machine()}, "
            f"{os.cpu_count()} CPUs\n\n"
            f"**Versions**: {versions}\n\n"
            f"**Downloads**: {downloads}\n\n"
            f"Rerun: `{rerun_command(self.chapter, self.profile)}` (writes to "
            f"`_build/runs/{self.profile}/`, never over this book).\n\n"
            + (f"{log}\n\n" if log else "")
            + "::::\n")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _one_line(text: str) -> str:
    """A claim statement on one line (for a Markdown list item: ``_`` and ``*`` are escaped,
    so "σ_n ... D_0" does not turn into emphasis)."""
    return " ".join(str(text).split()).replace("_", "\\_").replace("*", "\\*")


def without_timings(value: Any) -> Any:
    """``value`` (a parsed results file) without its :data:`TIMING_FIELD` entries, at any
    depth: what must be identical when a chapter runs twice."""
    if isinstance(value, Mapping):
        return {key: item if key == "settings" else without_timings(item)  # inputs: all kept
                for key, item in value.items() if not TIMING_FIELD.search(str(key))}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def load_results(directory: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every results file in ``directory``: chapter name -> parsed JSON."""
    directory = Path(directory or results_dir())
    loaded = {}
    for path in sorted(directory.glob("*.json")):
        try:
            loaded[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"results file {path} is not valid JSON: {error}") from None
    return loaded


