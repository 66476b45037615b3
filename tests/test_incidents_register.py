# ruff: noqa: F811  (pytest fixtures imported from dbfixtures)
"""Static heat-source register: loading from files, exclusion-zone flags (never drops)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from dbfixtures import _fast_password_hashing, db_url, make_hotspot, pg_database, sqlite_template  # noqa: F401
from sqlalchemy import func, select

from burnwatch.errors import InputError
from burnwatch.incidents.clustering import ClusterParams
from burnwatch.incidents.register import load_register, match_static
from burnwatch.store import db
from burnwatch.store.ingest import ScanRecord, ingest_hotspots
from burnwatch.store.models import HotspotRow, Incident, StaticSource

PARAMS = ClusterParams(distance_m=1000.0, window=timedelta(hours=24))


def test_register_from_csv_and_geojson(db_url: str, tmp_path: Path) -> None:
    csv_path = tmp_path / "kilns.csv"
    csv_path.write_text(
        "lon,lat,name,kind,radius_m\n106.05,20.80,Lò gạch Tân Hưng,kiln,300\n106.30,20.90,Nhà máy,factory,\n",
        encoding="utf-8",
    )
    gj = tmp_path / "landfill.geojson"
    gj.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Bãi rác", "kind": "landfill"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [
                                    [106.5, 20.5],
                                    [106.52, 20.5],
                                    [106.52, 20.52],
                                    [106.5, 20.52],
                                    [106.5, 20.5],
                                ]
                            ],
                        },
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    with db.session_scope(db_url) as s:
        assert load_register(s, csv_path) == 2
        assert load_register(s, gj) == 1
        assert load_register(s, csv_path) == 2  # loading again adds nothing
        assert s.scalar(select(func.count()).select_from(StaticSource)) == 3
        kiln = match_static(s, 106.0525, 20.80)  # ~260 m east: inside the 300 m zone
        assert kiln is not None and kiln.name == "Lò gạch Tân Hưng" and kiln.radius_m == 300
        assert match_static(s, 106.0535, 20.80) is None  # ~365 m: outside
        assert match_static(s, 106.301, 20.90) is not None  # default 250 m radius
        assert match_static(s, 106.51, 20.51).kind == "landfill"  # type: ignore[union-attr]
    with db.session_scope(db_url) as s:
        r = ingest_hotspots(
            s,
            [make_hotspot(106.0505, 20.80), make_hotspot(106.2, 20.7)],
            ScanRecord(kind="scan", source="sentinel2"),
            params=PARAMS,
        )
        assert (r.added, r.flagged_static) == (2, 1)
        flagged = s.scalars(select(HotspotRow).where(HotspotRow.static_source_id.is_not(None))).one()
        assert "static_source" in flagged.flags
        assert (
            s.scalar(select(func.count()).select_from(Incident).where(Incident.static_source.is_(True))) == 1
        )


def test_register_errors_name_the_file(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat,name,kind\nabc,20.8,x,kiln\n", encoding="utf-8")
    wrong_kind = tmp_path / "kind.csv"
    wrong_kind.write_text("lon,lat,name,kind\n106,20.8,x,volcano\n", encoding="utf-8")
    with db.session_scope(db_url) as s:
        with pytest.raises(InputError, match=r"bad\.csv: row 2"):
            load_register(s, bad)
        with pytest.raises(InputError, match="volcano"):
            load_register(s, wrong_kind)
        with pytest.raises(InputError, match="not found"):
            load_register(s, tmp_path / "none.gpkg")
