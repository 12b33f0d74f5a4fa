"""The real book: every chapter of _toc.yml executes under the smoke profile and the HTML
builds (Sphinx warnings are errors), into a temporary folder, never the user's _build."""
import json
import re
from pathlib import Path

import pytest

from collapse.publish import chapters, claims_page, records, runner
from conftest import PROJECT_ROOT


@pytest.mark.slow
def test_every_page_of_the_toc_is_built(smoke_book):
    for docname in chapters.toc_docnames(PROJECT_ROOT):
        assert (smoke_book.html / f"{docname}.html").is_file(), docname
    assert (smoke_book.html / "index.html").is_file()


@pytest.mark.slow
def test_every_chapter_wrote_results_with_computed_verdicts(smoke_book):
    chapters = [c.name for c in chapters_module.content_chapters(PROJECT_ROOT)]
    for name in chapters:
        record = json.loads((smoke_book.results / f"{name}.json").read_text())
        assert record["chapter"] == name and record["profile"] == "smoke"
        assert record["metrics"], name
        assert record["claims"], f"{name} checks no claim"
        for claim in record["claims"]:
            assert claim["verdict"] in records.VERDICTS, claim
            assert claim["criterion"] and claim["measured"] not in (None, ""), claim


@pytest.mark.slow
def test_chapter_pages_show_their_figures_and_footer(smoke_book):
    for chapter in chapters_module.content_chapters(PROJECT_ROOT):
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
        assert re.search(r"Fig\. \d+", text), f"{chapter.name}: figures are not numbered"
        assert "Reproducibility" in text and "git commit" in text, chapter.name


@pytest.mark.slow
def test_claims_page_lists_paper_claims_apart_from_checks(smoke_book):
    page = (smoke_book.html / "book" / "claims.html").read_text()
    tables = re.findall(r'<table class="claim-check"[^>]*>(.*?)</table>', page, re.S)
    assert tables, "the claims page has no claim table"
    rows = [re.findall(r'<tr id="claim-([^"]+)">(.*?)</tr>', table, re.S) for table in tables]
    loaded = records.load_results(smoke_book.results)
    order = [c.name for c in chapters_module.content_chapters(PROJECT_ROOT)]
    for kind, table_rows in zip(("paper", "check"), rows):
        recorded = [(name, claim) for name in order for claim in loaded[name]["claims"]
                    if claim.get("kind", "paper") == kind]
        assert [claim["id"] for _, claim in recorded] == [row_id for row_id, _ in table_rows]
        for (name, claim), (_, row) in zip(recorded, table_rows):
            assert f'href="{name}.html#claim-{claim["id"]}"' in row and claim["verdict"] in row
    # the trail: per chapter, the run's commit and when its criteria last changed
    trail = re.search(r'<table class="claim-provenance"[^>]*>(.*?)</table>', page, re.S)
    assert trail and "Criteria last changed" in trail.group(1)
    for name in order:
        assert f"<td>{name}</td>" in trail.group(1)
