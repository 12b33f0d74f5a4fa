"""The book's Sphinx extension (listed in _config.yml): the site-wide fixes and additions.

- **Navigation at every width.** pydata-sphinx-theme 0.17 and sphinx-book-theme 1.3 bind their
  sidebar handlers to the *first* ☰ / contents button of a page, which is the one in the pydata
  header that the book theme hides; the visible buttons (in the article header) did nothing.
  ``templates/layout.html`` leaves that header out (an empty ``#pst-header`` stays for the
  theme's scroll spy), so both themes bind to the visible buttons: below 992 px ☰ opens the
  chapter list as a dialog, above it toggles the sidebar.
- **Style** (``static/collapse.css``): claim tables that become cards on phones and fit in
  print, the key-results box, the verdict strip, no sideways scrolling from long code names.
- **Downloads**: each chapter's results JSON, the claims CSV and ``CITATION.cff`` are files of
  the site (``html_extra_path``); the download menu of a page links them, and the footer links
  the repository and the citation file. (``collapse.publish.pdf`` prints the whole book to
  ``BOOK_PDF`` beside the HTML.)
- **Author–year citations**: ``{cite:p}`` gives "(Shumailov et al., 2024)", ``{cite:t}`` gives
  "Shumailov et al. (2024)" (reference style ``author_year_round``), and the bibliography is
  labelled and sorted by author and year (style ``author_year``) instead of numbered.
- Jupyter Book 1 always loads sphinx-thebe, which adds its inline configuration script twice
  (``const THEBE_JS_URL`` declared twice: a console error on every page) although this book has
  no live-code buttons: its scripts are dropped from every page.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

THEME = Path(__file__).parent / "theme"

# Files of the site root (html_extra_path) that pages link to.
RESULTS_FOLDER = "results"
CLAIMS_CSV = f"{RESULTS_FOLDER}/claims.csv"
CITATION_FILE = "CITATION.cff"
BOOK_PDF = "model-collapse-rederived.pdf"   # written by collapse.publish.pdf, at the site root


def _is_thebe_script(script) -> bool:
    filename = getattr(script, "filename", None) or str(script)
    body = getattr(script, "attributes", {}).get("body", "")
    return "thebe" in filename or "THEBE_JS_URL" in body


def drop_thebe_scripts(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [script for script in context["script_files"]
                                   if not _is_thebe_script(script)]


# ----------------------------------------------------------------------------- site files
def served_file(app, name: str) -> bool:
    """Whether ``name`` (a path under the site root) is one of the site's extra files."""
    confdir = Path(app.confdir)
    return any((confdir / folder / name).is_file() for folder in app.config.html_extra_path)


def add_site_context(app, pagename, templatename, context, doctree) -> None:
    """What the templates need: the repository URL and the site's downloadable files."""
    pathto = context["pathto"]
    options = app.config.html_theme_options or {}
    context["collapse_repository_url"] = options.get("repository_url", "")
    links = {}
    for label, name in (("citation", CITATION_FILE), ("claims_csv", CLAIMS_CSV)):
        if served_file(app, name):
            links[label] = pathto(name, 1)
    context["collapse_downloads"] = links
    results = f"{RESULTS_FOLDER}/{Path(pagename).name}.json"
    extra = []
    if served_file(app, results):
        extra.append(("results (.json)", pathto(results, 1), "Download this chapter's results"))
    if "claims_csv" in links:
        extra.append(("all claims (.csv)", links["claims_csv"], "Download every claim and verdict"))
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"] = group["buttons"] + [
                {"type": "link", "url": url, "text": text, "tooltip": tooltip,
                 "icon": "fas fa-table", "label": "download-data-button"}
                for text, url, tooltip in extra]


# ----------------------------------------------------------------------------- citations
def register_citation_styles() -> None:
    """``author_year_round`` (in-text, round brackets) and ``author_year`` (bibliography)."""
    from pybtex.plugin import register_plugin as register_pybtex
    from pybtex.style.formatting.plain import Style as PlainStyle
    from pybtex.style.labels import BaseLabelStyle
    from sphinxcontrib.bibtex.plugin import register_plugin as register_bibtex
    from sphinxcontrib.bibtex.style.referencing import BracketStyle
    from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

    def round_brackets() -> BracketStyle:
        return BracketStyle(left="(", right=")", sep="; ", sep2="; ", last_sep="; ")

    @dataclasses.dataclass
    class AuthorYearRound(AuthorYearReferenceStyle):
        bracket_parenthetical: BracketStyle = dataclasses.field(default_factory=round_brackets)
        bracket_textual: BracketStyle = dataclasses.field(default_factory=round_brackets)
        bracket_year: BracketStyle = dataclasses.field(default_factory=round_brackets)

    class AuthorYearLabels(BaseLabelStyle):
        """"Shumailov et al., 2024" (a, b appended when two entries would share a label)."""

        def format_label(self, entry) -> str:
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [" ".join(person.last_names) for person in people]
            if len(names) > 2:
                who = f"{names[0]} et al."
            else:
                who = " and ".join(names) or entry.fields.get("title", entry.key)[:20]
            return f"{who}, {entry.fields.get('year', 'n.d.')}"

        def format_labels(self, sorted_entries):
            labels = [self.format_label(entry) for entry in sorted_entries]
            repeated, seen = Counter(labels), Counter()
            for label in labels:
                if repeated[label] > 1:
                    seen[label] += 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
                else:
                    yield label

    class AuthorYearStyle(PlainStyle):
        default_label_style = "author_year"
        default_sorting_style = "author_year_title"

    register_pybtex("pybtex.style.labels", "author_year", AuthorYearLabels, force=True)
    register_pybtex("pybtex.style.formatting", "author_year", AuthorYearStyle, force=True)
    register_bibtex("sphinxcontrib.bibtex.style.referencing", "author_year_round",
                    AuthorYearRound, force=True)


