"""Open every page of the built book in headless Chromium: no console errors, all images load.

Needs Debian's ``chromium`` (``.ci/run`` installs it). Without it the test is skipped, unless
``TTC_REQUIRE_BROWSER=1`` (set by CI), where a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@contextlib.contextmanager
def _serve(directory: Path):
    """Serve ``directory`` on a free local port; yield its base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output readable
            pass

    handler = functools.partial(QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def server(smoke_book: Path):
    with _serve(smoke_book) as url:
        yield url


def _pages(html: Path) -> list[str]:
    skip = {"search.html", "genindex.html"}
    return sorted(
        str(p.relative_to(html)) for p in html.rglob("*.html")
        if not p.relative_to(html).parts[0].startswith("_") and p.name not in skip
    )


def _no_browser():
    if os.environ.get("TTC_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium not found; install Debian's 'chromium' package")
    pytest.skip("Chromium not installed (apt-get install chromium)")


def test_every_page_loads_with_its_figures(smoke_book: Path, server: str):
    executable = _chromium()
    if executable is None:
        _no_browser()
    from playwright.sync_api import sync_playwright

    pages = _pages(smoke_book)
    assert "index.html" in pages and "notebooks/01_accounting.html" in pages
    problems: list[str] = []
    figures = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        # name the resource behind a "Failed to load resource" console error
        page.on("response", lambda r: errors.append(f"HTTP {r.status} for {r.url}")
                if r.status >= 400 else None)
        for rel in pages:
            errors.clear()
            response = page.goto(f"{server}/{rel}", wait_until="load")
            if response is None or response.status != 200:
                problems.append(f"{rel}: HTTP {response and response.status}")
            if rel == "index.html":  # Jupyter Book writes a redirect to the root page
                page.wait_for_url("**/intro.html")
                page.wait_for_load_state("load")
            widths = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => [i.src, i.complete && i.naturalWidth])"
            )
            figures += len(widths)
            problems += [f"{rel}: image not loaded: {src}" for src, w in widths if not w]
            problems += [f"{rel}: console error: {e}" for e in errors]
        browser.close()
    assert not problems, "\n".join(problems)
    assert figures >= 1


def test_student_chapter_shows_exercises_and_no_solution(student_book: Path):
    """One chapter of the student edition in the browser: it loads without console errors,
    shows its exercises, and no solution's text is anywhere on the page."""
    executable = _chromium()
    if executable is None:
        _no_browser()
    from playwright.sync_api import sync_playwright

    from tests.test_student import _solution_phrases

    key = "01_accounting"
    phrases = _solution_phrases(key)
    assert phrases
    errors: list[str] = []
    with _serve(student_book) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        response = page.goto(f"{url}/notebooks/{key}.html", wait_until="load")
        assert response is not None and response.status == 200
        text = " ".join(page.inner_text("body").replace("\u2019", "'").split())
        solution_nodes = page.locator(".solution").count()
        browser.close()
    assert not errors, errors
    assert "Exercise 1" in text and "Exercise 2" in text
    assert solution_nodes == 0
    assert not [p for p in phrases if p in text]
