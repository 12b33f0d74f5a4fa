"""The claims across chapters: claim tables as HTML (a chapter's own, and the book's grouped by
chapter), verdict counts, the criteria trail, and the "Claims at a glance" page
(:class:`ClaimsSummary`; the landing page's verdict strip and findings come from it too)."""
from __future__ import annotations

import html
import os
import subprocess
from pathlib import Path
from typing import Iterable, Mapping

from ..core.io import PROJECT_ROOT, sha256_of
from .overview import (ChapterInfo, chapter_infos, claim_kind, findings_markdown, paper_counts,
                       rich_text, subtotal_text, verdict_badge, verdict_strip_html)
from .records import VERDICTS, load_results, results_dir

KIND_TITLES = {"paper": "Paper claims", "check": "Checks"}
KIND_INTRODUCTIONS = {
    "paper": "Statements the paper makes; the verdict counts are over these rows only.",
    "check": "Method validations, identities, theory from elsewhere and extensions beyond the "
             "paper: they support the claims above but are not claims of the paper.",
}
COLUMNS = ("Claim", "Paper", "This run", "Criterion (fixed before the run)", "Verdict")


def claim_row(claim: Mapping, link: str | None = None, row_id: str | None = None,
              chapter_cell: str | None = None) -> str:
    """One claim as a table row (cells labelled for the phone layout). ``link``: where the
    statement points (the chapter's row, from the claims page); ``row_id``: the row's anchor
    (``claim-<id>`` in a chapter's own table); ``chapter_cell``: a leading Chapter cell."""
    measured = rich_text(claim.get("measured"))
    if claim.get("note"):
        measured += f' <span class="claim-note">({rich_text(claim["note"])})</span>'
    statement = rich_text(claim["claim"])
    if link:
        statement = f'<a href="{html.escape(link)}">{statement}</a>'
    if claim.get("where"):
        statement += f'<span class="claim-where">{rich_text(claim["where"])}</span>'
    criterion = rich_text(claim["criterion"])
    if claim.get("revised"):
        criterion += (f'<span class="claim-revised"><em>revised:</em> '
                      f'{rich_text(claim["revised"])}</span>')
    cells = [("claim-statement", "Claim", statement),
             ("claim-paper", "Paper", rich_text(claim["paper"])),
             ("claim-measured", "This run", measured),
             ("claim-criterion", "Criterion", criterion),
             ("claim-verdict", "Verdict", verdict_badge(claim["verdict"]))]
    if chapter_cell is not None:
        cells.insert(0, ("claim-chapter-name", "Chapter", chapter_cell))
    anchor = f' id="{html.escape(row_id)}"' if row_id else ""
    return (f'<tr class="claim-row"{anchor} data-claim="{html.escape(str(claim["id"]))}">'
            + "".join(f'<td class="{css}" data-label="{label}">{cell}</td>'
                      for css, label, cell in cells) + "</tr>")


def table_html(body: str, chapter_column: bool = False) -> str:
    head = (("Chapter",) if chapter_column else ()) + COLUMNS
    header = "<tr>" + "".join(f"<th>{cell}</th>" for cell in head) + "</tr>"
    return (f'<table class="claim-check" style="font-size:0.85em"><thead>{header}</thead>'
            f"<tbody>{body}</tbody></table>")


def claims_html(claims: list[dict], chapter_column: bool = False) -> str:
    """A chapter's claim table (dicts as in a results file); each row is ``#claim-<id>``.
    With ``chapter_column`` (claims of other chapters shown in one page): a Chapter column
    (``chapter_link`` or ``chapter`` of each dict) and no row anchors."""
    if chapter_column:
        return table_html("".join(
            claim_row(claim, chapter_cell=claim.get("chapter_link")
                      or html.escape(str(claim.get("chapter", ""))))
            for claim in claims), chapter_column=True)
    return table_html("".join(claim_row(claim, row_id=f"claim-{claim['id']}")
                              for claim in claims))


