"""Fixtures for the browser tests: the built site served on loopback, and headless Chromium.

The tests need the built book (``bash scripts/build_book.sh``) and Debian's
Chromium at ``/usr/bin/chromium`` (override with ``MPDLN_CHROMIUM``). When
either is missing they are skipped, unless ``MPDLN_REQUIRE_BROWSER=1`` (set by
``.ci/run``), which turns the skip into a failure so CI cannot pass without them.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from browser_env import CHROMIUM, CHROMIUM_ARGS, SITE_DIR

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _missing(reason: str) -> None:
    if os.environ.get("MPDLN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (MPDLN_REQUIRE_BROWSER=1 makes this a failure)")
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The built site's folder; skips (or fails under CI) when the book is not built."""
    if not (SITE_DIR / "index.html").is_file():
        _missing(f"no built site at {SITE_DIR}; run `bash scripts/build_book.sh` first")
    return SITE_DIR


@pytest.fixture(scope="session")
def site_url(site_dir: Path):
    """Base URL of the built site, served by a thread on 127.0.0.1 and a free port."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    if not Path(CHROMIUM).is_file():
        _missing(f"Chromium not found at {CHROMIUM}; install Debian's chromium package or set MPDLN_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageRecord:
    """Console errors, page errors, failed requests and off-machine requests seen by one page."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.failed_requests: list[str] = []
        self.external_requests: list[str] = []


@pytest.fixture
def open_page(browser):
    """Open a URL in a fresh page that blocks every request leaving the machine.

    Returns ``(page, record)``. Off-machine requests are aborted and listed in
    ``record.external_requests``, so a page that needs a CDN shows up there.
    """
    contexts = []

    def _open(url: str, wait_for_math: bool = True):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        record = PageRecord()

        def route(route_request):
            host = urlparse(route_request.request.url).hostname or ""
            scheme = urlparse(route_request.request.url).scheme
            if scheme in ("data", "blob", "about") or host in LOOPBACK_HOSTS:
                route_request.continue_()
            else:
                record.external_requests.append(route_request.request.url)
                route_request.abort()

        page.route("**/*", route)
        page.on("console", lambda msg: record.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: record.page_errors.append(str(error)))
        page.on(
            "requestfailed",
            lambda request: record.failed_requests.append(f"{request.url} ({request.failure})"),
        )
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        if wait_for_math:
            page.wait_for_function(
                "() => !window.MathJax || !window.MathJax.startup || window.MathJax.startup.promise"
                " .then(() => true)",
                timeout=30_000,
            )
            page.evaluate(
                "() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null"
            )
        return page, record

    yield _open
    for context in contexts:
        context.close()
