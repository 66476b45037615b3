"""Hotspot files round-trip exactly through GeoJSON and GeoPackage."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from shapely.geometry import box

from burnwatch.errors import BurnwatchError
from burnwatch.publish.vector import read_hotspots, write_hotspots
from burnwatch.types import Hotspot


def _hotspots() -> list[Hotspot]:
    return [
        Hotspot(
            source="sentinel2", sensor="MSI", algorithm="hu2021", time=datetime(2025, 10, 3, 3, 25, 11),
            lon=106.05, lat=20.71, confidence=0.9, confidence_class="high",
            footprint=box(106.0498, 20.7098, 106.0502, 20.7102), crs="EPSG:32648",
            x=609500.0, y=2290300.0, footprint_native=box(609490, 2290290, 609510, 2290310),
            pixel_count=3, scene_id="S2A_demo", attributes={"max_b12": 0.71, "xã": "Hưng Yên"},
            flags=("static_source:Lò gạch",),
        ),
        Hotspot(
            source="firms", sensor="MODIS", algorithm="firms-modis-c6.1",
            time=datetime(2022, 3, 30, 6, 40, tzinfo=timezone.utc), lon=103.2, lat=21.4,
            confidence=0.55, confidence_class="nominal", footprint=box(103.195, 21.395, 103.205, 21.405),
            frp_mw=12.5,
        ),
    ]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    original = _hotspots()
    path = write_hotspots(original, tmp_path / f"hotspots{suffix}")
    back = read_hotspots(path)
    assert len(back) == len(original)
    for a, b in zip(original, back, strict=True):
        assert b.natural_key == a.natural_key
        assert b.footprint.equals_exact(a.footprint, 1e-9)
        assert (b.x, b.y, b.frp_mw, b.pixel_count, b.flags) == (a.x, a.y, a.frp_mw, a.pixel_count, a.flags)
        assert dict(b.attributes) == dict(a.attributes)
        if a.footprint_native is not None:
            assert b.footprint_native is not None and b.footprint_native.equals(a.footprint_native)


def test_geojson_is_rfc7946(tmp_path: Path) -> None:
    path = write_hotspots(_hotspots(), tmp_path / "h.geojson")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and "crs" not in data
    lon, lat = data["features"][0]["geometry"]["coordinates"][0][0]
    assert 100 < lon < 110 and 20 < lat < 22  # lon, lat order
    assert "Hưng Yên" in path.read_text(encoding="utf-8")  # diacritics kept, not \u-escaped


def test_empty_scan_writes_valid_empty_layer(tmp_path: Path) -> None:
    for suffix in (".geojson", ".gpkg"):
        assert read_hotspots(write_hotspots([], tmp_path / f"e{suffix}")) == []


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(BurnwatchError, match=r"bad\.geojson"):
        read_hotspots(bad)
    with pytest.raises(BurnwatchError, match="unsupported"):
        write_hotspots([], tmp_path / "x.shp")
