"""Raster georeferencing: pixel <-> CRS <-> WGS84 round trips and fire pixels -> hotspots."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from burnwatch.detect.spectral import FireResult
from burnwatch.errors import CRSError
from burnwatch.georef.raster import (
    fire_hotspots,
    lonlat_to_xy,
    pixel_centre,
    pixel_polygon,
    pixel_size_m,
    xy_to_lonlat,
    xy_to_pixel,
)
from burnwatch.types import Hotspot, Scene

TF = Affine(20.0, 0.0, 610_000.0, 0.0, -20.0, 2_298_000.0)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_pixel_ground_pixel_round_trip(row: int, col: int) -> None:
    x, y = pixel_centre(TF, row, col)
    assert xy_to_pixel(TF, x, y) == (row, col)
    lon, lat = xy_to_lonlat("EPSG:32648", x, y)
    x2, y2 = lonlat_to_xy("EPSG:32648", lon, lat)
    assert xy_to_pixel(TF, x2, y2) == (row, col)
    assert abs(x2 - x) < 1e-3 and abs(y2 - y) < 1e-3


def test_known_position_and_bad_crs() -> None:
    lon, lat = xy_to_lonlat("EPSG:32648", 500_000.0, 0.0)  # UTM 48N central meridian, equator
    assert lon == pytest.approx(105.0) and lat == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(CRSError):
        xy_to_lonlat("EPSG:999999", 0.0, 0.0)
    assert pixel_polygon(TF, 0, 0).area == pytest.approx(400.0)


def _scene(conf: np.ndarray) -> tuple[Scene, FireResult]:
    n = conf.shape[0]
    scene = Scene("s1", "sentinel2", "MSI", datetime(2024, 6, 10, 3, 40, tzinfo=timezone.utc), "EPSG:32648", TF,
                  {"swir2": np.zeros(conf.shape, np.float32)})
    assert scene.shape == (n, n)
    return scene, FireResult(conf.astype(np.uint8), "hu2021-s2", "1", ("nsi",))


def test_clusters_8_connected_with_footprint_and_weighted_centre() -> None:
    conf = np.zeros((10, 10), np.uint8)
    conf[2, 2], conf[3, 3] = 1, 3  # diagonal neighbours: one hotspot
    conf[2, 3] = 2
    conf[8, 8] = 1  # separate
    scene, result = _scene(conf)
    hs = fire_hotspots(scene, result)
    assert len(hs) == 2
    big, small = hs
    assert big.pixel_count == 3 and small.pixel_count == 1
    assert big.confidence_class == "high" and big.confidence == pytest.approx(0.9)
    assert small.confidence_class == "low" and small.confidence == pytest.approx(0.3)
    assert big.footprint_native is not None and big.footprint_native.area == pytest.approx(3 * 400.0, rel=1e-4)
    # centre weighted by class: rows (2*1 + 2*2 + 3*3)/6, cols (2*1 + 3*2 + 3*3)/6
    x, y = pixel_centre(TF, (2 + 4 + 9) / 6, (2 + 6 + 9) / 6)
    assert big.x == pytest.approx(x) and big.y == pytest.approx(y)
    assert big.crs == "EPSG:32648" and big.scene_id == "s1" and big.algorithm == "hu2021-s2"
    assert big.time == scene.time and big.source == "sentinel2" and big.sensor == "MSI"
    assert big.footprint.contains(Point(big.lon, big.lat))
    assert 105.9 < big.lon < 106.2 and 20.6 < big.lat < 20.9
    assert big.uncertainty_m == pytest.approx(20.0 / np.sqrt(6.0))


def test_corner_touching_pixels_give_one_polygon() -> None:
    conf = np.zeros((6, 6), np.uint8)
    conf[1, 1] = conf[2, 2] = conf[3, 3] = 2
    hs = fire_hotspots(*_scene(conf))
    assert len(hs) == 1
    assert hs[0].footprint.geom_type == "Polygon"
    assert hs[0].footprint_native is not None
    assert hs[0].footprint_native.area == pytest.approx(1200.0, rel=1e-3)


def test_min_class_filters_and_no_fire_gives_nothing() -> None:
    conf = np.zeros((6, 6), np.uint8)
    conf[1, 1], conf[4, 4] = 1, 3
    assert len(fire_hotspots(*_scene(conf), min_class=2)) == 1
    assert fire_hotspots(*_scene(np.zeros((6, 6), np.uint8))) == []


def test_hotspots_round_trip_through_vector_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    vector = pytest.importorskip("burnwatch.publish.vector")
    conf = np.zeros((8, 8), np.uint8)
    conf[2, 2] = conf[2, 3] = 3
    conf[6, 1] = 1
    hs = fire_hotspots(*_scene(conf))
    path = vector.write_hotspots(hs, tmp_path / "h.geojson")
    back = vector.read_hotspots(path)
    assert [h.natural_key for h in back] == [h.natural_key for h in hs]


def _one_fire(crs: str, transform: Affine) -> Hotspot:
    conf = np.zeros((4, 4), np.uint8)
    conf[1, 2] = 3
    scene = Scene("g", "file", "MSI", datetime(2023, 5, 14, tzinfo=timezone.utc), crs, transform,
                  {"swir2": np.zeros(conf.shape, np.float32)})  # fmt: skip
    (h,) = fire_hotspots(scene, FireResult(conf, "hu2021-s2", "1", ("nsi",)))
    return h


def test_position_error_is_in_metres_for_a_scene_in_degrees() -> None:
    # 0.0002 deg pixels at 20.78 N: 1 deg of longitude = 104.2 km there, of latitude 110.7 km
    deg = _one_fire("EPSG:4326", Affine(0.0002, 0.0, 106.05, 0.0, -0.0002, 20.78))
    lat = np.radians(deg.lat)
    width, height = pixel_size_m(Affine(0.0002, 0.0, 106.05, 0.0, -0.0002, 20.78), "EPSG:4326", 1.0, 2.0)
    assert width == pytest.approx(0.0002 * 111_320.0 * np.cos(lat), rel=2e-3)  # ~20.8 m
    assert height == pytest.approx(0.0002 * 110_720.0, rel=2e-3)  # ~22.1 m
    assert deg.uncertainty_m == pytest.approx(np.hypot(width, height) / np.sqrt(12.0))
    assert 8.0 < deg.uncertainty_m < 10.0  # was 0.000082 (degrees taken as metres)
    assert deg.attributes["pixel_size_m"] == pytest.approx(width, abs=1e-3)
    # a projected CRS in US survey feet: 65.6168 ftUS = 20.0 m
    feet = _one_fire("EPSG:2263", Affine(65.6168, 0.0, 1_000_000.0, 0.0, -65.6168, 200_000.0))
    assert feet.uncertainty_m == pytest.approx(20.0 / np.sqrt(6.0), rel=1e-4)
    # metres unchanged: the grid size, not a geodesic one
    utm = _one_fire("EPSG:32648", TF)
    assert utm.uncertainty_m == pytest.approx(20.0 / np.sqrt(6.0)) and utm.attributes["pixel_size_m"] == 20.0
