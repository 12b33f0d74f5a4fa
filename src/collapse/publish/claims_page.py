"""The claims across chapters: claim tables as HTML, verdict counts, and the "Claims at a
glance" page (:class:`ClaimsSummary`)."""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Iterable, Mapping

from .records import VERDICTS, load_results, results_dir

VERDICT_COLOURS = {"reproduced": "#1b7f3b", "partially reproduced": "#9a6700",
                   "not reproduced": "#b42318"}


def verdict_badge(verdict: str) -> str:
    """A verdict as a coloured label (inline style: no stylesheet or font needed)."""
    colour = VERDICT_COLOURS.get(verdict, "#555555")
    return (f'<span class="verdict" style="color:#fff;background:{colour};border-radius:4px;'
            f'padding:1px 6px;white-space:nowrap">{html.escape(str(verdict))}</span>')


def claims_html(claims: list[dict], chapter_column: bool = False) -> str:
    """An HTML table of claims (dicts as in a results file); optionally a chapter column."""
    head = ["Chapter"] if chapter_column else []
    head += ["Claim", "Paper", "This run", "Criterion (fixed before the run)", "Verdict"]
    rows = []
    for claim in claims:
        cells = [claim.get("chapter_link", claim.get("chapter", ""))] if chapter_column else []
        cells = [cell if chapter_column and index == 0 else html.escape(str(cell))
                 for index, cell in enumerate(cells)]
        measured = str(claim.get("measured"))
        if claim.get("note"):
            measured += f" ({claim['note']})"
        cells += [html.escape(str(claim["claim"])), html.escape(str(claim["paper"])),
                  html.escape(measured), html.escape(str(claim["criterion"])),
                  verdict_badge(claim["verdict"])]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{cell}</th>" for cell in head) + "</tr>"
    return (f'<table class="claim-check" style="font-size:0.85em"><thead>{header}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def verdict_counts(results: Mapping[str, dict]) -> dict[str, int]:
    """How many claims of all chapters got each verdict."""
    counts = {verdict: 0 for verdict in VERDICTS}
    for record in results.values():
        for claim in record.get("claims", []):
            counts[claim["verdict"]] = counts.get(claim["verdict"], 0) + 1
    return counts


class ClaimsSummary:
    """Every claim of the listed chapters' results files (the "Claims at a glance" page)."""

    def __init__(self, records: dict[str, dict]):
        self.records = records

    def claims(self) -> list[dict]:
        rows = []
        for chapter, record in self.records.items():
            for claim in record.get("claims", []):
                link = f'<a href="{html.escape(chapter)}.html">{html.escape(chapter)}</a>'
                rows.append({**claim, "chapter": chapter, "chapter_link": link})
        return rows

    def counts(self) -> dict[str, int]:
        return verdict_counts(self.records)

    def counts_markdown(self):
        from IPython.display import Markdown
        counts = self.counts()
        total = sum(counts.values())
        parts = ", ".join(f"**{counts[verdict]}** {verdict}" for verdict in VERDICTS)
        profiles = sorted({record.get("profile", "?") for record in self.records.values()})
        return Markdown(f"{total} claims in {len(self.records)} chapters "
                        f"(profile {', '.join(profiles)}): {parts}.")

    def table(self):
        from IPython.display import HTML
        return HTML(claims_html(self.claims(), chapter_column=True))

    def provenance_table(self):
        from IPython.display import HTML
        head = ("<tr><th>Chapter</th><th>Profile</th><th>Seeds</th><th>Wall time (s)</th>"
                "<th>Git commit</th></tr>")
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(r.get('profile')))}</td>"
            f"<td>{html.escape(str(r.get('seeds')))}</td><td>{r.get('wall_seconds', 0):.1f}</td>"
            f"<td><code>{html.escape(str(r.get('git_commit')))}</code></td></tr>"
            for name, r in self.records.items())
        return HTML(f'<table class="claim-provenance"><thead>{head}</thead>'
                    f"<tbody>{rows}</tbody></table>")


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
