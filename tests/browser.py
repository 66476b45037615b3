"""Headless Chromium for browser tests, through Playwright's Python API and Debian's chromium.

Nothing is downloaded: Playwright drives ``/usr/bin/chromium`` (``BURNWATCH_CHROMIUM`` overrides),
never a browser fetched by ``playwright install``. When Chromium or Playwright is missing the
tests skip with the reason locally and FAIL in CI (``CI=true``), so CI cannot go green without
really running a browser.

Use from a test module::

    from browser import chromium_browser, open_recorded  # noqa: F401  (pytest fixtures)

    @pytest.mark.browser
    def test_page(open_recorded):
        page, log = open_recorded(some_path.as_uri())
        assert log.remote_requests() == [] and log.errors() == []

``open_recorded(url)`` opens ``url`` in a fresh context and returns the page and a
:class:`PageLog` of every request, failed request, console error and uncaught page error.
Requests that would leave the machine (anything but file:, data:, blob:, about: and loopback
http(s)) are recorded and aborted, so a test never waits on the network.
:func:`serve_directory` serves a folder on 127.0.0.1 for pages that need http://.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("BURNWATCH_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-pings",
]
LOCAL_SCHEMES = {"file", "data", "blob", "about", "chrome-error"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI: a browser test must really run there."""
    if in_ci():
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)
    raise AssertionError("unreachable")  # pytest.skip raises


def is_local(url: str) -> bool:
    """True for URLs that do not leave this machine (file/data/blob/about or loopback http)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in {"http", "https", "ws", "wss"} and (parts.hostname or "") in LOOPBACK_HOSTS


@dataclass
class PageLog:
    """What a page did while loading and running."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def remote_requests(self) -> list[str]:
        return [u for u in self.requests if not is_local(u)]

    def errors(self) -> list[str]:
        return [*self.page_errors, *self.console_errors, *self.failed]


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """A headless Debian Chromium (playwright.sync_api.Browser) shared by the session."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} not found (apt-get install chromium, or set BURNWATCH_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dev dependency
        unavailable(f"playwright not importable: {exc}")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        except Exception as exc:
            unavailable(f"{CHROMIUM} did not start: {exc}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_recorded(chromium_browser: Any) -> Iterator[Callable[..., tuple[Any, PageLog]]]:
    """Factory: ``open_recorded(url, wait_until="load")`` -> (page, PageLog)."""
    contexts: list[Any] = []

    def _open(url: str, wait_until: str = "load", timeout_ms: float = 20_000) -> tuple[Any, PageLog]:
        log = PageLog()
        context = chromium_browser.new_context(service_workers="block")
        contexts.append(context)

        def _route(route: Any) -> None:
            if is_local(route.request.url):
                route.continue_()
            else:
                route.abort("internetdisconnected")

        context.route("**/*", _route)
        page = context.new_page()
        page.on("request", lambda r: log.requests.append(r.url))
        page.on("requestfailed", lambda r: log.failed.append(f"{r.url}: {r.failure}"))
        page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: log.page_errors.append(str(e)))
        page.goto(url, wait_until=wait_until, timeout=timeout_ms)
        return page, log

    yield _open
    for context in contexts:
        context.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_directory(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on an ephemeral 127.0.0.1 port; yields the base URL (no trailing slash)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
