"""The book's presentation machinery (issue 18), without building the book: the key-results box
and the run log, the landing page's strip and sentences, the claims CSV, author-year
citations, the citation metadata configured once, the figure style."""
from __future__ import annotations

import csv
import io
import re

import matplotlib
import numpy as np
import pytest
import yaml

from collapse.publish import chapters, overview, plotting, records, sphinx_extension
from conftest import PROJECT_ROOT

matplotlib.use("Agg")


def evaluated_record() -> records.ChapterRecord:
    record = records.ChapterRecord("demo", {"profile": "smoke", "n_seeds": 3})
    record.declare_claim("small", "$x$ is small", paper="x < 1", criterion="x < 1",
                         reproduced_if=lambda x: x < 1, kind="paper", where="Nature, Fig. 1")
    record.declare_claim("big", "y is big", paper="y > 1", criterion="y > 1",
                         reproduced_if=lambda y: y > 1, kind="paper", where="Nature, Fig. 2")
    record.declare_claim("exact", "the sampler is exact", paper="—", criterion="p > 0.01",
                         reproduced_if=lambda p: p > 0.01, kind="check")
    return record


def test_key_results_box_needs_every_paper_claim_evaluated_and_shows_verdicts():
    record = evaluated_record()
    with pytest.raises(RuntimeError, match="not evaluated yet"):
        record.key_results({"σ at the last generation": "0.12"})
    record.evaluate("small", 0.5, "0.5")
    record.evaluate("big", 0.5, "0.5")          # the check may stay unevaluated
    with pytest.raises(TypeError, match="as shown"):
        record.key_results({"σ": 0.12})
    box = record.key_results({"median $\\sigma_N$": "0.12", "seeds": "3"}).data
    assert box.startswith(":::{admonition} Key results") and box.rstrip().endswith(":::")
    assert "1 reproduced, 1 not reproduced" in box
    assert 'href="#claim-small"' in box and 'href="#claim-big"' in box
    assert "exact" not in box                      # checks are not in the box
    assert "- **median $\\sigma_N$**: 0.12" in box
    assert box.index("0.12") < box.index("2 paper claims")   # the numbers first
    record.evaluate("exact", 0.5, "p = 0.5")
    assert record.as_dict()["key_results"] == {"median $\\sigma_N$": "0.12", "seeds": "3"}


def test_the_run_log_goes_to_a_collapsed_block_of_the_footer():
    record = evaluated_record()
    assert record.run_log_html() == ""
    record.log("fitting <100> seeds\n\n  done")
    with record.timed("gaussian chains"):
        pass
    assert len(record.run_log) == 3 and all(line.startswith("[") for line in record.run_log)
    block = record.run_log_html()
    assert block.startswith('<details class="collapse-run-log">') and "(3 lines)" in block
    assert "&lt;100&gt;" in block and "\n\n" not in block   # escaped; one HTML block
    footer = record.footer().data
    assert block in footer
    assert 'href="../results/demo.json"' in footer and 'href="../results/claims.csv"' in footer
    assert "_build/results" not in footer


def test_findings_strip_and_csv_are_computed_from_the_results():
    record = evaluated_record()
    record.evaluate("small", 0.5, "0.5")
    record.evaluate("big", 0.5, "0.5")
    record.evaluate("exact", 0.5, "p = 0.5")
    loaded = {"demo": records.to_jsonable(record.as_dict())}
    infos = {"demo": overview.ChapterInfo("demo", 3, "Demo: a chapter", "Demo")}
    text = overview.findings_markdown(loaded, infos)
    assert "checked 2 statements of the paper: **1 reproduced**" in text
    assert "`smoke` profile runs every chapter at a tiny scale" in text
    assert 'href="demo.html#claim-big"' in text and 'href="demo.html#claim-small"' not in text
    strip = overview.verdict_strip_html(loaded, infos)
    assert strip.count('class="verdict-dot"') == 2 + 3    # two claims and the legend
    assert "3. Demo" in strip and "1 of 2 reproduced" in strip and "1 of 1 checks" in strip
    rows = list(csv.DictReader(io.StringIO(overview.claims_csv(loaded, infos))))
    assert [row["id"] for row in rows] == ["small", "big", "exact"]
    assert rows[0]["chapter_title"] == "Demo: a chapter" and rows[2]["kind"] == "check"
    assert rows[1]["verdict"] == "not reproduced" and rows[0]["profile"] == "smoke"


def test_claim_text_maths_becomes_mathjax_and_html_is_escaped():
    assert overview.rich_text("$\\sigma_n$ < 1 & <b>") == (
        '<span class="math notranslate nohighlight">\\(\\sigma_n\\)</span> &lt; 1 &amp; '
        "&lt;b&gt;")
    assert overview.rich_text("costs $5 and $6") .count("math") == 1  # one pair, one formula


