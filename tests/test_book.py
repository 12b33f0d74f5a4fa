"""The real book: every chapter of _toc.yml executes under the smoke profile and the HTML
builds (Sphinx warnings are errors), into a temporary folder, never the user's _build."""
import csv
import html
import io
import json
import re

import pytest
import yaml

from collapse.publish import chapters, overview, records
from conftest import PROJECT_ROOT


@pytest.mark.slow
def test_every_page_of_the_toc_is_built(smoke_book):
    for docname in chapters.toc_docnames(PROJECT_ROOT):
        assert (smoke_book.html / f"{docname}.html").is_file(), docname
    assert (smoke_book.html / "index.html").is_file()


@pytest.mark.slow
def test_every_chapter_wrote_results_with_computed_verdicts(smoke_book):
    for name in [c.name for c in chapters.content_chapters(PROJECT_ROOT)]:
        record = json.loads((smoke_book.results / f"{name}.json").read_text())
        assert record["chapter"] == name and record["profile"] == "smoke"
        assert record["metrics"], name
        assert record["claims"], f"{name} checks no claim"
        for claim in record["claims"]:
            assert claim["verdict"] in records.VERDICTS, claim
            assert claim["criterion"] and claim["measured"] not in (None, ""), claim


@pytest.mark.slow
def test_chapter_pages_show_their_figures_and_footer(smoke_book):
    infos = overview.chapter_infos(PROJECT_ROOT)
    for chapter in chapters.content_chapters(PROJECT_ROOT):
        page = smoke_book.html / f"{chapter.docname}.html"
        text = page.read_text()
        notebook = json.loads(smoke_book.executed(chapter).read_text())
        figures = sum("image/png" in output.get("data", {})
                      for cell in notebook["cells"] for output in cell.get("outputs", []))
        sources = re.findall(r'<img[^>]+src="([^"]+)"', text)
        assert figures > 0, f"{chapter.name} draws no figure"
        assert len(sources) >= figures, chapter.name
        for source in sources:
            image = (page.parent / source).resolve()
            assert image.is_file() and image.stat().st_size > 0, (chapter.name, source)
        # figures are numbered per chapter: "Fig. 4.2" in chapter 4
        number = infos[chapter.name].number
        assert re.search(rf"Fig\. {number}\.\d+", text), f"{chapter.name}: not Fig. {number}.n"
        assert "Reproducibility" in text and "git commit" in text, chapter.name
        assert f'href="../results/{chapter.name}.json"' in text, chapter.name


@pytest.mark.slow
def test_claims_page_groups_paper_claims_and_checks_by_chapter(smoke_book):
    page = (smoke_book.html / "book" / "claims.html").read_text()
    tables = re.findall(r'<table class="claim-check"[^>]*>(.*?)</table>', page, re.S)
    assert tables, "the claims page has no claim table"
    loaded = records.load_results(smoke_book.results)
    infos = overview.chapter_infos(PROJECT_ROOT)
    order = list(infos)
    kinds = [kind for kind in ("paper", "check")
             if any(overview.claim_kind(claim) == kind for name in order
                    for claim in loaded[name]["claims"])]
    assert len(tables) == len(kinds)
    for kind, table in zip(kinds, tables):
        recorded = [(name, claim) for name in order for claim in loaded[name]["claims"]
                    if overview.claim_kind(claim) == kind]
        rows = re.findall(r'<tr class="claim-row" data-claim="([^"]+)">(.*?)</tr>', table, re.S)
        assert [claim["id"] for _, claim in recorded] == [row_id for row_id, _ in rows]
        for (name, claim), (_, row) in zip(recorded, rows):
            assert f'href="{name}.html#claim-{claim["id"]}"' in row and claim["verdict"] in row
        # one heading row per chapter: its number and title, a link to its table, a subtotal
        headings = re.findall(r'<tr class="claim-chapter" data-chapter="([^"]+)">(.*?)</tr>',
                              table, re.S)
        assert [name for name, _ in headings] == sorted({name for name, _ in recorded},
                                                        key=order.index)
        for name, heading in headings:
            assert f'href="{name}.html#claims-{kind}"' in heading
            assert html.escape(infos[name].label) in heading and "subtotal" in heading
    # the trail: per chapter, the run's commit, when its criteria last changed, its results
    trail = re.search(r'<table class="claim-provenance"[^>]*>(.*?)</table>', page, re.S)
    assert trail and "Criteria last changed" in trail.group(1)
    for name in order:
        assert f'data-chapter="{name}"' in trail.group(1)
        assert f'href="../results/{name}.json"' in trail.group(1)
    assert 'href="../results/claims.csv"' in page


