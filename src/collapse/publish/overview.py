"""The book at a glance, from the results files: chapter titles and numbers (from ``_toc.yml``
and each chapter's heading), the verdict strip (one row per chapter, one square per paper
claim), a few computed sentences of what the book found (the landing page), and every claim as
CSV (served with the site)."""
from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
from pathlib import Path
from typing import Mapping

import yaml

from ..core.io import PROJECT_ROOT
from .chapters import content_chapters
from .records import VERDICTS

VERDICT_COLOURS = {"reproduced": "#1b7f3b", "partially reproduced": "#9a6700",
                   "not reproduced": "#b42318"}
_MATH = re.compile(r"(?<![\\$])\$([^$\n]+?)\$")


def rich_text(text) -> str:
    """``text`` escaped for HTML, with ``$...$`` turned into inline maths the book's MathJax
    typesets (claims, criteria and titles may carry maths)."""
    escaped = html.escape(str(text), quote=False)
    return _MATH.sub(lambda m: f'<span class="math notranslate nohighlight">\\({m.group(1)}\\)'
                               f"</span>", escaped)


def verdict_badge(verdict: str) -> str:
    """A verdict as a coloured label (inline colours too: right in Jupyter, in print, offline)."""
    colour = VERDICT_COLOURS.get(verdict, "#555555")
    slug = re.sub(r"[^a-z]+", "-", str(verdict).lower()).strip("-") or "none"
    return (f'<span class="verdict verdict-{slug}" style="color:#fff;background:{colour};'
            f'border-radius:4px;padding:1px 6px;white-space:nowrap">'
            f"{html.escape(str(verdict))}</span>")


def claim_kind(claim: Mapping) -> str:
    """"paper" or "check" (results written before the distinction count as paper claims)."""
    return claim.get("kind") or "paper"


# ----------------------------------------------------------------------------- chapters
@dataclasses.dataclass(frozen=True)
class ChapterInfo:
    """A chapter as readers see it: ``number`` (None when unnumbered), its heading ``title``
    and the part before the colon (``short``), and its page (relative to another page)."""

    name: str
    number: int | None
    title: str
    short: str

    @property
    def page(self) -> str:
        return f"{self.name}.html"

    @property
    def label(self) -> str:
        return f"{self.number}. {self.short}" if self.number else self.short


def heading(path: Path) -> str:
    """The first level-1 heading of a MyST page (its file stem when it has none)."""
    text = path.read_text(encoding="utf-8")
    if text.startswith("---"):
        text = text[text.find("\n---", 3) + 4:]
    fenced = False
    for line in text.splitlines():
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("# "):
            return line[2:].strip()
    return path.stem


