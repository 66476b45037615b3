"""Flight ingest end to end on generated photos with a known pose and a fake detector."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from drone_synth import (
    ShotSpec,
    geodesic_m,
    offset_lonlat,
    orange_factory,
    project_markers,
    render,
    write_photo,
)
from shapely.geometry import Point

from burnwatch.errors import ConflictError, InputError
from burnwatch.flights import ingest_flight
from burnwatch.publish.vector import read_hotspots

LON0, LAT0 = 105.85, 21.03  # Hanoi: 0.85 deg east of UTM 48N's central meridian
TAKEOFF = 12.0  # ground height (m) in the GNSS datum
MARKERS_EN = [(0.0, 0.0), (12.0, 7.0), (-18.0, 10.0), (20.0, -12.0), (-9.0, -14.0)]


def _flight(folder: Path, shots: list[ShotSpec], markers: np.ndarray) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, spec in enumerate(shots):
        uv = project_markers(spec, markers, TAKEOFF)
        paths.append(write_photo(folder / f"DJI_{i:04d}.JPG", spec, render(spec, uv, seed=i)))
    return paths


def _markers(centre_lon: float, centre_lat: float) -> np.ndarray:
    return np.array([offset_lonlat(centre_lon, centre_lat, e, n) for e, n in MARKERS_EN])


def _errors(hotspots: list, markers: np.ndarray) -> list[float]:
    errs = []
    for h in hotspots:
        errs.append(min(geodesic_m(h.lon, h.lat, lo, la) for lo, la in markers))
    return errs


@pytest.mark.parametrize(
    ("pitch", "yaw", "back_m"),
    [(-90.0, 30.0, 0.0), (-60.0, 120.0, 60.0 / np.tan(np.radians(60.0)))],
    ids=["nadir", "oblique"],
)
def test_known_pose_flight_is_placed_within_half_a_metre(
    tmp_path: Path, pitch: float, yaw: float, back_m: float
) -> None:
    markers = _markers(LON0, LAT0)
    # camera 60 m above the take-off point, set back so the markers are in the image centre
    yaw_r = np.radians(yaw)
    shots = []
    for k, (de, dn) in enumerate([(0.0, 0.0), (4.0, -3.0)]):
        lon, lat = offset_lonlat(LON0, LAT0, de - back_m * np.sin(yaw_r), dn - back_m * np.cos(yaw_r))
        shots.append(
            ShotSpec(lon, lat, TAKEOFF + 60.0, 60.0, yaw, pitch, time=datetime(2026, 3, 1, 9, 30, k))
        )
    _flight(tmp_path / "in", shots, markers)
    calls: list[tuple[int, int, str]] = []
    res = ingest_flight(
        tmp_path / "in",
        tmp_path / "out",
        detector_factory=orange_factory,
        workers=1,
        progress=lambda d, t, n: calls.append((d, t, n)),
    )
    assert [c[:2] for c in calls] == [(1, 2), (2, 2)]
    assert res.ok_photos == 2 and res.crs == "EPSG:32648"
    assert len(res.hotspots) == 2 * len(MARKERS_EN)
    errs = _errors(res.hotspots, markers)
    assert max(errs) < 0.5, errs
    h = res.hotspots[0]
    assert h.source == "drone" and h.algorithm == "yolo-fire-smoke" and h.kind == "fire"
    assert h.attributes["flight_id"] == res.flight_id and h.sensor == "FC6310"
    assert h.uncertainty_m is not None and 2.0 < h.uncertainty_m < 20.0
    assert h.footprint.contains(Point(h.lon, h.lat))
    # the files the hotspot database reads back
    back = read_hotspots(tmp_path / "out" / "hotspots.geojson")
    assert len(back) == len(res.hotspots)
    import geopandas as gpd

    for layer, n in (("track", 1), ("footprints", 2), ("detections", 10), ("detection_points", 10)):
        gdf = gpd.read_file(tmp_path / "out" / "flight.gpkg", layer=layer)
        assert len(gdf) == n and (gdf["flight_id"] == res.flight_id).all()
        assert len(gpd.read_file(tmp_path / "out" / f"{layer}.geojson")) == n
    utm = gpd.read_file(tmp_path / "out" / "flight.gpkg", layer="detections_utm")
    assert utm.crs.to_epsg() == 32648 and len(utm) == 10
    assert utm.geometry.iloc[0].contains(Point(utm["x"].iloc[0], utm["y"].iloc[0]))
    fp = gpd.read_file(tmp_path / "out" / "footprints.geojson")
    assert fp.geometry.iloc[0].contains(Point(*markers[0]))
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["flight_id"] == res.flight_id
    assert all(f["seconds"] > 0 for f in report["files"] if f["status"] == "ok")
    assert len(list((tmp_path / "out" / "thumbnails").glob("*.jpg"))) == 2


def _good_spec(i: int) -> ShotSpec:
    lon, lat = offset_lonlat(LON0, LAT0, 5.0 * i, 0.0)
    return ShotSpec(lon, lat, TAKEOFF + 60.0, 60.0, 0.0, -90.0, time=datetime(2026, 3, 1, 9, 0, i))


def test_bad_files_get_messages_and_do_not_stop_the_flight(tmp_path: Path) -> None:
    src = tmp_path / "in"
    markers = _markers(LON0, LAT0)
    good = _flight(src, [_good_spec(0), _good_spec(1)], markers)
    (src / "notes.jpg").write_text("this is not a photo")
    data = good[0].read_bytes()
    (src / "cut.jpg").write_bytes(data[: len(data) // 2])
    nogps = _good_spec(2)
    nogps.exif_gps = nogps.xmp_gps = False
    write_photo(src / "nogps.jpg", nogps)
    high = _good_spec(3)
    high.rel_alt = 4200.0
    write_photo(src / "high.jpg", high)
    # a valid JPEG whose header claims 60000 x 60000 pixels
    bomb = bytearray(good[1].read_bytes())
    sof = bomb.index(b"\xff\xc0")
    bomb[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2
    (src / "bomb.jpg").write_bytes(bytes(bomb))
    (src / "copy.jpg").write_bytes(data)  # same bytes as DJI_0000
    same_pose = _good_spec(0)  # same time and position, different pixels
    write_photo(
        src / "again.jpg", same_pose, render(same_pose, project_markers(same_pose, markers, TAKEOFF), seed=9)
    )
    (src / "readme.txt").write_text("flight notes")

    res = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=1)
    by = {f.name: f for f in res.files}
    expect = {
        "notes.jpg": ("error", "not an image"),
        "cut.jpg": ("error", "truncated"),
        "nogps.jpg": ("error", "no GPS position"),
        "high.jpg": ("error", "absurd altitude"),
        "bomb.jpg": ("error", "decompression bomb"),
        "copy.jpg": ("duplicate", "same sha256"),
        "again.jpg": ("duplicate", "same timestamp, position and camera angles"),
        "readme.txt": ("ignored", "not a photo"),
    }
    for name, (status, text) in expect.items():
        assert by[name].status == status, (name, by[name])
        assert any(text in m and name in m for m in by[name].messages), (name, by[name].messages)
    assert by["DJI_0000.JPG"].status == "ok" and by["DJI_0001.JPG"].status == "ok"
    assert len(res.hotspots) == 2 * len(MARKERS_EN)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {f["name"]: f["status"] for f in report["files"]}["bomb.jpg"] == "error"


def test_reingest_adds_nothing_twice_and_other_flights_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _flight(src, [_good_spec(0), _good_spec(1)], _markers(LON0, LAT0))
    first = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    again = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    assert first.flight_id == again.flight_id
    assert len(read_hotspots(tmp_path / "out" / "hotspots.geojson")) == len(first.hotspots) == 10
    import geopandas as gpd

    assert len(gpd.read_file(tmp_path / "out" / "flight.gpkg", layer="detections")) == 10
    assert {h.natural_key for h in first.hotspots} == {h.natural_key for h in again.hotspots}
    other = tmp_path / "other"
    _flight(other, [_good_spec(5)], _markers(LON0, LAT0))
    with pytest.raises(ConflictError, match=first.flight_id):
        ingest_flight(other, tmp_path / "out", detector_factory=None, workers=0)


def test_zip_flight_and_traversal_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    photos = _flight(src, [_good_spec(0), _good_spec(1)], _markers(LON0, LAT0))
    ok_zip = tmp_path / "flight.zip"
    with zipfile.ZipFile(ok_zip, "w") as zf:
        for p in photos:
            zf.write(p, f"DCIM/100MEDIA/{p.name}")
    res = ingest_flight(ok_zip, tmp_path / "out", detector_factory=None, workers=0)
    assert res.ok_photos == 2 and not res.hotspots
    bad_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad_zip, "w") as zf:
        zf.write(photos[0], photos[0].name)
        zf.writestr("../../escaped.jpg", b"x")
    with pytest.raises(InputError, match="path traversal"):
        ingest_flight(bad_zip, tmp_path / "out2", detector_factory=None, workers=0)
    assert not (tmp_path / "escaped.jpg").exists() and not (tmp_path / "out2" / ".." / "escaped.jpg").exists()


def test_cli_drone_ingest(tmp_path: Path) -> None:
    from burnwatch.cli.main import cli

    src = tmp_path / "in"
    _flight(src, [_good_spec(0), _good_spec(1)], _markers(LON0, LAT0))
    runner = CliRunner()
    assert "--dsm" in runner.invoke(cli, ["drone", "ingest", "--help"]).output
    out = runner.invoke(
        cli,
        ["drone", "ingest", str(src), "--out", str(tmp_path / "o"), "--detector", "none", "--workers", "0"],
    )
    assert out.exit_code == 0, out.output
    assert "2 ok" in out.output and (tmp_path / "o" / "report.json").exists()
    bad = runner.invoke(cli, ["drone", "ingest", str(src / "DJI_0000.JPG"), "--out", str(tmp_path / "o2")])
    assert bad.exit_code == 2 and "folder or a .zip" in bad.output


def _weights_present() -> bool:
    root = Path(__file__).resolve().parents[1] / "models"
    return (root / "manifest.json").is_file() and any(root.glob("*.onnx"))


@pytest.mark.skipif(not _weights_present(), reason="no shipped detector weights under models/ yet")
def test_real_detector_on_a_photo(tmp_path: Path) -> None:
    from burnwatch.flights.ingest import default_detector_factory

    src = tmp_path / "in"
    _flight(src, [_good_spec(0)], _markers(LON0, LAT0))
    res = ingest_flight(src, tmp_path / "out", detector_factory=default_detector_factory, workers=1)
    assert res.ok_photos == 1, [f.messages for f in res.files]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["files"][0]["seconds"] > 0


@pytest.mark.slow
def test_twenty_full_size_photos_with_progress(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    markers = _markers(LON0, LAT0)
    base = np.full((3000, 4000, 3), 95, np.uint8)
    for i in range(20):
        lon, lat = offset_lonlat(LON0, LAT0, 0.0, -10.0 + i)
        spec = ShotSpec(
            lon,
            lat,
            TAKEOFF + 60.0,
            60.0,
            0.0,
            -90.0,
            width=4000,
            height=3000,
            focal_px=2800.0,
            time=datetime(2026, 3, 1, 9, 0, i),
        )
        img = base.copy()
        u, v = project_markers(spec, markers, TAKEOFF)
        for uu, vv in zip(u, v, strict=True):
            img[int(vv) - 8 : int(vv) + 8, int(uu) - 8 : int(uu) + 8] = (255, 140, 0)
        write_photo(src / f"DJI_{i:04d}.JPG", spec, img, quality=70)
    calls: list[tuple[int, int, str]] = []
    res = ingest_flight(
        src,
        tmp_path / "out",
        detector_factory=orange_factory,
        workers=2,
        progress=lambda d, t, n: calls.append((d, t, n)),
    )
    assert [c[0] for c in calls] == list(range(1, 21)) and all(c[1] == 20 for c in calls)
    assert res.ok_photos == 20 and len(res.hotspots) == 20 * len(MARKERS_EN)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert all(f["seconds"] > 0 for f in report["files"])
    assert max(_errors(res.hotspots, markers)) < 0.5


def _slope_height(x: np.ndarray, x0: float, slope: float = 0.25) -> np.ndarray:
    return TAKEOFF + slope * (np.asarray(x) - x0)  # rises eastwards (25 cm per metre by default)


def _slope_dsm(path: Path, datum_shift_m: float = 0.0, slope: float = 0.25, east_m: float = 0.0) -> Path:
    """A 300 x 300 m DSM of a slope around the markers, heights + ``datum_shift_m``."""
    import rasterio
    from affine import Affine
    from pyproj import Transformer

    x0, y0 = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True).transform(LON0, LAT0)
    res, n = 0.5, 600
    transform = Affine(res, 0, x0 + east_m - 150.0, 0, -res, y0 + 150.0)
    xs = x0 + east_m - 150.0 + (np.arange(n) + 0.5) * res
    heights = np.tile(_slope_height(xs, x0, slope) + datum_shift_m, (n, 1)).astype("float32")
    with rasterio.open(
        path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
        crs="EPSG:32648", transform=transform, nodata=-9999,
    ) as ds:  # fmt: skip
        ds.write(heights, 1)
    return path


def _slope_flight(src: Path, slope: float = 0.25) -> np.ndarray:
    """Two oblique photos of markers standing on the slope (each at its own height)."""
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
    x0, _ = to_utm.transform(LON0, LAT0)
    markers = _markers(LON0, LAT0)
    mx, _ = to_utm.transform(markers[:, 0], markers[:, 1])
    src.mkdir()
    for k in range(2):
        lon, lat = offset_lonlat(LON0, LAT0, 3.0 * k, -40.0)
        spec = ShotSpec(lon, lat, TAKEOFF + 70.0, 70.0, 0.0, -60.0, time=datetime(2026, 3, 1, 9, 0, k))
        u, v = np.empty(len(markers)), np.empty(len(markers))
        for j, (lo, la) in enumerate(markers):
            uu, vv = project_markers(spec, np.array([[lo, la]]), float(_slope_height(mx[j], x0, slope)))
            u[j], v[j] = uu[0], vv[0]
        write_photo(src / f"DJI_{k:04d}.JPG", spec, render(spec, (u, v), seed=k))
    return markers


def test_dsm_flight_on_a_slope_and_srt_track(tmp_path: Path) -> None:
    """Markers on a 25 % slope: the DSM puts them back within 0.5 m; a flat ground would not."""
    src = tmp_path / "in"
    markers = _slope_flight(src)
    dsm = _slope_dsm(tmp_path / "dsm.tif")
    (src / "flight.SRT").write_text(
        "".join(
            f"{i + 1}\n00:00:0{i},000 --> 00:00:0{i + 1},000\n[latitude: {LAT0 + i * 1e-5:.6f}] "
            f"[longitude: {LON0:.6f}] [rel_alt: 70.0 abs_alt: 82.0]\n\n"
            for i in range(4)
        )
    )
    with_dsm = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0, dsm=dsm)
    assert len(with_dsm.hotspots) == 2 * len(MARKERS_EN)
    assert max(_errors(with_dsm.hotspots, markers)) < 0.5
    assert with_dsm.warnings == []
    flat = ingest_flight(src, tmp_path / "flat", detector_factory=orange_factory, workers=0)
    assert max(_errors(flat.hotspots, markers)) > 2.0
    by = {f.name: f for f in with_dsm.files}
    assert by["flight.SRT"].status == "telemetry"
    import geopandas as gpd

    track = gpd.read_file(tmp_path / "out" / "track.geojson")
    assert track["source"].iloc[0] == "srt" and track["points"].iloc[0] == 4
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["ground"].startswith("DSM") and report["warnings"] == []


def test_dsm_in_another_vertical_datum_is_caught(tmp_path: Path) -> None:
    """Gently sloping ground (2 %, 6 m over the DSM): a DSM 28 m off the photos' datum (geoid vs
    ellipsoid) is flagged either way and --alt-offset fixes it; a camera that would sit below the
    DSM surface is refused instead of placed."""
    markers = _slope_flight(tmp_path / "in", slope=0.02)
    low = ingest_flight(
        tmp_path / "in", tmp_path / "low", detector_factory=orange_factory, workers=0,
        dsm=_slope_dsm(tmp_path / "dsm-28.tif", datum_shift_m=-28.0, slope=0.02),
    )  # fmt: skip
    assert len(low.warnings) == 1 and "above the DSM's heights" in low.warnings[0]
    shifted = _slope_dsm(tmp_path / "dsm28.tif", datum_shift_m=28.0, slope=0.02)
    res = ingest_flight(
        tmp_path / "in", tmp_path / "out", detector_factory=orange_factory, workers=0, dsm=shifted
    )
    (warning,) = res.warnings
    assert "below the DSM's heights" in warning and "--alt-offset" in warning
    assert json.loads((tmp_path / "out" / "report.json").read_text())["warnings"] == [warning]
    assert max(_errors(res.hotspots, markers)) > 10.0  # what the warning is about
    fixed = ingest_flight(
        tmp_path / "in", tmp_path / "fixed", detector_factory=orange_factory, workers=0,
        dsm=shifted, alt_offset_m=28.0,
    )  # fmt: skip
    assert fixed.warnings == [] and max(_errors(fixed.hotspots, markers)) < 0.5
    buried = ingest_flight(
        tmp_path / "in",
        tmp_path / "buried",
        detector_factory=orange_factory,
        workers=0,
        dsm=_slope_dsm(tmp_path / "dsm90.tif", datum_shift_m=90.0, slope=0.02),
    )
    assert buried.hotspots == [] and len(buried.warnings) == 1
    for f in buried.files:
        assert f.status == "error" and any("below the DSM surface" in m for m in f.messages), f.messages


def test_camera_clock_offset_to_utc(tmp_path: Path) -> None:
    """The camera clock is local time at the flight (default: the zone at the GPS position)."""
    src = tmp_path / "in"
    _flight(src, [_good_spec(0)], _markers(LON0, LAT0))  # Hanoi, clock 09:00:00
    auto = ingest_flight(src, tmp_path / "a", detector_factory=orange_factory, workers=0)
    utc = ingest_flight(src, tmp_path / "b", detector_factory=orange_factory, workers=0, utc_offset_h=0.0)
    given = ingest_flight(src, tmp_path / "c", detector_factory=orange_factory, workers=0, utc_offset_h=7.0)
    assert auto.hotspots[0].time.hour == 2 and "camera-clock-local-zone" in auto.hotspots[0].flags
    assert utc.hotspots[0].time.hour == 9 and "camera-clock-utc-offset" in utc.hotspots[0].flags
    assert given.hotspots[0].time == auto.hotspots[0].time


def test_local_zone_follows_the_position_and_daylight_saving() -> None:
    from burnwatch.flights.place import local_zone, photo_time
    from burnwatch.sources.drone_meta import PhotoMeta

    assert local_zone(105.85, 21.03) in ("Asia/Bangkok", "Asia/Ho_Chi_Minh")  # UTC+7 all year
    assert local_zone(120.95, 24.68) == "Asia/Taipei"
    assert local_zone(110.0, 15.0) == "Etc/GMT-7"  # South China Sea: the nautical zone
    summer = PhotoMeta(
        path="x.jpg", sha256="0", width=1, height=1, lon=13.4, lat=52.5, time=datetime(2026, 7, 1, 12, 0)
    )  # Berlin, CEST
    winter = PhotoMeta(
        path="x.jpg", sha256="0", width=1, height=1, lon=13.4, lat=52.5, time=datetime(2026, 1, 15, 12, 0)
    )
    assert photo_time(summer)[0].hour == 10 and photo_time(winter)[0].hour == 11


def test_zip_bombs_and_links_are_refused(tmp_path: Path) -> None:
    from burnwatch.errors import TooLargeError
    from burnwatch.sources.drone import safe_extract_zip

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.jpg", b"\0" * (8 << 20))
    with pytest.raises(TooLargeError, match="zip bomb"):
        safe_extract_zip(bomb, tmp_path / "x")
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("photo.jpg")
        info.external_attr = 0o120777 << 16  # a symlink entry
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        safe_extract_zip(link, tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(30):
            zf.writestr(f"{i}.jpg", b"x")
    with pytest.raises(TooLargeError, match="entries"):
        safe_extract_zip(many, tmp_path / "z", max_entries=20)


def test_photo_without_attitude_is_placed_with_a_wide_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    markers = _markers(LON0, LAT0)
    _flight(src, [_good_spec(0)], markers)
    bare = _good_spec(1)
    bare.attitude = False  # yaw 0, nadir: what the pipeline assumes
    write_photo(src / "bare.jpg", bare, render(bare, project_markers(bare, markers, TAKEOFF)))
    res = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    by = {f.name: f for f in res.files}
    assert by["bare.jpg"].status == "ok" and any(
        "no gimbal/flight attitude" in m for m in by["bare.jpg"].messages
    )
    unc = {h.attributes["photo"]: h.uncertainty_m for h in res.hotspots}
    assert unc["bare.jpg"] > 2 * unc["DJI_0000.JPG"]


def test_lens_model_that_folds_inside_the_frame_is_reported_and_cut(tmp_path: Path) -> None:
    """A DewarpData polynomial that turns back before the corners: no fold-back rays."""
    src = tmp_path / "in"
    src.mkdir()
    markers = _markers(LON0, LAT0)
    spec = _good_spec(0)
    dewarp = "2018-04-09;916.0,916.0,0.0,0.0,-0.31,0.112,0.0,0.0,-0.0332"
    write_photo(
        src / "DJI_0001.JPG",
        spec,
        render(spec, project_markers(spec, markers, TAKEOFF)),
        extra_xmp={"DewarpData": dewarp},
    )
    res = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    (rep,) = res.files
    assert rep.status == "ok"
    assert any("lens distortion model (DJI DewarpData) turns back" in m for m in rep.messages), rep.messages
    import geopandas as gpd

    fp = gpd.read_file(tmp_path / "out" / "footprints.geojson")
    assert len(fp) == 1 and fp.geometry.iloc[0].is_valid and bool(fp["clipped"].iloc[0])
    # the markers near the image centre are well inside the lens range and all placed
    assert len(res.hotspots) == len(MARKERS_EN)
    assert all(fp.geometry.iloc[0].contains(Point(h.lon, h.lat)) for h in res.hotspots)


def test_malformed_dewarp_data_is_reported_not_silently_dropped(tmp_path: Path) -> None:
    """A truncated DewarpData tag: the photo says the factory calibration was not used."""
    src = tmp_path / "in"
    src.mkdir()
    spec = _good_spec(0)
    write_photo(
        src / "DJI_0001.JPG",
        spec,
        render(spec, project_markers(spec, _markers(LON0, LAT0), TAKEOFF)),
        extra_xmp={"DewarpData": "2018-04-09;916.0,916.0,0.0"},
    )
    res = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    (rep,) = res.files
    assert rep.status == "ok"
    assert any(
        "DJI_0001.JPG: DewarpData has 3 values, expected 9" in m and "CalibratedFocalLength" in m
        for m in rep.messages
    ), rep.messages
    assert len(res.hotspots) == len(MARKERS_EN)  # the photo itself is still placed


def test_dsm_of_another_area_is_reported(tmp_path: Path) -> None:
    """A DSM 2 km east of the flight: each photo says so, the flight warns, nothing is placed."""
    _slope_flight(tmp_path / "in", slope=0.02)
    dsm = _slope_dsm(tmp_path / "elsewhere.tif", slope=0.02, east_m=2000.0)
    res = ingest_flight(
        tmp_path / "in", tmp_path / "out", detector_factory=orange_factory, workers=0, dsm=dsm
    )
    assert res.hotspots == []
    for f in res.files:
        assert f.status == "ok" and any(
            "no ray of the photo meets the DSM (elsewhere.tif)" in m for m in f.messages
        )
    assert any(w.startswith("2 of 2 photo(s) see nothing of the DSM") for w in res.warnings), res.warnings
