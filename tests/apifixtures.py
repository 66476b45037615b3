"""Fixtures for the web app tests: an app on the ``db_url`` database (SQLite and PostGIS),
a fake clock, one user per role, and a few incidents with cases.

Use: ``from apifixtures import ApiEnv, api_fixture  # noqa: F401`` (the fixture is ``api``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dbfixtures import make_hotspot

PASSWORD = "correct-horse-9"
HY = "Hưng Yên"
TB = "Thái Bình"
#: username -> (role, province)
USERS: dict[str, tuple[str, str | None]] = {
    "admin": ("admin", None),
    "analyst": ("analyst", None),
    "pilot": ("drone_operator", None),
    "insp": ("inspector", HY),
    "insp_tb": ("inspector", TB),
    "viewer": ("public", None),
}
ROLE_USER = {
    "admin": "admin",
    "analyst": "analyst",
    "drone_operator": "pilot",
    "inspector": "insp",
    "public": "viewer",
}


class FakeClock:
    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ApiEnv:
    app: Any
    client: Any
    clock: FakeClock
    settings: Any
    incidents: dict[str, int]  # province -> incident id
    cases: dict[str, int]  # province -> case id
    tmp: Path

    def token(self, username: str) -> str:
        r = self.client.post("/api/token", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


def seed(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Users, and one incident (with its case) in Hưng Yên and one in Thái Bình."""
    from sqlalchemy import select

    from burnwatch.store.db import session_scope
    from burnwatch.store.ingest import ScanRecord, ingest_hotspots
    from burnwatch.store.models import Case, Incident
    from burnwatch.store.users import add_user

    with session_scope(url) as s:
        for name, (role, prov) in USERS.items():
            add_user(s, name, role, PASSWORD, province=prov)
    hy = [
        make_hotspot(106.05, 20.65, "2024-03-01T03:30:00"),
        make_hotspot(
            106.0505,
            20.6502,
            "2024-03-01T03:30:00",
            source="firms",
            sensor="MODIS",
            algorithm="c61",
            confidence=0.9,
        ),
    ]
    tb = [make_hotspot(106.35, 20.45, "2024-03-02T03:30:00", confidence=0.5)]
    incidents: dict[str, int] = {}
    cases: dict[str, int] = {}
    for prov, hs in ((HY, hy), (TB, tb)):
        with session_scope(url) as s:
            ingest_hotspots(
                s,
                hs,
                ScanRecord(kind="scan", source="sentinel2", label=f"test {prov}", input_hashes={"x": prov}),
            )
    with session_scope(url) as s:
        for inc in s.scalars(select(Incident).order_by(Incident.id)):
            prov = HY if inc.lon < 106.2 else TB
            inc.province = prov
            incidents[prov] = inc.id
            case = s.scalars(select(Case).where(Case.incident_id == inc.id)).one()
            cases[prov] = case.id
    return incidents, cases


def assign(url: str, case_id: int, inspector: str) -> None:
    from burnwatch.incidents.cases import assign as do_assign
    from burnwatch.store.db import session_scope

    with session_scope(url) as s:
        do_assign(s, case_id, inspector, actor="analyst", reason="please inspect")


def build_app(
    url: str, tmp: Path, **overrides: Any
) -> tuple[Any, FakeClock, Any, dict[str, int], dict[str, int]]:
    """Seed the database and create the app (fake detector, fake clock, 2 MB upload cap)."""
    from drone_synth import orange_factory

    from burnwatch.api import create_app
    from burnwatch.config import load_settings

    incidents, cases = seed(url)
    clock = FakeClock()
    values: dict[str, Any] = {
        "database_url": url,
        "data_dir": tmp / "data",
        "secret_key": "test-secret-key",
        "session_minutes": 60,
        "max_upload_mb": 2,
    }
    values.update(overrides)
    settings = load_settings(**values)
    app = create_app(settings, detector_factory=orange_factory, clock=clock, flight_workers=0)
    return app, clock, settings, incidents, cases


def make_env(url: str, tmp: Path, **overrides: Any) -> Iterator[ApiEnv]:
    from fastapi.testclient import TestClient

    app, clock, settings, incidents, cases = build_app(url, tmp, **overrides)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield ApiEnv(app, client, clock, settings, incidents, cases, tmp)


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port (in a thread); yields the base URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(name="api")
def api_fixture(db_url: str, tmp_path: Path) -> Iterator[ApiEnv]:
    yield from make_env(db_url, tmp_path)


@pytest.fixture(name="sqlite_api")
def sqlite_api_fixture(sqlite_template: Path, tmp_path: Path) -> Iterator[ApiEnv]:
    """The app on SQLite only (for tests that do not depend on the database backend)."""
    import shutil

    shutil.copyfile(sqlite_template, tmp_path / "burnwatch.db")
    yield from make_env(f"sqlite:///{tmp_path / 'burnwatch.db'}", tmp_path)


def gps_jpeg(lon: float, lat: float, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small JPEG with EXIF GPS (WGS84) — a field photo."""
    from drone_synth import _dms
    from PIL import Image

    img = Image.new("RGB", size, (120, 90, 60))
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def flight_zip(
    path: Path, photos: int = 2, lon: float = 106.0502, lat: float = 20.6503, bad_file: bool = True
) -> Path:
    """A small flight .zip: nadir photos 60 m up with orange 'fire' markers on the ground
    (found by the drone tests' OrangeBlobDetector), plus a file that is not a photo."""
    import zipfile
    from datetime import datetime

    import numpy as np
    from drone_synth import ShotSpec, offset_lonlat, project_markers, render, write_photo

    takeoff = 12.0
    markers = np.array([offset_lonlat(lon, lat, e, n) for e, n in ((0.0, 0.0), (10.0, 6.0))])
    folder = path.parent / (path.stem + "_photos")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(photos):
            plon, plat = offset_lonlat(lon, lat, 4.0 * i, 0.0)
            spec = ShotSpec(plon, plat, takeoff + 60.0, 60.0, 0.0, -90.0, time=datetime(2026, 3, 1, 9, 0, i))
            photo = write_photo(
                folder / f"DJI_{i:04d}.JPG",
                spec,
                render(spec, project_markers(spec, markers, takeoff), seed=i),
            )
            zf.write(photo, photo.name)
        if bad_file:
            zf.writestr("notes.jpg", b"this is not a photo")
    return path