def test_chapters_are_numbered_from_the_toc_and_titled_by_their_heading():
    infos = overview.chapter_infos(PROJECT_ROOT)
    assert list(infos) == [c.name for c in chapters.content_chapters(PROJECT_ROOT)]
    numbers = [info.number for info in infos.values()]
    assert numbers == list(range(1, len(numbers) + 1))
    for info in infos.values():
        assert info.title and not info.title.startswith("#") and info.short in info.title


def test_pages_gathering_every_chapter_do_not_need_each_other(tmp_path):
    from conftest import make_mini_project
    notebook = ("---\nkernelspec:\n  name: python3\n  display_name: Python 3\n"
                "collapse:\n  needs: [\"*\"]\n---\n# {title}\n")
    root = make_mini_project(tmp_path, {"tiny": "---\nkernelspec:\n  name: python3\n  "
                                                 "display_name: Python 3\n---\n# Tiny\n"})
    (root / "book" / "intro.md").write_text(notebook.format(title="Landing"))
    (root / "book" / "claims.md").write_text(notebook.format(title="Claims"))
    found = {c.name: c for c in chapters.book_chapters(root)}
    assert found["intro"].needs == ("tiny",) and found["claims"].needs == ("tiny",)
    assert found["intro"].gathers and not found["tiny"].gathers
    assert [c.name for c in chapters.content_chapters(root)] == ["tiny"]


def test_author_year_labels_and_round_brackets():
    from pybtex.database import Entry, Person
    from pybtex.plugin import find_plugin
    sphinx_extension.register_citation_styles()
    labels = find_plugin("pybtex.style.labels", "author_year")()

    def entry(*names, year="2024"):
        made = Entry("article", fields={"year": year, "title": "t"})
        made.persons["author"] = [Person(name) for name in names]
        return made
    many = entry("Shumailov, Ilia", "Shumaylov, Zakhar", "Zhao, Yiren")
    two = entry("Kimura, Motoo", "Ohta, Tomoko", year="1969")
    assert list(labels.format_labels([many, two])) == ["Shumailov et al., 2024",
                                                       "Kimura and Ohta, 1969"]
    assert list(labels.format_labels([many, many])) == ["Shumailov et al., 2024a",
                                                        "Shumailov et al., 2024b"]
    from sphinxcontrib.bibtex.plugin import find_plugin as find_bibtex
    style = find_bibtex("sphinxcontrib.bibtex.style.referencing", "author_year_round")()
    assert style.bracket_parenthetical.left == "(" and {"p", "t", "alp"} <= set(
        style.role_names())


def test_chapters_never_repeat_the_author_before_a_citation():
    """"Shumailov et al. {cite}`...`" printed the names twice; {cite:t} prints them once."""
    repeated = re.compile(r"\b[A-Z][\w-]+(?: et al\.| and [A-Z][\w-]+)\s+\{cite(?::p|:alp)?\}")
    offenders = {path.name: repeated.findall(path.read_text())
                 for path in sorted((PROJECT_ROOT / "book").glob("*.md"))}
    assert not {name: found for name, found in offenders.items() if found}


def test_the_repository_and_version_are_configured_once_and_agree():
    config = yaml.safe_load((PROJECT_ROOT / "_config.yml").read_text())
    url = config["sphinx"]["config"]["html_theme_options"]["repository_url"]
    assert url.startswith("https://")
    cff = yaml.safe_load((PROJECT_ROOT / "CITATION.cff").read_text())
    assert cff["repository-code"] == url
    assert url in (PROJECT_ROOT / "README.md").read_text()
    import tomllib
    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert str(cff["version"]) == version
    meta = sphinx_extension.book_metadata(PROJECT_ROOT)
    bibtex = sphinx_extension.book_bibtex(meta, url)
    assert f"url     = {{{url}}}" in bibtex and f"version = {{{version}}}" in bibtex
    assert "commit" in bibtex
    paper = sphinx_extension.paper_bibtex(PROJECT_ROOT, ["book/references.bib"])
    assert "10.1038/s41586-024-07566-y" in paper and paper.startswith("@article{")


def test_figure_style_is_retina_sized_and_generation_ticks_are_integers():
    plotting.use_style(retina=False)
    assert matplotlib.rcParams["savefig.dpi"] == 2 * plotting.DPI
    fig, axes = plotting.subplots(1, 2)
    assert fig.get_size_inches()[0] <= plotting.MAX_WIDTH
    ax = axes[0, 0]
    plotting.band(ax, np.arange(6), np.random.default_rng(0).random((6, 5)), label="replace")
    ax.plot([0, 5], [0, 1], label="theory")
    plotting.generation_axis(ax)
    ax.set_xlim(0, 5.5)
    fig.canvas.draw()
    ticks = [tick for tick in ax.get_xticks() if 0 <= tick <= 5.5]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    legend = plotting.legend_below(fig)
    assert [text.get_text() for text in legend.get_texts()] == ["replace", "theory"]
    matplotlib.pyplot.close(fig)
