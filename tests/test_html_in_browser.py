"""The built HTML works offline in a real browser (headless Chromium from Debian's package).

Every page of the smoke book is served on localhost and opened: no failed request, no request
leaving localhost, no console error, math typeset by the book's own MathJax, every figure loaded
with a non-zero size, every internal link resolving to a file of the book.
"""
from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import pytest

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-default-apps", "--disable-extensions"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def served_book(smoke_book):
    handler = functools.partial(QuietHandler, directory=str(smoke_book.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", smoke_book.html
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is not installed: `make test` installs Debian's chromium package "
                    "(apt-get install chromium); or put a chromium binary on PATH")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def book_pages(html_root: Path) -> list[str]:
    """Every page of the book (relative paths), the search and index pages included."""
    return sorted(str(p.relative_to(html_root)) for p in html_root.rglob("*.html")
                  if "_static" not in p.parts and "_sources" not in p.parts)


@pytest.mark.slow
def test_every_page_loads_offline_without_errors(served_book, browser):
    base, html_root = served_book
    pages = book_pages(html_root)
    assert any(page.endswith("claims.html") for page in pages)
    problems: list[str] = []
    for page_path in pages:
        page = browser.new_page()
        events: list[str] = []
        page.on("request", lambda request: events.append(f"request leaves localhost: "
                                                         f"{request.url}")
                if urlparse(request.url).hostname not in ("127.0.0.1", "localhost")
                and not request.url.startswith("data:") else None)
        page.on("requestfailed", lambda request: events.append(
            f"failed request: {request.url} ({request.failure})"))
        page.on("response", lambda response: events.append(
            f"HTTP {response.status}: {response.url}") if response.status >= 400 else None)
        page.on("console", lambda message: events.append(f"console {message.type}: "
                                                         f"{message.text}")
                if message.type == "error" else None)
        page.on("pageerror", lambda error: events.append(f"page error: {error}"))
        page.goto(urljoin(base, page_path), wait_until="networkidle")

        math_nodes = page.evaluate("() => document.querySelectorAll('.math').length")
        if math_nodes:
            page.wait_for_function("() => window.MathJax && MathJax.startup && "
                                   "MathJax.startup.promise", timeout=15000)
            page.evaluate("() => MathJax.startup.promise")
            typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
            errors = page.evaluate("() => document.querySelectorAll('mjx-merror').length")
            if typeset < math_nodes or errors:
                events.append(f"math: {typeset} of {math_nodes} formulas typeset, "
                              f"{errors} MathJax errors")
        images = page.evaluate("""() => Array.from(document.images).map(img =>
            [img.getAttribute('src'), img.complete, img.naturalWidth, img.naturalHeight])""")
        for source, complete, width, height in images:
            if not (complete and width > 0 and height > 0):
                events.append(f"figure not loaded: {source} ({width}x{height})")
        links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'))"
                              ".map(a => a.href)")
        for link in links:
            target, _ = urldefrag(link)
            if not target.startswith(base):
                continue  # external references (doi.org, arxiv.org) are plain links
            path = html_root / unquote(target[len(base):])
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                events.append(f"broken internal link: {link}")
        page.close()
        problems += [f"{page_path}: {event}" for event in events]
    assert not problems, "\n".join(problems)
