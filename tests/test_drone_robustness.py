"""Flight ingest under failure: broken models, dying workers, odd but real flights, bad options."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from drone_synth import (
    ShotSpec,
    broken_model_factory,
    broken_runtime_factory,
    crash_factory,
    geodesic_m,
    offset_lonlat,
    orange_factory,
    project_markers,
    render,
    write_photo,
)
from shapely.geometry import shape

from burnwatch.errors import InputError, ModelError
from burnwatch.flights import ingest_flight
from burnwatch.flights.ingest import WORKER_DIED

LON0, LAT0 = 105.85, 21.03
TAKEOFF = 12.0
MARKERS_EN = [(0.0, 0.0), (12.0, 7.0), (-18.0, 10.0), (20.0, -12.0), (-9.0, -14.0)]


def _markers() -> np.ndarray:
    return np.array([offset_lonlat(LON0, LAT0, e, n) for e, n in MARKERS_EN])


def _spec(i: int, **kw: object) -> ShotSpec:
    lon, lat = offset_lonlat(LON0, LAT0, 5.0 * i, 0.0)
    args: dict[str, object] = {
        "lon": lon,
        "lat": lat,
        "abs_alt": TAKEOFF + 60.0,
        "rel_alt": 60.0,
        "yaw": 0.0,
        "pitch": -90.0,
        "time": datetime(2026, 3, 1, 9, 0, i),
    }
    args.update(kw)
    return ShotSpec(**args)  # type: ignore[arg-type]


def _photo(path: Path, spec: ShotSpec, ground_h: float = TAKEOFF, blue_corner: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = render(spec, project_markers(spec, _markers(), ground_h))
    if blue_corner:
        rgb[:16, :16] = (0, 0, 255)
    return write_photo(path, spec, rgb)


def _flight(folder: Path, n: int = 2) -> list[Path]:
    return [_photo(folder / f"DJI_{i:04d}.JPG", _spec(i)) for i in range(n)]


def _max_error(hotspots: list, markers: np.ndarray) -> float:
    return max(min(geodesic_m(h.lon, h.lat, lo, la) for lo, la in markers) for h in hotspots)


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize(
    ("factory", "says"),
    [(broken_model_factory, "sha256 does not match"), (broken_runtime_factory, "INVALID_GRAPH")],
    ids=["model-error", "runtime-error"],
)
def test_a_detector_that_cannot_load_stops_the_flight(
    tmp_path: Path, workers: int, factory: object, says: str
) -> None:
    """Before: with worker processes every photo was 'worker failed: BrokenProcessPool' and the
    flight was written as if no fire had been seen, exit 0."""
    _flight(tmp_path / "in")
    with pytest.raises(ModelError, match=f"detector could not be loaded.*{says}"):
        ingest_flight(tmp_path / "in", tmp_path / "out", detector_factory=factory, workers=workers)  # type: ignore[arg-type]
    assert not (tmp_path / "out" / "report.json").exists()  # nothing that looks like "no fire"


def test_a_worker_that_dies_costs_only_its_own_photo(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for i in range(5):
        _photo(src / f"DJI_{i:04d}.JPG", _spec(i), blue_corner=(i == 2))
    res = ingest_flight(src, tmp_path / "out", detector_factory=crash_factory, workers=2)
    status = {f.name: f.status for f in res.files}
    assert status == {f"DJI_{i:04d}.JPG": "ok" if i != 2 else "error" for i in range(5)}, res.files
    (dead,) = [f for f in res.files if f.status == "error"]
    assert dead.messages == [f"DJI_0002.JPG: {WORKER_DIED}"]
    assert len(res.hotspots) == 4 * len(MARKERS_EN)


def test_a_hovering_panorama_is_not_taken_for_duplicates(tmp_path: Path) -> None:
    """Four photos in one second from one place at four headings are four photos."""
    src = tmp_path / "in"
    t = datetime(2026, 3, 1, 9, 0, 0)
    for k, yaw in enumerate((0.0, 90.0, 180.0, 270.0)):
        _photo(src / f"PANO_{k}.JPG", _spec(0, yaw=yaw, pitch=-60.0, time=t))
    res = ingest_flight(src, tmp_path / "out", detector_factory=None, workers=0)
    assert [f.status for f in res.files] == ["ok"] * 4, [f.messages for f in res.files]


def test_ground_elevation_places_the_camera_over_the_given_ground(tmp_path: Path) -> None:
    """Took off on a dyke at 12 m, photographed a field at -8 m: without the field's height the
    ground is assumed at the take-off point and the markers are metres off."""
    src = tmp_path / "in"
    spec = _spec(0, pitch=-60.0, yaw=30.0)
    _photo(src / "DJI_0001.JPG", spec, ground_h=-8.0)
    markers = _markers()
    visible = [
        (lo, la)
        for (lo, la), u, v in zip(markers, *project_markers(spec, markers, -8.0), strict=True)
        if 10 < u < spec.width - 10 and 10 < v < spec.height - 10
    ]
    assert visible
    takeoff = ingest_flight(src, tmp_path / "a", detector_factory=orange_factory, workers=0)
    given = ingest_flight(
        src, tmp_path / "b", detector_factory=orange_factory, workers=0, ground_elevation=-8.0
    )
    assert len(given.hotspots) == len(visible)
    assert _max_error(given.hotspots, np.array(visible)) < 0.5
    assert _max_error(takeoff.hotspots, np.array(visible)) > 2.0  # 3.5 m
    assert json.loads((tmp_path / "b" / "report.json").read_text())["ground"].startswith(
        "flat ground at the given elevation -8.00 m, camera height = AbsoluteAltitude"
    )


def test_a_photo_taken_on_the_ground_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _flight(src)
    _photo(src / "ON_GROUND.JPG", _spec(3, abs_alt=TAKEOFF + 0.5, rel_alt=0.5))
    res = ingest_flight(src, tmp_path / "out", detector_factory=None, workers=0)
    (rep,) = [f for f in res.files if f.name == "ON_GROUND.JPG"]
    assert rep.status == "error"
    assert "RelativeAltitude +0.5 m: the camera is only 0.5 m above the take-off point" in rep.messages[-1]
    assert res.ok_photos == 2


def test_geojson_polygons_wind_counterclockwise(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _flight(src)
    ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    for name in ("footprints", "detections", "hotspots"):
        features = json.loads((tmp_path / "out" / f"{name}.geojson").read_text())["features"]
        assert features
        for f in features:
            geom = shape(f["geometry"])
            assert shapely.is_ccw(geom.exterior), (name, f["geometry"])


def test_zip_work_folder_is_removed_and_an_out_folder_inside_the_flight_is_not_read(
    tmp_path: Path,
) -> None:
    src = tmp_path / "in"
    photos = _flight(src)
    flight_zip = tmp_path / "flight.zip"
    with zipfile.ZipFile(flight_zip, "w") as zf:
        for p in photos:
            zf.write(p, f"DCIM/{p.name}")
    res = ingest_flight(flight_zip, tmp_path / "z", detector_factory=None, workers=0)
    assert res.ok_photos == 2 and not (tmp_path / "z" / ".work").exists()
    # --out inside the flight folder: its thumbnails and layers are not photos of the flight
    first = ingest_flight(src, src / "out", detector_factory=orange_factory, workers=0)
    again = ingest_flight(src, src / "out", detector_factory=orange_factory, workers=0)
    assert first.flight_id == again.flight_id and [f.status for f in again.files] == ["ok", "ok"]


def test_overwrite_with_another_flight_drops_its_thumbnails(tmp_path: Path) -> None:
    _flight(tmp_path / "a")
    other = tmp_path / "b"
    _photo(other / "OTHER_0001.JPG", _spec(7))
    ingest_flight(tmp_path / "a", tmp_path / "out", detector_factory=None, workers=0)
    ingest_flight(other, tmp_path / "out", detector_factory=None, workers=0, overwrite=True)
    thumbs = sorted(p.name.split("_")[0] for p in (tmp_path / "out" / "thumbnails").iterdir())
    assert thumbs == ["OTHER"]


def test_cli_refuses_non_finite_options_and_fails_a_flight_with_no_usable_photo(tmp_path: Path) -> None:
    from burnwatch.cli.main import cli

    _flight(tmp_path / "in")
    runner = CliRunner()
    base = ["drone", "ingest", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--detector", "none"]
    for option in ("--utc-offset", "--ground-elevation", "--alt-offset", "--ortho-sigma"):
        out = runner.invoke(cli, [*base, option, "nan"])
        assert out.exit_code == 2 and "not a finite number" in out.output, (option, out.output)
    assert runner.invoke(cli, [*base, "--utc-offset", "15"]).exit_code == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_text("not a photo")
    _photo(bad / "b.jpg", _spec(0, lat=0.0, lon=0.0))  # (0, 0): no GPS fix
    out = runner.invoke(cli, ["drone", "ingest", str(bad), "--out", str(tmp_path / "ob"), "--workers", "0"])
    assert out.exit_code == 2, out.output
    assert "no photo or orthomosaic of the flight could be used" in out.output
    assert "a.jpg" in out.output and "b.jpg" in out.output
    report = json.loads((tmp_path / "ob" / "report.json").read_text())
    assert report["detector"] == "burnwatch.cli.drone._load_detector('onnx')"


def test_unplaced_detections_are_printed_with_their_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from burnwatch.cli.main import cli

    monkeypatch.setattr("burnwatch.cli.drone._load_detector", lambda backend: orange_factory())
    src = tmp_path / "in"
    src.mkdir()
    spec = _spec(0, pitch=-5.0)  # towards the horizon, which is ~80 px above the image centre
    rgb = render(spec, project_markers(spec, _markers(), TAKEOFF))
    rgb[40:60, 600:620] = (255, 140, 0)  # an orange blob in the sky
    write_photo(src / "DJI_0001.JPG", spec, rgb)
    out = CliRunner().invoke(cli, ["drone", "ingest", str(src), "--out", str(tmp_path / "o"), "--workers", "0"])
    assert out.exit_code == 0, out.output
    assert "DJI_0001.JPG: fire box at (610, 50) px does not meet the ground" in out.output
    assert "(it points above the horizon); not placed" in out.output


def test_missing_absolute_altitude_with_ground_elevation_is_one_clear_error(tmp_path: Path) -> None:
    from burnwatch.flights.place import HeightModel, camera_for
    from burnwatch.georef.camera import FlatGround
    from burnwatch.sources.drone_meta import read_photo_meta

    meta = read_photo_meta(_photo(tmp_path / "p.jpg", _spec(0)))
    from dataclasses import replace

    hm = HeightModel(FlatGround(0.0), True, None, "flat ground at the given elevation 0.00 m")
    with pytest.raises(InputError, match=r"no AbsoluteAltitude/GPS altitude.*given ground elevation"):
        camera_for(replace(meta, abs_alt=None), hm, "EPSG:32648")


def test_a_photo_without_a_time_in_a_zip_takes_the_entry_time_as_local_time(tmp_path: Path) -> None:
    """Zip entry times are wall-clock readings (no zone), like the camera clock: in Hanoi
    09:00 is 02:00 UTC, on every re-ingest (before: the extraction time, new on each run)."""
    photo = _photo(tmp_path / "in" / "NOTIME.JPG", _spec(0, time=None))
    flight_zip = tmp_path / "flight.zip"
    with zipfile.ZipFile(flight_zip, "w") as zf:
        info = zipfile.ZipInfo("NOTIME.JPG", date_time=(2026, 3, 1, 9, 0, 0))
        zf.writestr(info, photo.read_bytes())
    runs = [ingest_flight(flight_zip, tmp_path / "out", detector_factory=orange_factory, workers=0) for _ in "ab"]
    for res in runs:
        assert {h.time.isoformat() for h in res.hotspots} == {"2026-03-01T02:00:00+00:00"}
        assert {h.flags for h in res.hotspots} == {("time-from-zip-entry",)}


def test_same_file_name_in_two_folders_are_two_photos(tmp_path: Path) -> None:
    """A card with 100MEDIA/DJI_0001.JPG and 101MEDIA/DJI_0001.JPG: both are reported and placed
    under their path in the flight; messages never show where a zip was extracted."""
    src = tmp_path / "in"
    _photo(src / "100MEDIA" / "DJI_0001.JPG", _spec(0))
    _photo(src / "101MEDIA" / "DJI_0001.JPG", _spec(1))
    _photo(src / "101MEDIA" / "DJI_0002.JPG", _spec(2))
    (src / "101MEDIA" / "cut.jpg").write_bytes((src / "101MEDIA" / "DJI_0002.JPG").read_bytes()[:3000])
    flight_zip = tmp_path / "card.zip"
    with zipfile.ZipFile(flight_zip, "w") as zf:
        for p in sorted(src.rglob("*.*")):
            zf.write(p, p.relative_to(src).as_posix())
    res = ingest_flight(flight_zip, tmp_path / "out", detector_factory=orange_factory, workers=0)
    status = {f.name: f.status for f in res.files}
    assert status == {
        "100MEDIA/DJI_0001.JPG": "ok",
        "101MEDIA/DJI_0001.JPG": "ok",
        "DJI_0002.JPG": "ok",
        "cut.jpg": "error",
    }, status
    photos = {h.attributes["photo"] for h in res.hotspots}
    assert photos == {"100MEDIA/DJI_0001.JPG", "101MEDIA/DJI_0001.JPG", "DJI_0002.JPG"}
    (cut,) = [f for f in res.files if f.name == "cut.jpg"]
    assert cut.messages[0].startswith("101MEDIA/cut.jpg: truncated or corrupt"), cut.messages
    assert ".work" not in (tmp_path / "out" / "report.json").read_text()


def _flat_dsm(path: Path, height: float, hole_value: float | None = None, georef: bool = True) -> Path:
    """A 200 x 200 m flat DSM at ``height`` around the flight; a block of ``hole_value`` (an
    undeclared no-data value) in its north-west quarter."""
    import rasterio
    from affine import Affine
    from pyproj import Transformer

    x0, y0 = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True).transform(LON0, LAT0)
    n, res = 400, 0.5
    heights = np.full((n, n), height, "float32")
    if hole_value is not None:
        heights[:100, :100] = hole_value
    transform = Affine(res, 0, x0 - 100.0, 0, -res, y0 + 100.0) if georef else Affine.identity()
    with rasterio.open(
        path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
        crs="EPSG:32648", transform=transform,
    ) as ds:  # fmt: skip
        ds.write(heights, 1)
    return path


def test_undeclared_nodata_heights_in_a_dsm_are_not_terrain(tmp_path: Path) -> None:
    """-9999 without a nodata tag: before, the datum check saw a DSM spanning -9999..12 m and
    stayed silent; rays through the block 'hit' 10 km underground."""
    _flight(tmp_path / "in")
    dsm = _flat_dsm(tmp_path / "dsm.tif", TAKEOFF, hole_value=-9999.0)
    res = ingest_flight(tmp_path / "in", tmp_path / "out", detector_factory=orange_factory, workers=0, dsm=dsm)
    assert any(
        "dsm.tif: 10000 DSM cell(s) with heights outside -1000..9000 m (-9999) are taken as no-data" in w
        for w in res.warnings
    ), res.warnings
    assert res.ok_photos == 2 and _max_error(res.hotspots, _markers()) < 0.5


def test_a_dsm_without_georeferencing_is_refused(tmp_path: Path) -> None:
    import warnings

    from burnwatch.errors import CRSError
    from burnwatch.georef.camera import DSMGround

    dsm = _flat_dsm(tmp_path / "dsm.tif", TAKEOFF, georef=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rasterio's raw NotGeoreferencedWarning stays inside
        with pytest.raises(CRSError, match="no georeferencing"):
            DSMGround.open(dsm)


def test_absurd_attitude_and_focal_length_are_refused_per_photo(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _flight(src)
    write_photo(src / "pitch.jpg", _spec(3), extra_xmp={"GimbalPitchDegree": "-200.0"})
    write_photo(src / "focal.jpg", _spec(4), extra_xmp={"CalibratedFocalLength": "-916.0"})
    res = ingest_flight(src, tmp_path / "out", detector_factory=None, workers=0)
    by = {f.name: f for f in res.files}
    assert by["pitch.jpg"].status == "error", by["pitch.jpg"]
    assert "GimbalPitchDegree -200.0 is outside ±180°" in by["pitch.jpg"].messages[0]
    assert by["focal.jpg"].status == "error", by["focal.jpg"]
    assert "is not a positive number" in by["focal.jpg"].messages[0]
    assert res.ok_photos == 2


def test_layer_times_are_datetime_fields(tmp_path: Path) -> None:
    """GIS tools filter by time only on DateTime fields (it was a text field)."""
    import pyogrio

    _flight(tmp_path / "in")
    ingest_flight(tmp_path / "in", tmp_path / "out", detector_factory=orange_factory, workers=0)
    gpkg = tmp_path / "out" / "flight.gpkg"
    for layer in ("footprints", "detections", "detection_points"):
        info = pyogrio.read_info(gpkg, layer=layer)
        types = dict(zip(info["fields"], info["dtypes"], strict=True))
        assert types["time"].startswith("datetime64"), (layer, types["time"])
    df = pyogrio.read_dataframe(gpkg, layer="detections")
    assert str(df["time"].iloc[0]) == "2026-03-01 02:00:00+00:00"  # 09:00 camera clock in Hanoi


def test_a_gps_glitch_is_not_placed(tmp_path: Path) -> None:
    """One photo of a 5 m/s survey line whose fix jumped 2 km away: the fire it saw would send
    an inspector 2 km off. The photos before and after it agree with each other."""
    src = tmp_path / "in"
    for i in range(5):
        spec = _spec(i)
        if i == 2:
            spec.lon, spec.lat = offset_lonlat(LON0, LAT0, 2000.0, 0.0)
        _photo(src / f"DJI_{i:04d}.JPG", spec)
    res = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    status = {f.name: f.status for f in res.files}
    assert status == {f"DJI_{i:04d}.JPG": "error" if i == 2 else "ok" for i in range(5)}, res.files
    (bad,) = [f for f in res.files if f.status == "error"]
    assert "DJI_0002.JPG: GPS position jumps 1995 m from the photo before it" in bad.messages[-1]
    assert len(res.hotspots) == 4 * len(MARKERS_EN)


def _corrupt_model_tag(path: Path) -> None:
    """Make the EXIF Model entry claim 60 000 bytes (more than the file holds)."""
    import struct

    data = bytearray(path.read_bytes())
    tiff = data.index(b"Exif\x00\x00") + 6
    fmt = "<" if data[tiff : tiff + 2] == b"II" else ">"
    ifd0 = struct.unpack(fmt + "I", data[tiff + 4 : tiff + 8])[0]
    (count,) = struct.unpack(fmt + "H", data[tiff + ifd0 : tiff + ifd0 + 2])
    for k in range(count):
        entry = tiff + ifd0 + 2 + 12 * k
        if struct.unpack(fmt + "H", data[entry : entry + 2])[0] == 0x0110:
            data[entry + 4 : entry + 8] = struct.pack(fmt + "I", 60000)
    path.write_bytes(bytes(data))


def test_corrupt_exif_entries_are_reported_against_the_photo(
    tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    """Pillow's raw 'Skipping tag' warnings used to reach the terminal with no file name."""
    src = tmp_path / "in"
    (photo,) = _flight(src, 1)
    _corrupt_model_tag(photo)
    res = ingest_flight(src, tmp_path / "out", detector_factory=orange_factory, workers=0)
    (rep,) = res.files
    assert rep.status == "ok" and len(res.hotspots) == len(MARKERS_EN)
    assert any(
        m.startswith("DJI_0000.JPG: EXIF partly unreadable (Tag data larger than file. Skipping tag 272;")
        for m in rep.messages
    ), rep.messages
    assert not [w for w in recwarn if "Skipping tag" in str(w.message)]


def test_report_output_paths_are_relative_to_the_output_folder(tmp_path: Path) -> None:
    _flight(tmp_path / "in")
    ingest_flight(tmp_path / "in", tmp_path / "out", detector_factory=None, workers=0)
    outputs = json.loads((tmp_path / "out" / "report.json").read_text())["outputs"]
    assert outputs["gpkg"] == "flight.gpkg" and outputs["thumbnails"] == "thumbnails"
    assert all((tmp_path / "out" / p).exists() for p in outputs.values())
