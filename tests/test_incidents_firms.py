# ruff: noqa: F811  (pytest fixtures imported from dbfixtures)
"""Real data: the Vietnam rows of a NASA FIRMS MODIS 7-day export, clustered into incidents
and attributed to the 34 post-2025 provinces. The incremental clustering must equal a
brute-force batch single-linkage over all hotspots, and ingesting twice (or in two halves)
must give the same incidents."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from dbfixtures import _fast_password_hashing, db_url, pg_database, sqlite_template  # noqa: F401
from pyproj import Geod
from shapely import unary_union
from shapely.geometry import Point
from sqlalchemy import func, select

from burnwatch.incidents.admin import AdminAttributor
from burnwatch.incidents.clustering import ClusterParams
from burnwatch.store import db, queries
from burnwatch.store.ingest import ingest_hotspots
from burnwatch.store.inputs import read_input
from burnwatch.store.models import HotspotRow, Incident

pytestmark = pytest.mark.shared
FIRMS = "data/firms/modis_c61_nrt_world_7day_2022-03-28_2022-04-04.csv"
PROVINCES = "data/boundaries/vn_provinces_34_2025.geojson"
PARAMS = ClusterParams(distance_m=1000.0, window=timedelta(hours=24))


@pytest.fixture(scope="module")
def vietnam(shared_dir: Path):  # type: ignore[no-untyped-def]
    from conftest import shared_file

    attributor = AdminAttributor.from_files(shared_file(shared_dir, PROVINCES), "name", "code")
    hotspots, record = read_input(shared_file(shared_dir, FIRMS))
    assert attributor.provinces is not None
    land = unary_union(attributor.provinces.geometries)
    inside = [
        h
        for h in hotspots
        if 102.0 <= h.lon <= 110.0 and 8.0 <= h.lat <= 24.0 and land.intersects(Point(h.lon, h.lat))
    ]
    return inside, record, attributor


def batch_components(hotspots) -> int:  # type: ignore[no-untyped-def]
    """Connected components of 'within 1 km (geodesic) and 24 h', by brute force."""
    n = len(hotspots)
    lon = np.array([h.lon for h in hotspots])
    lat = np.array([h.lat for h in hotspots])
    t = np.array([h.time.timestamp() for h in hotspots])
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    geod = Geod(ellps="WGS84")
    for i in range(n):
        _, _, d = geod.inv(np.full(n, lon[i]), np.full(n, lat[i]), lon, lat)
        for j in np.nonzero((d <= 1000.0) & (np.abs(t - t[i]) <= 24 * 3600))[0]:
            parent[find(int(j))] = find(i)
    return len({find(i) for i in range(n)})


def test_firms_vietnam_incidents(db_url: str, vietnam) -> None:  # type: ignore[no-untyped-def]
    hotspots, record, attributor = vietnam
    assert len(hotspots) > 100  # 131 MODIS detections inside Vietnam's provinces that week
    with db.session_scope(db_url) as s:
        r = ingest_hotspots(s, hotspots, record, params=PARAMS, attributor=attributor)
    assert r.added == len(hotspots) and r.skipped_duplicates == 0
    with db.session_scope(db_url) as s:
        active = s.scalar(select(func.count()).select_from(Incident).where(Incident.status == "active"))
        assert active == batch_components(hotspots)
        summary = queries.provinces_summary(s)
        assert "(outside boundaries)" not in summary and sum(summary.values()) == active
        assert {"Sơn La", "An Giang", "Đồng Nai"} <= set(summary)
        members = s.scalar(
            select(func.count()).select_from(HotspotRow).where(HotspotRow.incident_id.is_not(None))
        )
        assert members == len(hotspots)
        before = (active, summary)
    with db.session_scope(db_url) as s:
        again = ingest_hotspots(s, hotspots, record, params=PARAMS, attributor=attributor)
    assert (again.added, again.incidents_created, again.incidents_updated) == (0, 0, 0)
    with db.session_scope(db_url) as s:
        active = s.scalar(select(func.count()).select_from(Incident).where(Incident.status == "active"))
        assert (active, queries.provinces_summary(s)) == before


def test_incremental_equals_batch(db_url: str, vietnam) -> None:  # type: ignore[no-untyped-def]
    """Ingest day by day (newest first, to force merges): same incidents as one batch."""
    from dataclasses import replace

    hotspots, record, _ = vietnam
    days = sorted({h.time.date() for h in hotspots}, reverse=True)
    for day in days:
        part = [h for h in hotspots if h.time.date() == day]
        with db.session_scope(db_url) as s:
            ingest_hotspots(
                s, part, replace(record, label=str(day), input_hashes={"day": str(day)}), params=PARAMS
            )
    with db.session_scope(db_url) as s:
        active = s.scalar(select(func.count()).select_from(Incident).where(Incident.status == "active"))
        assert active == batch_components(hotspots)
        total = s.scalar(select(func.sum(Incident.hotspot_count)).where(Incident.status == "active"))
        assert total == len(hotspots)
