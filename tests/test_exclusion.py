"""Exclusion layer of static heat sources: loading, buffering, flagging, clear errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon, box

from burnwatch.detect.exclusion import apply_exclusions, load_exclusion_zones
from burnwatch.errors import CorruptFileError, CRSError, InputError
from burnwatch.types import Hotspot

T0 = datetime(2024, 6, 10, 3, 40, tzinfo=timezone.utc)


def _hotspot(lon: float, lat: float, half: float = 0.0001) -> Hotspot:
    return Hotspot(source="demo", sensor="MSI", algorithm="hu2021-s2", time=T0, lon=lon, lat=lat,
                   confidence=0.9, confidence_class="high", footprint=box(lon - half, lat - half, lon + half, lat + half))


def _write(path: Path, features: list[dict], crs: str = "EPSG:4326") -> Path:
    frame = gpd.GeoDataFrame(
        [f["properties"] for f in features], geometry=[f["geometry"] for f in features], crs=crs
    )
    frame.to_file(path)
    return path


def test_points_are_buffered_and_hotspots_flagged_not_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path / "kilns.geojson", [
        {"properties": {"name": "Kiln A"}, "geometry": Point(106.10, 20.70)},
        {"properties": {"name": "Kiln B"}, "geometry": Point(106.15, 20.72)},
    ])
    zones = load_exclusion_zones(path, buffer_m=200.0)
    assert [z.name for z in zones] == ["Kiln A", "Kiln B"]
    # ~200 m radius: 0.0019° of latitude
    _, miny, _, maxy = zones[0].geometry.bounds
    assert (maxy - miny) / 2 == pytest.approx(200.0 / 111_000.0, rel=0.02)
    near = _hotspot(106.10 + 0.001, 20.70)  # ~100 m east of kiln A
    far = _hotspot(106.12, 20.70)  # ~2 km away
    kept, suppressed = apply_exclusions([near, far], zones)
    assert kept == [far]
    assert len(suppressed) == 1 and suppressed[0].flags == ("static_source:Kiln A",)
    assert suppressed[0].lon == near.lon


def test_polygons_used_as_is_and_radius_field(tmp_path: Path) -> None:
    factory = Polygon([(106.0, 20.6), (106.01, 20.6), (106.01, 20.61), (106.0, 20.61)])
    path = _write(tmp_path / "zones.gpkg", [
        {"properties": {"name": "Factory", "radius_m": None}, "geometry": factory},
        {"properties": {"name": "Flare", "radius_m": 1000.0}, "geometry": Point(106.2, 20.8)},
    ])
    zones = load_exclusion_zones(path, buffer_m=10.0)
    assert zones[0].geometry.equals_exact(factory, 1e-9)
    kept, suppressed = apply_exclusions([_hotspot(106.005, 20.605), _hotspot(106.2, 20.807)], zones)
    assert kept == []
    assert [h.flags for h in suppressed] == [("static_source:Factory",), ("static_source:Flare",)]


def test_projected_layer_is_reprojected(tmp_path: Path) -> None:
    path = _write(tmp_path / "utm.shp", [{"properties": {"name": "K"}, "geometry": Point(620_000, 2_290_000)}],
                  crs="EPSG:32648")
    zone = load_exclusion_zones(path)[0]
    assert 106.0 < zone.geometry.centroid.x < 106.3 and 20.6 < zone.geometry.centroid.y < 20.8


def test_other_name_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "k.geojson", [{"properties": {"ten": "Lò gạch"}, "geometry": Point(106.1, 20.7)}])
    assert load_exclusion_zones(path, name_field="ten")[0].name == "Lò gạch"
    with pytest.raises(InputError, match="no 'name' field") as err:
        load_exclusion_zones(path)
    assert str(path) in str(err.value)


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_exclusion_zones(tmp_path / "missing.geojson")
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(CorruptFileError) as err:
        load_exclusion_zones(broken)
    assert str(broken) in str(err.value)
    # projected coordinates declared as WGS84
    wrong = tmp_path / "wrong.geojson"
    wrong.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Point", "coordinates": [620000, 2290000]}}
    ]}))
    with pytest.raises(CRSError, match="wrong CRS"):
        load_exclusion_zones(wrong)
    # a shapefile without .prj has no CRS
    shp = _write(tmp_path / "nocrs.shp", [{"properties": {"name": "K"}, "geometry": Point(1, 1)}])
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match="no CRS"):
        load_exclusion_zones(shp)


def test_empty_zones_keep_everything(tmp_path: Path) -> None:
    h = _hotspot(106.1, 20.7)
    assert apply_exclusions([h], []) == ([h], [])


def test_demo_kilns_suppressed_end_to_end(tmp_path: Path) -> None:
    from burnwatch.detect.spectral import detect_fires
    from burnwatch.georef.raster import fire_hotspots
    from burnwatch.sources.synthetic import demo_exclusion_geojson, make_demo_scene

    demo = make_demo_scene()
    hotspots = fire_hotspots(demo.scene, detect_fires(demo.scene))
    zones = load_exclusion_zones(demo_exclusion_geojson(demo, tmp_path / "kilns.geojson"))
    kept, suppressed = apply_exclusions(hotspots, zones)
    assert len(suppressed) == len(demo.static_sources) == 2
    assert len(kept) == len([f for f in demo.fires if f.above_limit])
    assert all(h.flags[0].startswith("static_source:brick-kiln") for h in suppressed)


def test_a_table_without_geometries_is_one_input_error(tmp_path: Path) -> None:
    table = tmp_path / "kilns.csv"
    table.write_text("name,lon,lat\nkiln,105.2,20.2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"kilns\.csv: exclusion layer has no geometries"):
        load_exclusion_zones(table)