# ----------------------------------------------------------------------------- how to cite
PAPER_KEY = "shumailov2024curse"   # the paper's entry in book/references.bib


def book_metadata(srcdir: Path) -> dict:
    """Title, authors, version and year of the book, from CITATION.cff (the site's copy when
    staged, else the repository's), and the commit of this build."""
    import yaml
    from ..core.io import PROJECT_ROOT
    from .records import git_commit
    staged = [Path(srcdir) / "book" / "extra" / CITATION_FILE, PROJECT_ROOT / CITATION_FILE]
    path = next((candidate for candidate in staged if candidate.is_file()), None)
    cff = yaml.safe_load(path.read_text()) if path else {}
    authors = " and ".join(author.get("name") or
                           f"{author.get('family-names', '')}, {author.get('given-names', '')}"
                           for author in cff.get("authors", [])) or "Unknown"
    return {"title": cff.get("title", "Model Collapse, Re-derived"), "authors": authors,
            "version": str(cff.get("version", "")),
            "year": str(cff.get("date-released", ""))[:4],
            "commit": git_commit(PROJECT_ROOT)}


def paper_bibtex(srcdir: Path, bibfiles: list[str], key: str = PAPER_KEY) -> str:
    """The paper's BibTeX entry, as in the book's bibliography file."""
    from pybtex.database import BibliographyData, parse_file
    for name in bibfiles:
        path = Path(srcdir) / name
        if path.is_file():
            data = parse_file(str(path))
            if key in data.entries:
                return BibliographyData({key: data.entries[key]}).to_string("bibtex").strip()
    raise KeyError(f"no BibTeX entry {key!r} in {bibfiles}")


def book_bibtex(meta: dict, url: str) -> str:
    fields = [("title", f"{{{meta['title']}}}"), ("author", f"{{{meta['authors']}}}"),
              ("year", meta["year"]), ("version", meta["version"]), ("url", url),
              ("note", f"commit {meta['commit']}")]
    body = ",\n".join(f"  {name:<7} = {{{value}}}" for name, value in fields if value)
    return f"@software{{model_collapse_rederived,\n{body}\n}}"


def cite_this_book_directive():
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class CiteThisBook(SphinxDirective):
        """``{cite-this-book}``: BibTeX for the paper and for this book (version, commit,
        repository URL from _config.yml) and a link to the served CITATION.cff."""

        has_content = False

        def run(self):
            srcdir = Path(self.env.srcdir)
            url = (self.config.html_theme_options or {}).get("repository_url", "")
            meta = book_metadata(srcdir)
            to_root = "../" * self.env.docname.count("/")
            box = nodes.admonition(classes=["cite-box", "tip"])
            box += nodes.title(text="How to cite")
            box += nodes.paragraph(text="Cite the paper for its results; cite this book for "
                                        "the reproduction, its code or its numbers.")
            box += nodes.paragraph(text="The paper:")
            box += nodes.literal_block(text=paper_bibtex(srcdir, self.config.bibtex_bibfiles),
                                       language="bibtex")
            box += nodes.paragraph(text=f"This book (version {meta['version']}, commit "
                                        f"{meta['commit']}):")
            box += nodes.literal_block(text=book_bibtex(meta, url), language="bibtex")
            links = nodes.paragraph()
            if url:
                links += nodes.Text("Repository: ")
                links += nodes.reference(text=url, refuri=url)
                links += nodes.Text(". ")
            links += nodes.Text("Citation file: ")
            links += nodes.reference(text=CITATION_FILE, refuri=to_root + CITATION_FILE)
            links += nodes.Text(" (GitHub's \u201cCite this repository\u201d reads it).")
            box += links
            return [box]

    return CiteThisBook


# ----------------------------------------------------------------------------- setup
def theme_digest() -> str:
    """sha256 over the theme's files and the commit (the citation box shows it)."""
    import hashlib
    from ..core.io import PROJECT_ROOT
    from .records import git_commit
    digest = hashlib.sha256(git_commit(PROJECT_ROOT).encode())
    for path in sorted(THEME.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(THEME)).encode() + path.read_bytes())
    return digest.hexdigest()


def add_theme_paths(app, config) -> None:
    config.templates_path = [str(THEME / "templates"), *config.templates_path]
    config.html_static_path = [*config.html_static_path, str(THEME / "static")]
    # an "html" config value: when the theme or the commit changes, Sphinx rewrites every
    # page (its incremental build compares template mtimes, which a moved file keeps)
    config.collapse_theme_digest = theme_digest()


def setup(app):
    register_citation_styles()
    app.add_config_value("collapse_theme_digest", "", "html")
    app.connect("config-inited", add_theme_paths)
    app.add_directive("cite-this-book", cite_this_book_directive())
    app.add_css_file("collapse.css")
    app.connect("html-page-context", drop_thebe_scripts)
    app.connect("html-page-context", add_site_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
