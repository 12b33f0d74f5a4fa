"""The whole book as one PDF, offline: Jupyter Book's ``singlehtml`` builder on the staged
site, printed by Chromium (Debian's package, driven by Playwright from PyPI). No LaTeX.

    python -m collapse.publish.pdf [--output-root DIR]     (or: make pdf, after make book)

writes ``<output root>/_build/html/model-collapse-rederived.pdf`` beside the HTML it was made
from; an HTML rebuild removes it (a PDF never outlives the pages it shows).
"""
from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from ..core.io import PROJECT_ROOT, atomic_write_bytes
from .chapters import BuildPaths, toc_docnames
from .site import BookBuildFailed
from .sphinx_extension import BOOK_PDF

PRINT_PAGE = "print.html"
FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def build_single_page(paths: BuildPaths) -> Path:
    """The staged site as one HTML page (``<build>/singlehtml``); returns the page, copied to
    the output's root so that its relative links to ``_static`` and ``_images`` resolve."""
    output = paths.build / "singlehtml"
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(paths.site),
               "--path-output", str(paths.build / "singlehtml-tree"), "--builder",
               "singlehtml", "-W", "--keep-going", "--quiet"]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise BookBuildFailed("the single-page build failed (warnings are errors):\n"
                              + completed.stdout[-8000:] + completed.stderr[-8000:])
    built = paths.build / "singlehtml-tree" / "_build" / "singlehtml"
    shutil.rmtree(output, ignore_errors=True)
    shutil.move(str(built), str(output))
    shutil.rmtree(paths.build / "singlehtml-tree", ignore_errors=True)
    page = output / f"{toc_docnames(paths.site)[0]}.html"   # the toc's root holds it all
    if not page.is_file():
        raise BookBuildFailed(f"the single-page build wrote no {page}")
    target = output / PRINT_PAGE
    shutil.copyfile(page, target)
    return target


def print_to_pdf(page: Path, target: Path) -> Path:
    """Print ``page`` (served from its folder on localhost) to ``target`` with Chromium, once
    its maths is typeset; collapsed blocks of findings are opened, run logs stay out."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise FileNotFoundError("the PDF needs Chromium: install your distribution's chromium "
                                "package (make test installs Debian's)")
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(page.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable,
                                                 args=["--no-sandbox", "--disable-gpu"])
            tab = browser.new_page()
            tab.goto(f"http://127.0.0.1:{server.server_address[1]}/{page.name}",
                     wait_until="networkidle", timeout=300_000)
            tab.wait_for_function("() => window.MathJax && MathJax.startup && "
                                  "MathJax.startup.promise", timeout=120_000)
            tab.evaluate("() => MathJax.startup.promise")
            tab.evaluate("() => document.querySelectorAll('details.findings-missed')"
                         ".forEach(d => d.open = true)")
            tab.emulate_media(media="print")
            payload = tab.pdf(format="A4", print_background=True, display_header_footer=True,
                              header_template="<span></span>", footer_template=FOOTER,
                              margin={"top": "14mm", "bottom": "16mm", "left": "14mm",
                                      "right": "14mm"})
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    atomic_write_bytes(target, payload)
    return target


def build_pdf(paths: BuildPaths) -> Path:
    """The PDF of the book whose HTML is in ``paths`` (built first with ``collapse build``)."""
    if not (paths.cache / "html.key").is_file() or not (paths.html / "index.html").is_file():
        raise FileNotFoundError(f"no built HTML in {paths.html}: run `collapse build` (or "
                                f"make book) first")
    return print_to_pdf(build_single_page(paths), paths.html / BOOK_PDF)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collapse.publish.pdf",
                                     description="print the built book to one PDF")
    parser.add_argument("--output-root", type=Path, default=PROJECT_ROOT,
                        help="folder holding _build/ (default: the repository)")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        target = build_pdf(BuildPaths(arguments.output_root.resolve()))
    except (BookBuildFailed, FileNotFoundError) as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 2
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, "
          f"{time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
