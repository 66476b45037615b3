# ruff: noqa: F811  (pytest fixtures imported from dbfixtures)
"""Admin attribution, exports and diacritics end to end (DB -> export -> report)."""

from __future__ import annotations

import csv
import json
import subprocess
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import pytest
from dbfixtures import _fast_password_hashing, db_url, make_hotspot, pg_database, sqlite_template  # noqa: F401
from sqlalchemy import select

from burnwatch.errors import InputError
from burnwatch.incidents.admin import AdminAttributor, AdminLayer
from burnwatch.incidents.clustering import ClusterParams
from burnwatch.incidents.exports import export_hotspots, export_incidents
from burnwatch.incidents.report import daily_report
from burnwatch.store import db, queries
from burnwatch.store.ingest import ScanRecord, ingest_hotspots
from burnwatch.store.models import Incident

PARAMS = ClusterParams(distance_m=1000.0, window=timedelta(hours=24))
HUNG_YEN = "Hưng Yên"


def square(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@pytest.fixture
def boundaries(tmp_path: Path) -> tuple[Path, Path]:
    """Two provinces and two communes; names written DECOMPOSED (NFD) on purpose."""
    nfd = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731
    prov = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": nfd(HUNG_YEN), "code": "33"},
                "geometry": square(105.9, 20.5, 106.3, 21.0),
            },
            {
                "type": "Feature",
                "properties": {"name": "Hà Nội", "code": "01"},
                "geometry": square(105.3, 20.5, 105.9, 21.4),
            },
        ],
    }
    comm = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": nfd("Phố Hiến"), "code": "11953"},
                "geometry": square(105.9, 20.5, 106.1, 21.0),
            },
            {
                "type": "Feature",
                "properties": {"name": nfd("Tân Hưng"), "code": "11977"},
                "geometry": square(106.1, 20.5, 106.3, 21.0),
            },
        ],
    }
    p, c = tmp_path / "prov.geojson", tmp_path / "comm.geojson"
    p.write_text(json.dumps(prov, ensure_ascii=False), encoding="utf-8")
    c.write_text(json.dumps(comm, ensure_ascii=False), encoding="utf-8")
    return p, c


def test_layer_errors_name_the_file(tmp_path: Path, boundaries: tuple[Path, Path]) -> None:
    with pytest.raises(InputError, match=r"no field 'ten'.*fields: name, code"):
        AdminLayer.load(boundaries[0], "ten")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.geojson"):
        AdminLayer.load(bad)
    with pytest.raises(InputError, match="not found"):
        AdminLayer.load(tmp_path / "missing.gpkg")


def test_locate_inside_near_and_outside(boundaries: tuple[Path, Path]) -> None:
    layer = AdminLayer.load(boundaries[0], "name", "code")
    unit = layer.locate(106.05, 20.8)
    assert unit is not None and unit.name == HUNG_YEN and unit.code == "33"
    assert unicodedata.is_normalized("NFC", unit.name)
    near = layer.locate(106.31, 20.8)  # ~1 km east of the edge
    assert near is not None and near.name == HUNG_YEN
    assert layer.locate(107.0, 20.8) is None


