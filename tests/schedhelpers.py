"""Local servers for the scheduler tests, built on :mod:`fakeserver`.

* :class:`FakeProviders`: one :class:`FakeServer` that plays Sentinel Hub (OAuth token, STAC
  catalog search filtered by the requested time range, Process API answering with the
  deterministic demo scene cut to the requested grid), the FIRMS area API (VIIRS CSV rows
  filtered by day) and a webhook receiver (``/hook``).
* :class:`SmtpSink`: a tiny SMTP server (``socketserver``) speaking EHLO/HELO, MAIL, RCPT,
  DATA, RSET, NOOP, QUIT; it keeps every message it accepts.
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import numpy as np
from fakeserver import FakeServer, Reply, Request
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds

CLIENT_ID, SECRET, MAP_KEY = "sched-test", "sched-secret", "sched-map-key"
S2_ORDER = ("blue", "green", "red", "nir", "nir_narrow", "wv", "swir1", "swir2")  # B02..B12
VIIRS_HEADER = (
    "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,"
    "confidence,version,bright_ti5,frp,daynight"
)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass
class FakeProviders:
    """Scripted remote providers. Edit ``passes``/``firms_rows`` between runs to make new data appear."""

    passes: list[tuple[str, str, float]] = field(default_factory=list)  # (id, ISO time, cloud %)
    firms_rows: list[tuple[float, float, datetime]] = field(default_factory=list)  # lon, lat, time
    process_failures: dict[str, int] = field(default_factory=dict)  # day -> HTTP 500s to send first
    hook_status: list[int] = field(default_factory=list)  # statuses for /hook, then 200
    server: FakeServer = field(default_factory=FakeServer)
    process_days: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.server
        s.add("POST", "/oauth/token", self._token)
        s.add("POST", "/api/v1/catalog/1.0.0/search", self._catalog)
        s.add("POST", "/api/v1/process", self._process)
        s.add("GET", "/api/area/csv/", self._firms)
        s.add("POST", "/hook", self._hook)

    def __enter__(self) -> FakeProviders:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def settings(self, tmp_path: Any, **extra: Any) -> Any:
        from burnwatch.config import load_settings

        return load_settings(
            sh_client_id=CLIENT_ID,
            sh_client_secret=SECRET,
            sh_base_url=self.url,
            sh_token_url=self.url + "/oauth/token",
            firms_map_key=MAP_KEY,
            firms_base_url=self.url,
            cache_dir=tmp_path / "cache",
            http_retries=0,
            http_backoff_s=0.0,
            http_timeout_s=10,
            **extra,
        )

    def hook_messages(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.server.requests if r.path == "/hook" and r.method == "POST"]

    # -- routes ------------------------------------------------------------------------------
    def _token(self, req: Request) -> Reply:
        return Reply.json({"access_token": "h.eyJhIjoxfQ.s", "token_type": "Bearer", "expires_in": 3600})

    def _catalog(self, req: Request) -> Reply:
        body = req.json()
        start, end = (_parse_time(t) for t in body["datetime"].split("/"))
        features = [
            {"type": "Feature", "id": pid, "properties": {"datetime": when, "eo:cloud_cover": cloud,
                                                          "platform": "sentinel-2a"}}
            for pid, when, cloud in self.passes
            if start <= _parse_time(when) <= end
        ]  # fmt: skip
        return Reply.json({"type": "FeatureCollection", "features": features, "links": [],
                           "context": {"limit": 100, "returned": len(features)}})  # fmt: skip

    def _process(self, req: Request) -> Reply:
        from burnwatch.sources.synthetic import make_demo_scene

        payload = req.json()
        day = payload["input"]["data"][0]["dataFilter"]["timeRange"]["from"][:10]
        if self.process_failures.get(day, 0) > 0:
            self.process_failures[day] -= 1
            return Reply.json({"error": {"status": 500, "reason": "Internal Server Error"}}, 500)
        self.process_days.append(day)
        width, height = payload["output"]["width"], payload["output"]["height"]
        minx, miny, maxx, maxy = payload["input"]["bounds"]["bbox"]
        epsg = int(payload["input"]["bounds"]["properties"]["crs"].rsplit("/", 1)[1])
        demo = make_demo_scene(seed=int(day.replace("-", "")) % 1000, size=max(width, height, 200)).scene
        data = np.ones((len(S2_ORDER) + 3, height, width), np.float32)
        for i, role in enumerate(S2_ORDER):
            data[i] = demo.bands[role][:height, :width]
        data[len(S2_ORDER)] = demo.sun_zenith or 30.0
        data[len(S2_ORDER) + 1] = demo.sun_azimuth or 120.0
        with MemoryFile() as mem:
            with mem.open(
                driver="GTiff",
                width=width,
                height=height,
                count=data.shape[0],
                dtype="float32",
                crs=f"EPSG:{epsg}",
                transform=from_bounds(minx, miny, maxx, maxy, width, height),
            ) as ds:
                ds.write(data)  # fmt: skip
            return Reply(200, mem.read(), content_type="image/tiff")

    def _firms(self, req: Request) -> Reply:
        # /api/area/csv/{KEY}/{SOURCE}/{W,S,E,N}/{DAYS}/{DATE}
        parts = req.path.strip("/").split("/")
        if parts[3] != MAP_KEY:
            return Reply.text("Invalid MAP_KEY.", 400)
        first, days = date.fromisoformat(parts[7]), int(parts[6])
        lines = [VIIRS_HEADER]
        for lon, lat, when in self.firms_rows:
            if first <= when.date() < first + timedelta(days=days):
                lines.append(
                    f"{lat},{lon},345.2,0.39,0.36,{when:%Y-%m-%d},{when:%H%M},N,VIIRS,n,2.0NRT,290.1,4.2,D"
                )
        return Reply.text("\n".join(lines) + "\n")

    def _hook(self, req: Request) -> Reply:
        status = self.hook_status.pop(0) if self.hook_status else 200
        return Reply.json({"ok": status == 200}, status)


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: _SmtpServer

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 sink ESMTP ready")
        sender, rcpts = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            verb = raw.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-sink")
                self._say("250-8BITMIME")
                self._say("250 SMTPUTF8")
            elif verb == "HELO":
                self._say("250 sink")
            elif verb == "MAIL":
                sender, rcpts = raw.decode().split(":", 1)[1].strip(), []
                self._say("250 OK")
            elif verb == "RCPT":
                rcpts.append(raw.decode().split(":", 1)[1].strip().strip("<>"))
                self._say("250 OK")
            elif verb == "DATA":
                self._say("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    line = self.rfile.readline()
                    if line in (b".\r\n", b".\n", b""):
                        break
                    lines.append(line[1:] if line.startswith(b"..") else line)
                self.server.received.append((sender, list(rcpts), b"".join(lines)))
                self._say("250 queued")
            elif verb in ("RSET", "NOOP"):
                self._say("250 OK")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("502 not implemented")


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    received: list[tuple[str, list[str], bytes]]


class SmtpSink:
    """An SMTP server on 127.0.0.1 (free port) that accepts and keeps every message."""

    def __init__(self) -> None:
        self._server = _SmtpServer(("127.0.0.1", 0), _SmtpHandler)
        self._server.received = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[misc]
            for _, _, data in self._server.received
        ]

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        return [(s, r) for s, r, _ in self._server.received]

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