@pytest.mark.slow
def test_every_chapter_claim_table_gives_each_row_an_anchor(smoke_book):
    """The claims page and the landing page link to ``<chapter>.html#claim-<id>``."""
    loaded = records.load_results(smoke_book.results)
    missing = {}
    for chapter in chapters.content_chapters(PROJECT_ROOT):
        text = (smoke_book.html / f"{chapter.docname}.html").read_text()
        absent = [claim["id"] for claim in loaded[chapter.name]["claims"]
                  if f'id="claim-{claim["id"]}"' not in text]
        if absent:
            missing[chapter.name] = absent
    assert not missing, f"claims without a row anchor in their chapter: {missing}"


@pytest.mark.slow
def test_the_site_serves_results_claims_csv_and_citation(smoke_book):
    loaded = records.load_results(smoke_book.results)
    names = [chapter.name for chapter in chapters.content_chapters(PROJECT_ROOT)]
    for name in names:
        served = smoke_book.html / "results" / f"{name}.json"
        assert served.read_bytes() == (smoke_book.results / f"{name}.json").read_bytes(), name
    rows = list(csv.DictReader(io.StringIO(
        (smoke_book.html / "results" / "claims.csv").read_text())))
    assert len(rows) == sum(len(loaded[name]["claims"]) for name in names)
    assert (smoke_book.html / "CITATION.cff").read_bytes() == \
        (PROJECT_ROOT / "CITATION.cff").read_bytes()
    for page in sorted((smoke_book.html / "book").glob("*.html")):   # every page's footer
        text = page.read_text()
        assert 'href="../CITATION.cff"' in text and 'href="../results/claims.csv"' in text, page


@pytest.mark.slow
def test_landing_page_shows_the_verdict_strip_and_how_to_cite(smoke_book):
    page = (smoke_book.html / "book" / "intro.html").read_text()
    loaded = records.load_results(smoke_book.results)
    strip = re.search(r'<table class="verdict-strip">(.*?)</table>', page, re.S)
    assert strip, "no verdict strip on the landing page"
    for name in overview.chapter_infos(PROJECT_ROOT):
        paper = [claim for claim in loaded[name]["claims"]
                 if overview.claim_kind(claim) == "paper"]
        assert strip.group(1).count(f'href="{name}.html#claim-') == len(paper), name
    assert "statements of the paper" in page          # the computed sentences
    url = yaml.safe_load((PROJECT_ROOT / "_config.yml").read_text())[
        "sphinx"]["config"]["html_theme_options"]["repository_url"]
    cite = re.search(r'<div class="cite-box[^"]*">(.*?)</div>\s*</section>', page, re.S)
    assert cite and 'href="../CITATION.cff"' in cite.group(1)
    text = html.unescape(re.sub(r"<[^>]+>", "", cite.group(1)))   # BibTeX is highlighted
    assert "10.1038/s41586-024-07566-y" in text and url in text
    assert "@software{model_collapse_rederived" in text and "commit" in text
    # the repository in the header of every page
    assert f'href="{url}"' in (smoke_book.html / "book" / "claims.html").read_text()


@pytest.mark.slow
def test_bibliography_is_author_year_and_names_are_not_repeated(smoke_book):
    bibliography = (smoke_book.html / "book" / "bibliography.html").read_text()
    labels = re.findall(r'<span class="label"><span class="fn-bracket">\[</span>([^<]+)<',
                        bibliography)
    assert labels and all(re.search(r"\D, \d{4}[a-z]?$", label) for label in labels), labels
    repeated = re.compile(r"([A-Z][\w-]+) <em>et al\.</em> \(<a[^>]*>\1")
    for page in sorted((smoke_book.html / "book").glob("*.html")):
        assert not repeated.search(page.read_text()), page.name
