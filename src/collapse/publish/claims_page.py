"""The claims across chapters: claim tables as HTML, verdict counts, and the "Claims at a
glance" page (:class:`ClaimsSummary`)."""
from __future__ import annotations

import html
import os
import subprocess
from pathlib import Path
from typing import Iterable, Mapping

from ..core.io import PROJECT_ROOT, sha256_of
from .records import VERDICTS, load_results, results_dir

VERDICT_COLOURS = {"reproduced": "#1b7f3b", "partially reproduced": "#9a6700",
                   "not reproduced": "#b42318"}


def verdict_badge(verdict: str) -> str:
    """A verdict as a coloured label (inline style: no stylesheet or font needed)."""
    colour = VERDICT_COLOURS.get(verdict, "#555555")
    return (f'<span class="verdict" style="color:#fff;background:{colour};border-radius:4px;'
            f'padding:1px 6px;white-space:nowrap">{html.escape(str(verdict))}</span>')


KIND_TITLES = {"paper": "Paper claims", "check": "Checks"}
KIND_INTRODUCTIONS = {
    "paper": "Statements the paper makes; the verdict counts are over these rows only.",
    "check": "Method validations, identities, theory from elsewhere and extensions beyond the "
             "paper: they support the claims above but are not claims of the paper.",
}


def claim_kind(claim: Mapping) -> str:
    """"paper" or "check" (results written before the distinction count as paper claims)."""
    return claim.get("kind") or "paper"


