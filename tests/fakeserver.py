"""A tiny local HTTP server for hermetic tests of remote sources.

Usage::

    from fakeserver import FakeServer, Reply

    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", [Reply(429, headers={"Retry-After": "0"}), Reply(200, b"...")])
        server.add("POST", "/token", lambda req: Reply.json({"access_token": "t", "expires_in": 3600}))
        requests.get(server.url + "/api/area/csv/KEY/...")
        assert server.count("GET", "/api/area/csv/") == 2

* ``add(method, path_prefix, reply)``: the reply is a :class:`Reply`, a callable
  ``(Request) -> Reply``, or a list of those served in order (the last one repeats). Routes are matched by
  method and path prefix, the most recently added first. Unmatched requests get a 404.
* ``requests`` records every :class:`Request` (method, path, query, headers, body) received.
* The server binds 127.0.0.1 on a free port and runs in a daemon thread; ``url`` is its base.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"))


@dataclass(frozen=True)
class Reply:
    """What the server answers: status, body bytes, headers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(obj).encode(), headers or {}, "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, text.encode(), headers or {}, "text/plain; charset=utf-8")


Handler = Callable[["Request"], "Reply"]
Responder = Reply | Handler | Sequence[Reply | Handler]


class _Route:
    def __init__(self, method: str, prefix: str, reply: Responder) -> None:
        self.method, self.prefix, self.reply, self.calls = method.upper(), prefix, reply, 0

    def answer(self, request: Request) -> Reply:
        self.calls += 1
        if isinstance(self.reply, Reply):
            return self.reply
        if callable(self.reply):
            return self.reply(request)
        replies = list(self.reply)
        item = replies[min(self.calls, len(replies)) - 1]
        return item if isinstance(item, Reply) else item(request)


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 with scripted routes (see module docstring)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body
                )
                reply = server._dispatch(req)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, method: str, path_prefix: str, reply: Responder) -> None:
        """Answer ``method`` requests whose path starts with ``path_prefix`` with ``reply``."""
        with self._lock:
            self._routes.insert(0, _Route(method, path_prefix, reply))

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests matched ``method`` (any if None) and ``path_prefix``."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper()) and r.path.startswith(path_prefix)
        )

    def _dispatch(self, req: Request) -> Reply:
        with self._lock:
            self.requests.append(req)
            route = next(
                (r for r in self._routes if r.method == req.method and req.path.startswith(r.prefix)), None
            )
            if route is None:
                return Reply.text(f"no route for {req.method} {req.path}", status=404)
            return route.answer(req)

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