def test_diacritics_survive_db_export_and_report(
    db_url: str, boundaries: tuple[Path, Path], tmp_path: Path
) -> None:
    attributor = AdminAttributor.from_files(boundaries[0], "name", "code", [boundaries[1]], "name", "code")
    hs = [
        make_hotspot(106.05, 20.80, time="2024-03-01T03:30:00"),
        make_hotspot(
            106.20, 20.70, time="2024-03-01T03:30:00", source="firms", sensor="MODIS Terra", algorithm="MOD14"
        ),
    ]
    with db.session_scope(db_url) as s:
        ingest_hotspots(s, hs, ScanRecord(kind="scan", source="mixed"), params=PARAMS, attributor=attributor)
    with db.session_scope(db_url) as s:
        incs = queries.incidents(s, province=unicodedata.normalize("NFD", HUNG_YEN))
        assert [(i.province, i.commune, i.province_code) for i in incs] == [
            (HUNG_YEN, "Phố Hiến", "33"),
            (HUNG_YEN, "Tân Hưng", "33"),
        ]
        cases = {i.id: c for i in incs if (c := queries.case_for_incident(s, i.id)) is not None}
        out = tmp_path / "out"
        for suffix in (".geojson", ".csv", ".kml", ".gpkg"):
            export_incidents(incs, out / f"incidents{suffix}", cases)
            export_hotspots(queries.hotspots(s, province=HUNG_YEN), out / f"hotspots{suffix}")
        files = daily_report(s, date(2024, 3, 1), HUNG_YEN, out, AdminLayer.load(boundaries[0]))
    gj = json.loads((out / "incidents.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["commune"] for f in gj["features"]] == ["Phố Hiến", "Tân Hưng"]
    assert gj["features"][0]["properties"]["case_state"] == "new"
    with (out / "incidents.csv").open(encoding="utf-8") as fh:
        assert [r["province"] for r in csv.DictReader(fh)] == [HUNG_YEN, HUNG_YEN]
    assert HUNG_YEN in (out / "incidents.kml").read_text(encoding="utf-8")
    import pyogrio

    frame = pyogrio.read_dataframe(out / "incidents.gpkg", layer="incidents")
    assert list(frame["province"]) == [HUNG_YEN, HUNG_YEN]
    from burnwatch.publish.vector import read_hotspots

    back = read_hotspots(out / "hotspots.geojson")
    assert sorted(h.source for h in back) == ["firms", "sentinel2"]
    assert (out / "hotspots.kml").stat().st_size > 0 and (out / "hotspots.csv").read_text(
        encoding="utf-8"
    ).count("\n") == 3
    html = files.html.read_text(encoding="utf-8")
    assert HUNG_YEN in html and "Phố Hiến" in html and "New incidents (2)" in html
    assert files.data.source_counts == {"firms": 1, "sentinel2": 1}
    text = subprocess.run(
        ["pdftotext", str(files.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert HUNG_YEN in unicodedata.normalize("NFC", text) and "Tân Hưng" in unicodedata.normalize("NFC", text)


def test_real_communes_hung_yen(shared_dir: Path, db_url: str) -> None:
    from conftest import shared_file

    prov = shared_file(shared_dir, "data/boundaries/vn_provinces_34_2025.geojson")
    comm = shared_file(shared_dir, "data/boundaries/vn_communes_33_hung_yen_2025.geojson")
    attributor = AdminAttributor.from_files(prov, "name", "code", [comm], "name", "code")
    # Phố Hiến ward (old Hưng Yên city centre), 20.65 N 106.06 E
    with db.session_scope(db_url) as s:
        ingest_hotspots(
            s,
            [make_hotspot(106.055, 20.650)],
            ScanRecord(kind="scan", source="x"),
            params=PARAMS,
            attributor=attributor,
        )
        inc = s.scalars(select(Incident)).one()
        assert inc.province == HUNG_YEN and inc.province_code == "33"
        assert inc.commune is not None and unicodedata.is_normalized("NFC", inc.commune)


def _layer_file(tmp_path: Path, features: list[dict], name: str = "b.geojson") -> Path:
    path = tmp_path / name
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", **f} for f in features]}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("props", [{"code": "33"}, {"name": None, "code": "33"}, {"name": " ", "code": "33"}])
def test_features_without_a_name_are_refused_by_index(tmp_path: Path, props: dict) -> None:
    path = _layer_file(
        tmp_path,
        [
            {"properties": {"name": "Hà Nội", "code": "01"}, "geometry": square(105.3, 20.5, 105.9, 21.4)},
            {"properties": props, "geometry": square(105.9, 20.5, 106.3, 21.0)},
        ],
    )
    with pytest.raises(InputError, match=r"b\.geojson: 1 feature\(s\) have no name in field 'name'.*: 1\)"):
        AdminLayer.load(path)


def test_codes_missing_or_numeric_are_not_stored_as_nan(tmp_path: Path) -> None:
    path = _layer_file(
        tmp_path,
        [
            {"properties": {"name": "A", "code": 33}, "geometry": square(105.9, 20.5, 106.3, 21.0)},
            {"properties": {"name": "B", "code": None}, "geometry": square(105.3, 20.5, 105.9, 21.4)},
        ],
    )
    layer = AdminLayer.load(path, "name", "code")
    assert [(u.name, u.code) for u in layer.units] == [("A", "33"), ("B", None)]


def test_bow_tie_polygon_keeps_both_lobes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ring = [[105.9, 20.5], [106.2, 20.8], [106.2, 20.5], [105.9, 20.8], [105.9, 20.5]]
    path = _layer_file(
        tmp_path, [{"properties": {"name": "Bowtie"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]
    )
    with caplog.at_level("WARNING", logger="burnwatch.incidents.admin"):
        layer = AdminLayer.load(path)
    assert "repaired 1 invalid polygon(s)" in caplog.text
    assert layer.geometries[0].area == pytest.approx(0.045)
    for lon in (105.95, 106.15):  # a point in each lobe
        unit = layer.locate(lon, 20.65, tolerance_m=0)
        assert unit is not None and unit.name == "Bowtie"


def test_projected_coordinates_without_crs_are_refused(tmp_path: Path) -> None:
    utm = square(600_000, 2_280_000, 640_000, 2_320_000)  # UTM 48N metres, no "crs" member
    path = _layer_file(tmp_path, [{"properties": {"name": "Hưng Yên"}, "geometry": utm}])
    with pytest.raises(InputError, match="coordinates look projected: wrong or missing CRS"):
        AdminLayer.load(path)


def test_layer_outside_vietnam_loads_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _layer_file(
        tmp_path, [{"properties": {"name": "Bavaria"}, "geometry": square(9.0, 47.0, 13.8, 50.5)}]
    )
    with caplog.at_level("WARNING", logger="burnwatch.incidents.admin"):
        layer = AdminLayer.load(path)
    assert len(layer.units) == 1 and "do not overlap Vietnam" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="burnwatch.incidents.admin"):
        AdminLayer.load(
            _layer_file(
                tmp_path,
                [{"properties": {"name": "A"}, "geometry": square(105.9, 20.5, 106.3, 21.0)}],
                "vn.geojson",
            )
        )
    assert "Vietnam" not in caplog.text