def claims_html(claims: list[dict], chapter_column: bool = False) -> str:
    """An HTML table of claims (dicts as in a results file); optionally a chapter column."""
    head = ["Chapter"] if chapter_column else []
    head += ["Claim", "Paper", "This run", "Criterion (fixed before the run)", "Verdict"]
    rows = []
    for claim in claims:
        cells = [claim.get("chapter_link", html.escape(str(claim.get("chapter", ""))))] \
            if chapter_column else []
        measured = str(claim.get("measured"))
        if claim.get("note"):
            measured += f" ({claim['note']})"
        statement = html.escape(str(claim["claim"]))
        if claim.get("where"):
            statement += f'<br><span class="claim-where">{html.escape(claim["where"])}</span>'
        criterion = html.escape(str(claim["criterion"]))
        if claim.get("revised"):
            criterion += (f'<br><span class="claim-revised"><em>revised:</em> '
                          f'{html.escape(claim["revised"])}</span>')
        cells += [statement, html.escape(str(claim["paper"])), html.escape(measured), criterion,
                  verdict_badge(claim["verdict"])]
        rows.append(f'<tr id="claim-{html.escape(str(claim["id"]))}">'
                    + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{cell}</th>" for cell in head) + "</tr>"
    return (f'<table class="claim-check" style="font-size:0.85em"><thead>{header}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def claims_by_kind_html(claims: list[dict], chapter_column: bool = False) -> str:
    """Paper claims first, then checks, each in its own titled table (a kind without rows is
    left out)."""
    parts = []
    for kind, title in KIND_TITLES.items():
        rows = [claim for claim in claims if claim_kind(claim) == kind]
        if rows:
            parts.append(f'<p class="claim-kind"><strong>{title}</strong> '
                         f'({len(rows)}). {KIND_INTRODUCTIONS[kind]}</p>'
                         + claims_html(rows, chapter_column))
    return "".join(parts)


def verdict_counts(results: Mapping[str, dict], kind: str = "paper") -> dict[str, int]:
    """How many claims of ``kind`` ("paper" or "check") of all chapters got each verdict."""
    counts = {verdict: 0 for verdict in VERDICTS}
    for record in results.values():
        for claim in record.get("claims", []):
            if claim_kind(claim) == kind:
                counts[claim["verdict"]] = counts.get(claim["verdict"], 0) + 1
    return counts


def _git(*arguments: str) -> str | None:
    try:
        return subprocess.run(["git", *arguments], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def criteria_trail(record: Mapping) -> dict:
    """When a chapter's criteria last changed, from git at build time: {"file", "commit",
    "date", "state"}. ``state``: "uncommitted" (the file has uncommitted changes),
    "changed since this run" (its hash differs from the one the run recorded), "as run", or
    "unknown" (no git, no claims module)."""
    criteria = record.get("criteria") or {}
    path = criteria.get("path")
    trail = {"file": path, "commit": None, "date": None, "state": "unknown"}
    if not path:
        return trail
    log = _git("log", "-1", "--format=%h %cs", "--", path)
    if log:
        trail["commit"], trail["date"] = log.split()
    dirty = _git("status", "--porcelain", "--", path)
    current = PROJECT_ROOT / path
    if dirty:
        trail["state"] = "uncommitted"
    elif current.is_file() and criteria.get("sha256") and \
            sha256_of(current) != criteria["sha256"]:
        trail["state"] = "changed since this run"
    elif log is not None:
        trail["state"] = "as run"
    return trail


class ClaimsSummary:
    """Every claim of the listed chapters' results files (the "Claims at a glance" page)."""

    def __init__(self, records: dict[str, dict]):
        self.records = records

    def claims(self, kind: str | None = None) -> list[dict]:
        """Rows of every chapter in reading order (only ``kind`` when given)."""
        rows = []
        for chapter, record in self.records.items():
            for claim in record.get("claims", []):
                if kind is not None and claim_kind(claim) != kind:
                    continue
                link = (f'<a href="{html.escape(chapter)}.html#claim-'
                        f'{html.escape(str(claim["id"]))}">{html.escape(chapter)}</a>')
                rows.append({**claim, "chapter": chapter, "chapter_link": link})
        return rows

    def counts(self, kind: str = "paper") -> dict[str, int]:
        return verdict_counts(self.records, kind)

    def counts_markdown(self):
        from IPython.display import Markdown
        counts, checks = self.counts("paper"), self.counts("check")
        parts = ", ".join(f"**{counts[verdict]}** {verdict}" for verdict in VERDICTS)
        profiles = sorted({record.get("profile", "?") for record in self.records.values()})
        return Markdown(
            f"{sum(counts.values())} paper claims in {len(self.records)} chapters "
            f"(profile {', '.join(profiles)}): {parts}. Besides them, "
            f"{sum(checks.values())} checks (method validations, identities, theory from "
            f"elsewhere, extensions), {checks['reproduced']} of them passed.")

    def table(self, kind: str = "paper"):
        from IPython.display import HTML
        rows = self.claims(kind)
        if not rows:
            return HTML(f"<p>No {KIND_TITLES[kind].lower()} in these chapters.</p>")
        return HTML(claims_html(rows, chapter_column=True))

    def provenance_table(self):
        """Per chapter: profile, seeds, wall time, the commit of the run, and the trail of its
        criteria (file, the commit and date they last changed, whether they are as run)."""
        from IPython.display import HTML
        head = ("<tr><th>Chapter</th><th>Profile</th><th>Seeds</th><th>Wall time (s)</th>"
                "<th>Run commit</th><th>Criteria</th><th>Criteria last changed</th>"
                "<th>Criteria state</th></tr>")
        rows = []
        for name, record in self.records.items():
            trail = criteria_trail(record)
            changed = (f"<code>{html.escape(trail['commit'])}</code><br>"
                       f"{html.escape(trail['date'])}" if trail["commit"] else "—")
            shown = trail["file"].removeprefix("src/collapse/") if trail["file"] else None
            cells = [html.escape(name), html.escape(str(record.get("profile"))),
                     html.escape(str(record.get("seeds"))),
                     f"{record.get('wall_seconds') or 0:.1f}",
                     f"<code>{html.escape(str(record.get('git_commit')))}</code>",
                     f"<code>{html.escape(shown)}</code>" if shown else "—",
                     changed, html.escape(trail["state"])]
            rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        return HTML(f'<table class="claim-provenance" style="font-size:0.85em"><thead>{head}</thead>'
                    f"<tbody>{''.join(rows)}</tbody></table>")


def claims_summary(chapters: Iterable[str], directory: str | os.PathLike | None = None
                   ) -> ClaimsSummary:
    """The claims of ``chapters`` (in that order), read from their results files.

    Raises FileNotFoundError naming a chapter whose results file is missing.
    """
    directory = Path(directory or results_dir())
    loaded = load_results(directory)
    missing = [name for name in chapters if name not in loaded]
    if missing:
        raise FileNotFoundError(f"no results file for chapter(s) {missing} in {directory}: "
                                f"run them first (collapse build)")
    return ClaimsSummary({name: loaded[name] for name in chapters})
