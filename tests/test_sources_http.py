"""The shared retry helper: backoff, Retry-After, auth and client errors, secret redaction."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from fakeserver import FakeServer, Reply

from burnwatch.config import load_settings
from burnwatch.errors import AuthError, SourceError
from burnwatch.sources.http import redact, request_with_retry, retry_after_s

SETTINGS = load_settings(http_retries=3, http_backoff_s=0.01, http_timeout_s=5)


def test_backoff_doubles_and_retry_after_wins() -> None:
    waits: list[float] = []
    with FakeServer() as server:
        server.add(
            "GET",
            "/x",
            [Reply.text("busy", 503), Reply.text("slow", 429, {"Retry-After": "0.3"}), Reply.text("ok")],
        )
        resp = request_with_retry("GET", server.url + "/x", settings=SETTINGS, sleep=waits.append)
        assert server.count("GET", "/x") == 3
    assert resp.text == "ok"
    assert waits == pytest.approx([0.01, 0.3])  # 0.01 * 2**0, then max(0.02, Retry-After 0.3)


def test_jitter_stays_within_half_again() -> None:
    waits: list[float] = []
    with FakeServer() as server:
        server.add("GET", "/x", [Reply.text("", 500), Reply.text("", 500), Reply.text("ok")])
        request_with_retry("GET", server.url + "/x", settings=SETTINGS, sleep=waits.append, jitter=True)
    assert 0.01 <= waits[0] <= 0.015 and 0.02 <= waits[1] <= 0.03


def test_exhausted_retries_name_url_status_attempts_without_secret() -> None:
    key = "SECRETKEY123"
    with FakeServer() as server:
        server.add("GET", "/api/", Reply.text(f"upstream failure for {key}", 502))
        with pytest.raises(SourceError) as info:
            request_with_retry(
                "GET", f"{server.url}/api/{key}/data", settings=SETTINGS, secrets=[key], sleep=lambda s: None
            )
        assert server.count("GET") == 4
    msg = str(info.value)
    assert "HTTP 502" in msg and "4 attempt" in msg and "/api/***/data" in msg and key not in msg


def test_auth_and_client_errors_are_not_retried() -> None:
    with FakeServer() as server:
        server.add("GET", "/denied", Reply.text("no", 403))
        server.add("GET", "/missing", Reply.text("nope", 404))
        with pytest.raises(AuthError, match="HTTP 403"):
            request_with_retry("GET", server.url + "/denied", settings=SETTINGS, sleep=lambda s: None)
        with pytest.raises(SourceError, match="HTTP 404") as info:
            request_with_retry("GET", server.url + "/missing", settings=SETTINGS, sleep=lambda s: None)
        assert not isinstance(info.value, AuthError)
        assert server.count() == 2


def test_connection_errors_are_retried_then_reported() -> None:
    waits: list[float] = []
    with FakeServer() as server:
        url = server.url + "/gone"
    with pytest.raises(SourceError, match="ConnectionError"):  # the server is stopped: connection refused
        request_with_retry("GET", url, settings=SETTINGS, sleep=waits.append)
    assert len(waits) == 3


def test_post_json_body_reaches_server() -> None:
    with FakeServer() as server:
        server.add("POST", "/p", lambda req: Reply.json({"echo": req.json()}))
        resp = request_with_retry("POST", server.url + "/p", settings=SETTINGS, json={"a": 1})
    assert resp.json() == {"echo": {"a": 1}}
    assert isinstance(resp, requests.Response)


def test_retry_after_parsing() -> None:
    now = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert retry_after_s("7", now) == 7.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == pytest.approx(30)
    assert retry_after_s("garbage", now) is None and retry_after_s(None) is None
    assert redact("a KEY b KEY", ["KEY", None, ""]) == "a *** b ***"


@contextmanager
def cut_off_server(bodies: list[bytes | None]) -> Iterator[tuple[str, list[int]]]:
    """A server whose n-th answer is ``bodies[n]`` (the last repeats); ``None`` announces 100
    bytes in Content-Length, sends 10 and drops the connection (a response cut off mid-body)."""
    served: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(1)
            body = bodies[min(len(served), len(bodies)) - 1]
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(100 if body is None else len(body)))
            self.end_headers()
            self.wfile.write(b"latitude,l" if body is None else body)
            self.wfile.flush()
            if body is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_body_cut_off_mid_transfer_is_retried() -> None:
    waits: list[float] = []
    with cut_off_server([None, b"complete"]) as (url, served):
        resp = request_with_retry("GET", url + "/x", settings=SETTINGS, sleep=waits.append)
    assert resp.content == b"complete" and len(served) == 2 and waits == pytest.approx([0.01])


def test_streamed_body_cut_off_is_read_and_retried_inside_the_helper() -> None:
    with cut_off_server([None, b"complete"]) as (url, served):
        resp = request_with_retry("GET", url + "/x", settings=SETTINGS, sleep=lambda s: None, stream=True)
        assert resp.content == b"complete" and len(served) == 2


def test_body_always_cut_off_gives_source_error_naming_service() -> None:
    key = "SECRETKEY123"
    with cut_off_server([None]) as (url, served), pytest.raises(SourceError) as info:
        request_with_retry(
            "GET",
            f"{url}/api/{key}/x",
            settings=SETTINGS,
            secrets=[key],
            sleep=lambda s: None,
            service="FIRMS",
        )
    msg = str(info.value)
    assert len(served) == 4
    assert msg.startswith("FIRMS: GET ") and "cut off" in msg and "4 attempt" in msg and key not in msg
