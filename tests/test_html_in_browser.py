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


# ----------------------------------------------------------------------------- issue 18
PHONE, DESKTOP = {"width": 400, "height": 860}, {"width": 1400, "height": 900}
FIRST_FIGURE_WITHIN = 2 * DESKTOP["height"]   # px from the top of a chapter at desktop width


def _open(browser, base, page_path, viewport):
    page = browser.new_page(viewport=viewport)
    page.goto(urljoin(base, page_path), wait_until="networkidle")
    return page


@pytest.mark.slow
def test_chapter_list_opens_at_phone_width_and_the_sidebar_toggles_at_desktop(served_book,
                                                                              browser):
    """Both themes bind their handlers to the first ☰ of a page; the visible one must work."""
    base, _ = served_book
    page = _open(browser, base, "book/gaussian.html", PHONE)
    page.locator(".primary-toggle:visible").first.click()
    page.wait_for_function("() => document.getElementById('pst-primary-sidebar-modal').open")
    links = page.locator("#pst-primary-sidebar-modal a.reference:visible")
    links.first.wait_for(state="visible")
    assert links.count() >= 8, "the chapter list did not open at 400 px"
    page.keyboard.press("Escape")
    page.locator(".secondary-toggle:visible").first.click()
    page.wait_for_function("() => document.getElementById('pst-secondary-sidebar-modal').open")
    page.close()

    page = _open(browser, base, "book/gaussian.html", DESKTOP)
    sidebar = page.locator("#pst-primary-sidebar")
    assert sidebar.is_visible()
    toggle = page.locator(".primary-toggle:visible")
    assert toggle.count() == 1
    toggle.click()
    page.wait_for_function("() => document.getElementById('pst-primary-sidebar')"
                           ".classList.contains('pst-sidebar-hidden')")
    assert not page.evaluate("() => document.getElementById('pst-primary-sidebar-modal').open")
    toggle.click()
    page.wait_for_function("() => !document.getElementById('pst-primary-sidebar')"
                           ".classList.contains('pst-sidebar-hidden')")
    page.close()


# Chapters that still print raw Python into the page, awaiting their own rewrite (issue 18,
# phase 2); a page leaves this set when it is clean. The set must end empty.
READER_TEXT = """() => Array.from(document.querySelectorAll(
    '.bd-article .cell_output, .bd-article p, .bd-article li, .bd-article td'))
  .filter(el => !el.closest('.cell_input'))
  .map(el => el.textContent).join('\\n')"""


@pytest.mark.slow
def test_pages_fit_a_phone_and_show_no_raw_python(served_book, browser):
    """At 400 px no page scrolls sideways; no page shows a repr (``Claim(``) or a dict."""
    base, html_root = served_book
    problems = []
    context = browser.new_context(viewport=PHONE)
    for page_path in book_pages(html_root):
        page = context.new_page()
        page.goto(urljoin(base, page_path), wait_until="networkidle")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            problems.append(f"{page_path}: {width} px wide at {PHONE['width']} px")
        text = page.evaluate(READER_TEXT)
        for raw in ("Claim(", "{'"):
            if raw in text:
                at = text.index(raw)
                problems.append(f"{page_path}: shows {text[max(0, at - 30):at + 50]!r}")
        page.close()
    context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_the_first_figure_of_each_chapter_is_near_the_top(served_book, browser):
    from collapse.publish.chapters import content_chapters
    from conftest import PROJECT_ROOT
    base, _ = served_book
    late = []
    for chapter in content_chapters(PROJECT_ROOT):
        page = _open(browser, base, f"{chapter.docname}.html", DESKTOP)
        top = page.evaluate("() => { const f = document.querySelector('.bd-article figure, "
                            ".bd-article .cell_output img'); return f ? "
                            "f.getBoundingClientRect().top + window.scrollY : null; }")
        if top is None or top > FIRST_FIGURE_WITHIN:
            late.append(f"{chapter.name}: first figure at {top} px")
        page.close()
    assert not late, "\n".join(late)