def numbered_docnames(root: Path = PROJECT_ROOT) -> list[str]:
    """Documents of ``_toc.yml`` that Sphinx numbers (parts or the root with ``numbered``),
    in order: their position is their chapter number."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found: list[str] = []

    def files(entries) -> list[str]:
        return [str(entry["file"]).removesuffix(".md") for entry in entries or []
                if isinstance(entry, dict) and "file" in entry]

    if (toc.get("options") or {}).get("numbered") or toc.get("numbered"):
        found += files(toc.get("chapters"))
    for part in toc.get("parts") or []:
        if part.get("numbered"):
            found += files(part.get("chapters"))
    return found


def chapter_infos(root: Path = PROJECT_ROOT) -> dict[str, ChapterInfo]:
    """name -> ChapterInfo for every chapter that writes results, in reading order."""
    numbers = {docname: index + 1 for index, docname in enumerate(numbered_docnames(root))}
    infos = {}
    for chapter in content_chapters(root):
        title = heading(chapter.source)
        infos[chapter.name] = ChapterInfo(chapter.name, numbers.get(chapter.docname), title,
                                          title.split(":")[0].strip())
    return infos


# ----------------------------------------------------------------------------- summaries
def paper_counts(record: Mapping) -> dict[str, int]:
    counts = {verdict: 0 for verdict in VERDICTS}
    for claim in record.get("claims", []):
        if claim_kind(claim) == "paper":
            counts[claim["verdict"]] = counts.get(claim["verdict"], 0) + 1
    return counts


def subtotal_text(counts: Mapping[str, int]) -> str:
    """"3 reproduced · 1 partially · 0 not" (paper claims)."""
    return " · ".join(f"{counts.get(verdict, 0)} {verdict.split()[0]}" for verdict in VERDICTS)


def verdict_dots(name: str, record: Mapping) -> str:
    """One coloured square per paper claim, linked to its row in the chapter."""
    dots = []
    for claim in record.get("claims", []):
        if claim_kind(claim) != "paper":
            continue
        colour = VERDICT_COLOURS.get(claim["verdict"], "#555555")
        tip = html.escape(f"{claim['verdict']}: {' '.join(str(claim['claim']).split())}")
        dots.append(f'<a href="{name}.html#claim-{html.escape(str(claim["id"]))}" '
                    f'title="{tip}" aria-label="{tip}"><span class="verdict-dot" '
                    f'style="background:{colour}"></span></a>')
    return f'<span class="verdict-dots">{"".join(dots)}</span>'


def verdict_strip_html(records: Mapping[str, dict], infos: Mapping[str, ChapterInfo]) -> str:
    """Per chapter: its title (linked), one square per paper claim, the paper-claim subtotal
    and how many checks passed."""
    rows = []
    for name, record in records.items():
        info = infos.get(name) or ChapterInfo(name, None, name, name)
        counts = paper_counts(record)
        checks = [claim for claim in record.get("claims", []) if claim_kind(claim) == "check"]
        passed = sum(claim["verdict"] == "reproduced" for claim in checks)
        rows.append(
            f'<tr><td class="strip-chapter"><a href="{info.page}" title="'
            f'{html.escape(info.title)}">{rich_text(info.label)}</a></td>'
            f'<td class="strip-dots">{verdict_dots(name, record)}</td>'
            f'<td class="strip-counts">{counts["reproduced"]} of {sum(counts.values())} '
            f'reproduced · {counts["partially reproduced"]} partially · '
            f'{counts["not reproduced"]} not</td>'
            f'<td class="strip-checks">'
            f'{f"{passed} of {len(checks)} checks passed" if checks else "no checks"}</td></tr>')
    legend = " ".join(f'<span class="strip-key"><span class="verdict-dot" style="background:'
                      f'{colour}"></span> {verdict}</span>'
                      for verdict, colour in VERDICT_COLOURS.items())
    return ('<table class="verdict-strip"><thead><tr><th>Chapter</th><th>Paper claims</th>'
            "<th>Verdicts</th><th>Checks</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table><p class=\"strip-legend\">One square per paper claim, linked to "
            f"its row in the chapter's claim table: {legend}</p>")


def findings_markdown(records: Mapping[str, dict], infos: Mapping[str, ChapterInfo]) -> str:
    """A few computed sentences: the totals, the chapters where everything held, the claims
    that did not, the headline numbers the chapters chose, and a warning under ``smoke``."""
    totals = {verdict: 0 for verdict in VERDICTS}
    for record in records.values():
        for verdict, count in paper_counts(record).items():
            totals[verdict] += count
    profiles = sorted({str(record.get("profile")) for record in records.values()})
    lines = [f"This build ran {len(records)} chapters under the profile "
             f"{', '.join(f'`{p}`' for p in profiles)} and checked "
             f"{sum(totals.values())} statements of the paper: **{totals['reproduced']} "
             f"reproduced**, {totals['partially reproduced']} partially reproduced and "
             f"{totals['not reproduced']} not reproduced."]

    def named(name: str) -> str:
        info = infos.get(name) or ChapterInfo(name, None, name, name)
        number = f" (chapter {info.number})" if info.number else ""
        return f'<a href="{info.page}">{html.escape(info.short)}</a>{number}'

    complete = [named(name) for name, record in records.items()
                if (counts := paper_counts(record))["reproduced"] == sum(counts.values()) > 0]
    if complete:
        lines.append(f"Every paper claim held in {_join(complete)}.")
    if "smoke" in profiles:
        lines.append("The `smoke` profile runs every chapter at a tiny scale to test the "
                     "machinery: its verdicts are not the book's findings (those are under "
                     "`book`).")
    text = " ".join(lines) + "\n"
    missed = [(name, claim) for name, record in records.items()
              for claim in record.get("claims", [])
              if claim_kind(claim) == "paper" and claim["verdict"] != "reproduced"]
    if missed:  # one raw HTML block (no blank line inside): claim texts are not Markdown
        items = "".join(
            f'<li>{verdict_badge(claim["verdict"])} <a href="{name}.html#claim-'
            f'{html.escape(str(claim["id"]))}">{rich_text(" ".join(str(claim["claim"]).split()))}'
            f"</a> ({named(name)})</li>" for name, claim in missed)
        text += (f'\n<details class="findings-missed"><summary>The {len(missed)} paper claims '
                 f"not (fully) reproduced in this build</summary><ul>{items}</ul></details>\n")
    headlines = [(name, label, value) for name, record in records.items()
                 for label, value in (record.get("key_results") or {}).items()]
    if headlines:
        text += "\nHeadline numbers:\n\n" + "\n".join(
            f"- {infos[name].short if name in infos else name}: {label}, {value}"
            for name, label, value in headlines) + "\n"
    return text


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ----------------------------------------------------------------------------- CSV
CSV_COLUMNS = ("chapter", "chapter_title", "id", "kind", "verdict", "claim", "where", "paper",
               "measured", "criterion", "revised", "note", "profile", "seeds", "run_commit")


def claims_csv(records: Mapping[str, dict], infos: Mapping[str, ChapterInfo]) -> str:
    """Every claim of every chapter, one row each (paper claims and checks), as CSV text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for name, record in records.items():
        for claim in record.get("claims", []):
            writer.writerow({**{key: claim.get(key, "") for key in CSV_COLUMNS},
                             "chapter": name, "kind": claim_kind(claim),
                             "chapter_title": infos[name].title if name in infos else name,
                             "profile": record.get("profile", ""),
                             "seeds": record.get("seeds", ""),
                             "run_commit": record.get("git_commit", "")})
    return out.getvalue()