def claims_by_kind_html(claims: list[dict]) -> str:
    """Paper claims first, then checks, each in its own titled table (``#claims-paper``,
    ``#claims-check``; a kind without rows is left out)."""
    parts = []
    for kind, title in KIND_TITLES.items():
        rows = [claim for claim in claims if claim_kind(claim) == kind]
        if rows:
            parts.append(f'<p class="claim-kind" id="claims-{kind}"><strong>{title}</strong> '
                         f'({len(rows)}). {KIND_INTRODUCTIONS[kind]}</p>' + claims_html(rows))
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
    """Every claim of the listed chapters' results files (the "Claims at a glance" page and
    the landing page's overview). ``infos``: chapter titles and numbers (from the toc)."""

    def __init__(self, records: dict[str, dict], infos: Mapping[str, ChapterInfo] | None = None):
        self.records = records
        self.infos = dict(infos or {})

    def info(self, name: str) -> ChapterInfo:
        return self.infos.get(name) or ChapterInfo(name, None, name, name)

    def claims(self, kind: str | None = None) -> list[dict]:
        """Rows of every chapter in reading order (only ``kind`` when given)."""
        return [{**claim, "chapter": chapter}
                for chapter, record in self.records.items()
                for claim in record.get("claims", [])
                if kind is None or claim_kind(claim) == kind]

    def counts(self, kind: str = "paper") -> dict[str, int]:
        return verdict_counts(self.records, kind)

    def counts_markdown(self):
        """The page in one paragraph: the paper-claim counts (badges) and the checks."""
        from IPython.display import Markdown
        counts, checks = self.counts("paper"), self.counts("check")
        parts = ", ".join(f"{verdict_badge(verdict)} **{counts[verdict]}**"
                          for verdict in VERDICTS)
        profiles = sorted({str(record.get("profile", "?")) for record in self.records.values()})
        return Markdown(
            f"**{sum(counts.values())} paper claims** in {len(self.records)} chapters "
            f"(profile {', '.join(profiles)}): {parts}. Besides them, "
            f"{sum(checks.values())} checks (method validations, identities, theory from "
            f"elsewhere, extensions), {checks['reproduced']} of them passed.")

    def strip(self):
        """The verdict strip: per chapter, one square per paper claim and the subtotals."""
        from IPython.display import HTML
        return HTML(verdict_strip_html(self.records, self.infos))

    def findings(self):
        """A few computed sentences of what the book found (the landing page)."""
        from IPython.display import Markdown
        return Markdown(findings_markdown(self.records, self.infos))

    def table(self, kind: str = "paper"):
        """One table of ``kind``, grouped by chapter: a heading row per chapter (its title,
        linked to its claim table, and its subtotal), each statement linked to its row."""
        from IPython.display import HTML
        body = []
        for name, record in self.records.items():
            rows = [claim for claim in record.get("claims", []) if claim_kind(claim) == kind]
            if not rows:
                continue
            info = self.info(name)
            if kind == "paper":
                subtotal = subtotal_text(paper_counts(record))
            else:
                subtotal = (f"{sum(claim['verdict'] == 'reproduced' for claim in rows)} of "
                            f"{len(rows)} passed")
            body.append(f'<tr class="claim-chapter" data-chapter="{html.escape(name)}">'
                        f'<th colspan="{len(COLUMNS)}"><a href="{info.page}#claims-{kind}">'
                        f'{rich_text(info.label)}</a><span class="subtotal">{subtotal}'
                        f"</span></th></tr>")
            body += [claim_row(claim, link=f"{info.page}#claim-{claim['id']}")
                     for claim in rows]
        if not body:
            return HTML(f"<p>No {KIND_TITLES[kind].lower()} in these chapters.</p>")
        return HTML(table_html("".join(body)))

    def provenance_table(self):
        """Per chapter: profile, seeds, wall time, the commit of the run, and the trail of its
        criteria (file, the commit and date they last changed, whether they are as run)."""
        from IPython.display import HTML
        head = ("<tr><th>Chapter</th><th>Profile</th><th>Seeds</th><th>Wall time (s)</th>"
                "<th>Run commit</th><th>Criteria</th><th>Criteria last changed</th>"
                "<th>Criteria state</th><th>Results</th></tr>")
        rows = []
        for name, record in self.records.items():
            trail = criteria_trail(record)
            changed = (f"<code>{html.escape(trail['commit'])}</code> "
                       f"{html.escape(trail['date'])}" if trail["commit"] else "—")
            shown = trail["file"].removeprefix("src/collapse/") if trail["file"] else None
            info = self.info(name)
            cells = [f'<a href="{info.page}">{rich_text(info.label)}</a>',
                     html.escape(str(record.get("profile"))),
                     html.escape(str(record.get("seeds"))),
                     f"{record.get('wall_seconds') or 0:.1f}",
                     f"<code>{html.escape(str(record.get('git_commit')))}</code>",
                     f"<code>{html.escape(shown)}</code>" if shown else "—",
                     changed, html.escape(trail["state"]),
                     f'<a href="../results/{html.escape(name)}.json">JSON</a>']
            rows.append(f'<tr data-chapter="{html.escape(name)}">'
                        + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        return HTML(f'<table class="claim-provenance" style="font-size:0.85em"><thead>{head}'
                    f"</thead><tbody>{''.join(rows)}</tbody></table>")


def claims_summary(chapters: Iterable[str] | None = None,
                   directory: str | os.PathLike | None = None,
                   root: Path = PROJECT_ROOT) -> ClaimsSummary:
    """The claims of ``chapters`` (in that order; default: every chapter of the book that
    writes results), read from their results files, with titles and numbers from ``root``.

    Raises FileNotFoundError naming a chapter whose results file is missing.
    """
    directory = Path(directory or results_dir())
    infos = chapter_infos(root) if (Path(root) / "_toc.yml").is_file() else {}
    chapters = list(infos) if chapters is None else list(chapters)
    loaded = load_results(directory)
    missing = [name for name in chapters if name not in loaded]
    if missing:
        raise FileNotFoundError(f"no results file for chapter(s) {missing} in {directory}: "
                                f"run them first (collapse build)")
    return ClaimsSummary({name: loaded[name] for name in chapters}, infos)
