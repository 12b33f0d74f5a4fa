"""The HTML side of the build: stage the book's static pages beside the executed notebooks and
build the site with Jupyter Book 1.x (execution off, Sphinx warnings are errors)."""
from __future__ import annotations

import hashlib
import html
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterable

from ..core.io import PROJECT_ROOT, atomic_write_bytes
from .chapters import BuildPaths, Chapter


class BookBuildFailed(RuntimeError):
    """Jupyter Book (Sphinx) reported an error or a warning."""


STATIC_SUFFIXES = {".md", ".bib", ".png", ".svg", ".jpg", ".ico", ".css", ".txt"}
EXTRA = Path("book") / "extra"   # html_extra_path in _config.yml: copied to the site's root


def download_files(chapters: Iterable[Chapter], paths: BuildPaths,
                   project_root: Path = PROJECT_ROOT) -> dict[Path, bytes]:
    """The files the site serves for download (target in the staged site -> content): each
    chapter's results file (``results/<chapter>.json``), every claim as CSV
    (``results/claims.csv``) and ``CITATION.cff``, all at the site's root."""
    from .overview import chapter_infos, claims_csv
    from .records import load_results
    extra = paths.site / EXTRA
    citation = project_root / "CITATION.cff"
    files = {extra / citation.name: citation.read_bytes()} if citation.is_file() else {}
    loaded = load_results(paths.results) if paths.results.is_dir() else {}
    names = [chapter.name for chapter in chapters
             if not chapter.gathers and chapter.name in loaded]
    for name in names:
        files[extra / "results" / f"{name}.json"] = (paths.results / f"{name}.json").read_bytes()
    csv_text = claims_csv({name: loaded[name] for name in names}, chapter_infos(project_root))
    files[extra / "results" / "claims.csv"] = csv_text.encode()
    return files


def stage_site(chapters: Iterable[Chapter], paths: BuildPaths,
               project_root: Path = PROJECT_ROOT) -> str:
    """Copy the book's static pages and configuration beside the executed notebooks.

    Files are only rewritten when their content changed (Sphinx rebuilds by mtime). Returns a
    digest of the staged site (an unchanged digest means the HTML is up to date).
    """
    chapters = list(chapters)
    notebook_sources = {chapter.source.resolve() for chapter in chapters}
    wanted: dict[Path, bytes] = {}
    for name in ("_config.yml", "_toc.yml"):
        wanted[paths.site / name] = (project_root / name).read_bytes()
    for path in sorted((project_root / "book").rglob("*")):
        if path.is_file() and path.suffix in STATIC_SUFFIXES \
                and path.resolve() not in notebook_sources \
                and not any(part.startswith((".", "_")) for part in path.relative_to(
                    project_root).parts):
            wanted[paths.site / path.relative_to(project_root)] = path.read_bytes()
    wanted.update(download_files(chapters, paths, project_root))
    digest = hashlib.sha256()
    # the theme (templates, CSS) and the commit (shown by the citation box) shape the HTML too
    from .sphinx_extension import theme_digest
    digest.update(theme_digest().encode())
    for target, payload in sorted(wanted.items()):
        if not target.is_file() or target.read_bytes() != payload:
            atomic_write_bytes(target, payload)
        digest.update(str(target.relative_to(paths.site)).encode() + payload)
    for chapter in chapters:
        executed = paths.executed(chapter)
        if not executed.is_file():
            raise FileNotFoundError(f"{chapter.name} has not been executed: {executed}")
        digest.update(executed.read_bytes())
    # remove stale pages (a chapter renamed or dropped from the toc, a page turned into a
    # notebook): Sphinx refuses a document with two source files. The site itself lives under
    # <output root>/_build, so only a _build folder *inside* the site is spared.
    keep = set(wanted) | {paths.executed(chapter) for chapter in chapters}
    for path in sorted(paths.site.rglob("*"), reverse=True):  # files before their folders
        if "_build" in path.relative_to(paths.site).parts or path in keep:
            continue
        if path.is_file():
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return digest.hexdigest()


def build_html(paths: BuildPaths, site_digest: str, force: bool = False) -> bool:
    """Build the HTML with Jupyter Book 1.x (execution off, warnings are errors).

    Returns False when the site is unchanged since the last successful build (nothing done).
    """
    stamp = paths.cache / "html.key"
    if (not force and stamp.is_file() and stamp.read_text() == site_digest
            and (paths.html / "index.html").is_file()):
        return False
    stamp.unlink(missing_ok=True)
    from .sphinx_extension import BOOK_PDF
    (paths.html / BOOK_PDF).unlink(missing_ok=True)  # a PDF never outlives the pages it shows
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(paths.site),
               "--path-output", str(paths.html_output), "--builder", "html", "-W", "--keep-going",
               "--quiet"]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise BookBuildFailed("Jupyter Book build failed (warnings are errors):\n"
                              + completed.stdout[-8000:] + completed.stderr[-8000:])
    atomic_write_bytes(stamp, site_digest.encode())
    return True




STALE_START, STALE_END = "<!-- collapse:stale -->", "<!-- /collapse:stale -->"


def mark_pages_stale(paths: BuildPaths, docnames: Iterable[str], message: str) -> list[Path]:
    """Put a warning at the top of each built page of ``docnames``: the page is from an
    earlier run and ``message`` says what went wrong since. The next successful HTML build
    replaces the pages (the site stamp is dropped and their sources touched, so it does
    rewrite them). Returns the pages marked."""
    banner = (f'{STALE_START}<div class="admonition warning collapse-stale" role="alert">'
              f'<p class="admonition-title">This page is from an earlier run</p>'
              f"<p>{html.escape(message)}</p></div>{STALE_END}")
    marked = []
    for docname in docnames:
        page = paths.html / f"{docname}.html"
        if not page.is_file():
            continue
        text = re.sub(re.escape(STALE_START) + ".*?" + re.escape(STALE_END), "",
                      page.read_text(encoding="utf-8"), flags=re.S)
        anchor = re.search(r"<article[^>]*>", text) or re.search(r"<body[^>]*>", text)
        position = anchor.end() if anchor else 0
        atomic_write_bytes(page, (text[:position] + banner + text[position:]).encode("utf-8"))
        marked.append(page)
        for source in paths.site.glob(f"{docname}.*"):  # Sphinx rewrites a page whose source
            source.touch()                              # is newer than its last build
    (paths.cache / "html.key").unlink(missing_ok=True)
    return marked
