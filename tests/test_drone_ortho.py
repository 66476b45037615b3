"""Orthomosaic scanning: windows, boxes across window edges, georeference, bad files."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file
from drone_synth import (
    OrangeBlobDetector,
    ShotSpec,
    offset_lonlat,
    orange_factory,
    project_markers,
    render,
    write_photo,
)

from burnwatch.flights.ortho import (
    ORTHO_SIGMA_M,
    merge_detections,
    ortho_time,
    place_ortho_detections,
    scan_orthomosaic,
    windows,
)
from burnwatch.types import Box, Detection

UTM48 = "EPSG:32648"
X0, Y0, RES = 590_000.0, 2_310_000.0, 0.05  # upper-left corner (Hưng Yên area), 5 cm pixels


def write_mosaic(
    path: Path,
    fires_xy: list[tuple[float, float]],
    size: tuple[int, int] = (3000, 2400),
    dtype: str = "uint8",
    crs: str | None = UTM48,
    nodata_left: int = 0,
    tags: dict[str, str] | None = None,
) -> None:
    """A grey-green mosaic with orange 1.5 m fires centred at UTM (x, y); the left
    ``nodata_left`` columns are nodata (alpha 0)."""
    import rasterio
    from rasterio.transform import from_origin

    w, h = size
    rng = np.random.default_rng(1)
    rgb = np.empty((3, h, w), dtype="float64")
    rgb[0], rgb[1], rgb[2] = 90, 120, 70
    rgb += rng.normal(0, 8, rgb.shape)
    for x, y in fires_xy:
        col, row = (x - X0) / RES, (Y0 - y) / RES
        half = 0.75 / RES
        c0, c1, r0, r1 = int(col - half), int(col + half), int(row - half), int(row + half)
        rgb[:, r0:r1, c0:c1] = np.array([240, 140, 30])[:, None, None]
    alpha = np.full((h, w), 255, dtype="uint8")
    alpha[:, :nodata_left] = 0
    data = np.clip(rgb, 0, 255)
    if dtype == "uint16":
        data = data * 257  # 8-bit values at 16-bit full scale, as mosaicking tools write them
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": 4,
        "dtype": dtype,
        "transform": from_origin(X0, Y0, RES, RES),
        "photometric": "RGB",
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data.astype(dtype), [1, 2, 3])
        ds.write((alpha.astype(dtype) if dtype == "uint8" else (alpha > 0).astype(dtype) * 65535), 4)
        from rasterio.enums import ColorInterp

        ds.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
        if tags:
            ds.update_tags(**tags)


def test_windows_cover_the_raster_with_overlap() -> None:
    wins = list(windows(5000, 3000, 2048, 256))
    covered = np.zeros((3000, 5000), bool)
    for c, r, w, h in wins:
        assert w <= 2048 and h <= 2048
        covered[r : r + h, c : c + w] = True
    assert covered.all()
    cols = sorted({c for c, _, _, _ in wins})
    assert all(b - a <= 2048 - 256 for a, b in itertools.pairwise(cols))
    assert list(windows(100, 80, 2048, 256)) == [(0, 0, 100, 80)]
    with pytest.raises(ValueError):
        list(windows(100, 100, 256, 256))


def test_fires_are_found_once_and_placed_on_the_ground(tmp_path: Path) -> None:
    # window starts with tile 1024 / overlap 256: 0, 768, 1536, ... -> fires across the edges
    fires = [
        (X0 + 30.0, Y0 - 30.0),  # inside one window
        (X0 + 1024 * RES, Y0 - 20.0),  # across the first window's right edge (x = 1024 px)
        (X0 + 768 * RES + 2.0, Y0 - 768 * RES - 1.0),  # in the overlap of four windows
        (X0 + 140.0, Y0 - 110.0),  # near the far corner
    ]
    path = tmp_path / "ortho.tif"
    write_mosaic(path, fires, tags={"TIFFTAG_DATETIME": "2025:11:02 03:15:00"})
    det = OrangeBlobDetector()
    out = scan_orthomosaic(str(path), det.detect_sliced, tile_px=1024, overlap_px=256)
    assert out.error is None and out.windows == len(list(windows(3000, 2400, 1024, 256)))
    assert len(out.detections) == len(fires), out.detections
    when = ortho_time(out, None)
    assert when == (datetime(2025, 11, 2, 3, 15, tzinfo=timezone.utc), "ortho-datetime-tag")
    placed = place_ortho_detections(out, "F1", UTM48, *when)
    got = sorted((p.x, p.y) for p in placed)
    for (gx, gy), (tx, ty) in zip(got, sorted(fires), strict=True):
        assert abs(gx - tx) < 2 * RES and abs(gy - ty) < 2 * RES
    for p in placed:
        assert p.polygon_native.area == pytest.approx(1.5 * 1.5, rel=0.1)
        assert p.uncertainty_m == pytest.approx(ORTHO_SIGMA_M, abs=0.01)
        hs = p.hotspot
        assert hs.source == "drone" and hs.sensor == "orthomosaic" and hs.kind == "fire"
        assert hs.attributes["flight_id"] == "F1" and hs.attributes["photo"] == "ortho.tif"
        assert 105.0 < hs.lon < 106.5 and 20.5 < hs.lat < 21.5 and hs.flags == ("ortho-datetime-tag",)
    # into another CRS (the flight's UTM zone may differ from the mosaic's)
    other = place_ortho_detections(out, "F1", "EPSG:32649", *when)  # UTM 49N
    for a, b in zip(placed, other, strict=True):
        assert b.hotspot.crs == "EPSG:32649" and abs(b.x - a.x) > 1000
        assert abs(b.lon - a.lon) < 1e-8 and abs(b.lat - a.lat) < 1e-8


def test_sixteen_bit_mosaic_and_nodata(tmp_path: Path) -> None:
    path = tmp_path / "ortho16.tif"
    write_mosaic(path, [(X0 + 80.0, Y0 - 60.0)], dtype="uint16", nodata_left=1200)
    out = scan_orthomosaic(str(path), OrangeBlobDetector().detect_sliced, tile_px=1024, overlap_px=256)
    assert out.error is None and len(out.detections) == 1


def test_bad_mosaics_give_one_clear_error(tmp_path: Path) -> None:
    det = OrangeBlobDetector().detect_sliced
    no_crs = tmp_path / "nocrs.tif"
    write_mosaic(no_crs, [], size=(300, 200), crs=None)
    assert "without a CRS" in (scan_orthomosaic(str(no_crs), det).error or "")
    corrupt = tmp_path / "corrupt.tif"
    good = tmp_path / "good.tif"
    write_mosaic(good, [], size=(300, 200))
    corrupt.write_bytes(good.read_bytes()[:400])
    err = scan_orthomosaic(str(corrupt), det).error or ""
    assert "corrupt.tif" in err and "unreadable" in err
    big = scan_orthomosaic(str(good), det, max_pixels=1000).error or ""
    assert "good.tif" in big and "limit" in big
    no_time = scan_orthomosaic(str(good), None)
    assert no_time.error is None and ortho_time(no_time, None) is None


def test_merge_keeps_the_best_of_duplicates() -> None:
    a = Detection(0, "fire", 0.9, Box(0, 0, 10, 10))
    b = Detection(0, "fire", 0.6, Box(1, 1, 11, 11))  # IoU 0.68 -> duplicate
    c = Detection(1, "smoke", 0.5, Box(0, 0, 10, 10))  # other class -> kept
    d = Detection(0, "fire", 0.8, Box(20, 20, 30, 30))  # elsewhere -> kept
    assert merge_detections([b, c, a, d]) == [a, d, c]


def _hanoi_mosaic(path: Path, n_fires: int, tags: dict[str, str] | None = None) -> list[tuple[float, float]]:
    """A 5 cm mosaic around Hanoi (UTM 48N) with ``n_fires`` fires; their lon/lat."""
    from pyproj import Transformer

    fires = [(X0 + 20.0 + 35.0 * i, Y0 - 25.0 - 20.0 * i) for i in range(n_fires)]
    write_mosaic(path, fires, tags=tags)
    to_wgs = Transformer.from_crs(UTM48, "EPSG:4326", always_xy=True)
    return [to_wgs.transform(x, y) for x, y in fires]


def test_ingest_scans_the_flights_orthomosaic(tmp_path: Path) -> None:
    from burnwatch.flights import ingest_flight
    from burnwatch.publish.vector import read_hotspots

    src = tmp_path / "in"
    src.mkdir()
    fires = _hanoi_mosaic(src / "ortho.tif", 2)
    lon0, lat0 = fires[0]
    marker = np.array([offset_lonlat(lon0, lat0, 200.0, 0.0)])
    for i in range(2):
        lon, lat = offset_lonlat(lon0, lat0, 200.0 + 4.0 * i, 0.0)
        spec = ShotSpec(lon, lat, 72.0, 60.0, 0.0, -90.0, time=datetime(2026, 3, 1, 9, 0, i))
        write_photo(src / f"DJI_{i:04d}.JPG", spec, render(spec, project_markers(spec, marker, 12.0), seed=i))
    res = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=1)
    ortho = next(f for f in res.files if f.name == "ortho.tif")
    assert ortho.status == "orthomosaic" and ortho.detections == 2 and ortho.placed == 2, ortho
    mine = [h for h in res.hotspots if h.sensor == "orthomosaic"]
    assert len(mine) == 2 and len(res.hotspots) == 4
    for h, (lon, lat) in zip(sorted(mine, key=lambda h: h.lon), sorted(fires), strict=True):
        assert abs(h.lon - lon) < 2e-6 and abs(h.lat - lat) < 2e-6
        assert h.flags == ("time-from-flight-photos",)
        assert h.time == datetime(2026, 3, 1, 2, 0, 1, tzinfo=timezone.utc)  # the photos' Hanoi clock
        assert h.crs == res.crs == UTM48
    stored = read_hotspots(tmp_path / "out" / "hotspots.geojson")
    assert len(stored) == 4
    import geopandas as gpd

    layer = gpd.read_file(tmp_path / "out" / "flight.gpkg", layer="detections")
    assert sorted(layer["photo"]) == ["DJI_0000.JPG", "DJI_0001.JPG", "ortho.tif", "ortho.tif"]
    again = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    assert again.flight_id == res.flight_id
    assert {h.natural_key for h in again.hotspots} == {h.natural_key for h in res.hotspots}


def test_orthomosaic_only_flights(tmp_path: Path) -> None:
    from burnwatch.flights import ingest_flight

    tagged = tmp_path / "tagged"
    tagged.mkdir()
    _hanoi_mosaic(tagged / "m.tif", 3, tags={"TIFFTAG_DATETIME": "2026:01:15 02:30:00"})
    res = ingest_flight(tagged, tmp_path / "out1", detector_factory=orange_factory, workers=0)
    assert len(res.hotspots) == 3 and res.crs == UTM48
    assert {h.flags for h in res.hotspots} == {("ortho-datetime-tag",)}
    untagged = tmp_path / "untagged"
    untagged.mkdir()
    _hanoi_mosaic(untagged / "m.tif", 1)
    res = ingest_flight(untagged, tmp_path / "out2", detector_factory=orange_factory, workers=0)
    (rep,) = res.files
    assert rep.status == "error" and rep.detections == 1 and not res.hotspots
    assert any("no acquisition time" in m and "m.tif" in m for m in rep.messages), rep.messages
    # without a detector the mosaic is only read
    res = ingest_flight(untagged, tmp_path / "out3", detector_factory=None, workers=0)
    assert res.files[0].status == "orthomosaic" and "not scanned" in res.files[0].messages[0]


def test_real_opendronemap_orthophoto_with_the_shipped_detector(shared_dir: Path, tmp_path: Path) -> None:
    """A real ODM orthophoto (RGBA, UTM 15N, 0.5 m) goes through ingest with the real
    detector: read, scanned, no fire on this farmland, nothing stored."""
    import shutil

    from burnwatch.flights import ingest_flight
    from burnwatch.flights.ingest import default_detector_factory

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(shared_file(shared_dir, "data/drone/parser_fixtures/orthophoto.tif"), src / "orthophoto.tif")
    res = ingest_flight(src, tmp_path / "out", detector_factory=default_detector_factory, workers=1)
    (rep,) = res.files
    assert rep.status == "orthomosaic", rep
    assert "EPSG:32615, 212 x 212 px, 1 window scanned" in rep.messages[0]
    assert rep.detections == 0 and not res.hotspots
