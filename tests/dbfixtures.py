"""Database fixtures for the store/incident/case tests: ``db_url`` runs each test on SQLite
(a temporary file) and on PostGIS (a fresh schema in a per-session database).

Import in a test module with ``from dbfixtures import db_url, pg_database  # noqa: F401``.
PostGIS tests skip (with the reason) when the server on 127.0.0.1:5432 is unreachable,
except when ``CI=true``, where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN = os.environ.get("BURNWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_connect(dbname: str | None = None):  # type: ignore[no-untyped-def]
    import psycopg

    conninfo = PG_ADMIN if dbname is None else PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname
    return psycopg.connect(conninfo, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throw-away database with PostGIS for this test session; yields its base URL."""
    try:
        admin = _pg_connect()
    except Exception as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostGIS server unreachable in CI ({PG_ADMIN}): {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
    name = f"burnwatch_test_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with _pg_connect(name) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    finally:
        from burnwatch.store.db import dispose_engines

        dispose_engines()
        with _pg_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')




@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    from burnwatch.store.db import get_engine, upgrade

    path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    upgrade(f"sqlite:///{path}")
    get_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2id parameters in tests (the hash format and verification are the same)."""
    from argon2 import PasswordHasher

    import burnwatch.store.users as users

    monkeypatch.setattr(users, "password_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL: SQLite file or a fresh PostGIS schema."""
    from burnwatch.store.db import get_engine, upgrade

    if request.param == "sqlite":
        import shutil

        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "burnwatch.db")
        url = f"sqlite:///{tmp_path / 'burnwatch.db'}"
    else:
        base = request.getfixturevalue("pg_database")
        schema = f"t_{uuid.uuid4().hex[:10]}"
        dbname = base.rsplit("/", 1)[1]
        with _pg_connect(dbname) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{base}?options=-csearch_path%3D{schema},public"
    upgrade(url)
    yield url
    get_engine(url).dispose()


def make_hotspot(
    lon: float,
    lat: float,
    time: str = "2024-03-01T03:30:00",
    *,
    source: str = "sentinel2",
    sensor: str = "MSI",
    algorithm: str = "hu2021",
    confidence: float = 0.7,
    size_m: float = 20.0,
    kind: str = "fire",
):  # type: ignore[no-untyped-def]
    """A hotspot with a square footprint of ``size_m`` metres around (lon, lat)."""
    from datetime import datetime, timezone

    from shapely.geometry import box

    from burnwatch.types import Hotspot

    half_lat = size_m / 2 / 110_574.0
    half_lon = size_m / 2 / 104_000.0
    t = datetime.fromisoformat(time).replace(tzinfo=timezone.utc)
    cls = "high" if confidence >= 0.8 else "nominal" if confidence >= 0.3 else "low"
    return Hotspot(
        source=source,
        sensor=sensor,
        algorithm=algorithm,
        time=t,
        lon=lon,
        lat=lat,
        confidence=confidence,
        confidence_class=cls,  # type: ignore[arg-type]
        footprint=box(lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat),
        kind=kind,  # type: ignore[arg-type]
        attributes={"note": "Hưng Yên"},
    )
