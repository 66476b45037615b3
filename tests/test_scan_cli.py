"""``burnwatch scan`` end to end on small generated GeoTIFFs and FIRMS CSVs (no ../shared)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner, Result

from burnwatch.cli.main import cli
from burnwatch.publish.vector import read_hotspots

#: Harvested-stubble TOA reflectance per Sentinel-2 band (as in tests/test_scan_remote.py).
STUBBLE = {"B02": 0.115, "B03": 0.135, "B04": 0.16, "B08": 0.26, "B8A": 0.27, "B09": 0.17,
           "B11": 0.32, "B12": 0.24}
BAND_MAP = "s2:" + ",".join(STUBBLE)
T0 = Affine(20.0, 0.0, 580000.0, 0.0, -20.0, 2330000.0)  # UTM 48N, near Hanoi
#: Four fires, one per quarter of the 120 x 120 px scene (row, col).
FIRES = [(20, 20), (20, 100), (100, 20), (100, 100)]
#: Covers the two western fires (lon ~105.774) only; the eastern ones are at lon ~105.789.
WEST_AOI = "105.765,21.04,105.782,21.075"

VIIRS_HEADER = ("latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,"
                "confidence,version,bright_ti5,frp,daynight\n")


def fire_tif(path: Path, fires: list[tuple[int, int]] = FIRES, size: int = 120) -> Path:
    """A stubble scene with 1000 K, 50 m² fires injected by the Planck model, as a GeoTIFF."""
    from burnwatch.detect.firesim import inject_fire
    from burnwatch.sources.bands import role_of
    from burnwatch.types import Scene

    rng = np.random.default_rng(1)
    bands = {role_of("S2A", b): (v * (1 + 0.03 * rng.standard_normal((size, size)))).astype(np.float32)
             for b, v in STUBBLE.items()}
    scene = Scene("t", "sentinel2", "S2A", datetime(2024, 10, 12, 3, 36, tzinfo=timezone.utc),
                  "EPSG:32648", T0, bands, sun_zenith=35.0)
    for row, col in fires:
        scene = inject_fire(scene, temperature_k=1000, area_m2=50, row=row, col=col)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=len(STUBBLE),
                       dtype="float32", crs="EPSG:32648", transform=T0) as ds:
        ds.write(np.stack([scene.bands[role_of("S2A", b)] for b in STUBBLE]))
    return path


def viirs_csv(path: Path, *rows: str) -> Path:
    path.write_text(VIIRS_HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def row(lat: float, lon: float, day: str = "2024-10-12", hhmm: str = "0612") -> str:
    return f"{lat},{lon},345.2,0.39,0.36,{day},{hhmm},N,VIIRS,h,2.0NRT,290.1,12.4,D"


def scan(*args: str) -> Result:
    return CliRunner().invoke(cli, ["-q", "scan", *args])


def manifest(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_file_scan_clips_hotspots_to_the_aoi(tmp_path: Path) -> None:
    tif = fire_tif(tmp_path / "scene_20241012.tif")
    whole = scan("--source", "file", "--file", str(tif), "--band-map", BAND_MAP, "--out", str(tmp_path / "all"))
    assert whole.exit_code == 0, whole.output
    assert len(read_hotspots(tmp_path / "all" / "hotspots.geojson")) == 4
    out = tmp_path / "west"
    result = scan("--source", "file", "--file", str(tif), "--band-map", BAND_MAP, "--aoi", WEST_AOI,
                  "--out", str(out))
    assert result.exit_code == 0, result.output
    hotspots = read_hotspots(out / "hotspots.geojson")
    assert len(hotspots) == 2 and all(h.lon < 105.782 for h in hotspots)
    assert "2 outside the AOI" in result.output
    assert manifest(out)["parameters"]["counts"]["outside_aoi"] == 2


def test_firms_csv_scan_clips_to_a_polygon_aoi(tmp_path: Path) -> None:
    from burnwatch.pipeline import ScanOptions, run_scan
    from burnwatch.sources.base import parse_aoi
    from burnwatch.sources.firms import read_firms_csv

    triangle = tmp_path / "tri.geojson"
    triangle.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[105.0, 20.0], [106.0, 20.0], [105.0, 21.0], [105.0, 20.0]]]}), encoding="utf-8")
    aoi = parse_aoi(str(triangle))
    # inside, on the edge, inside the bbox but outside the triangle
    csv = viirs_csv(tmp_path / "f.csv", row(20.2, 105.2), row(20.5, 105.5), row(20.9, 105.9))
    hotspots = read_firms_csv(csv)
    result = run_scan([], tmp_path / "o", ScanOptions(), extra_hotspots=hotspots, aoi=aoi)
    assert sorted((h.lat, h.lon) for h in result.hotspots) == [(20.2, 105.2), (20.5, 105.5)]
    assert result.outside_aoi == 1


def test_firms_static_land_and_offshore_types_are_suppressed_and_counted(tmp_path: Path) -> None:
    header = VIIRS_HEADER.rstrip("\n") + ",type\n"
    csv = tmp_path / "sp.csv"
    csv.write_text(header + "".join(f"{row(round(20.1 + i / 10, 1), 105.2)},{t}\n" for i, t in enumerate("0023")))
    out = tmp_path / "sp"
    result = scan("--source", "firms", "--file", str(csv), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert [h.lat for h in read_hotspots(out / "hotspots.geojson")] == [20.1, 20.2]
    suppressed = read_hotspots(out / "suppressed.geojson")
    assert [(h.lat, h.attributes["firms_type"]) for h in suppressed] == [(20.3, 2), (20.4, 3)]
    assert all("suppressed" in h.flags for h in suppressed)
    assert "static_source:FIRMS type 3 (offshore)" in suppressed[1].flags
    counts = manifest(out)["parameters"]["counts"]
    assert counts["suppressed"] == counts["suppressed_by_source"] == 2
    assert counts["firms_type"] == {"presumed vegetation fire": 2, "other static land source": 1, "offshore": 1}
    assert "2 suppressed as static sources" in result.output


AFIMG_TEXT = (
    "# Active Fires I-band EDR\n#\n"
    "# source: AFIMG_j01_d20241012_t0612301_e0613546_b1_c1_cspp_dev.nc\n#\n"
    "# number of fire pixels: 2\n#\n"
    "  20.20000000,  105.20000000,  340.0,  0.375,  0.375,   8,   4.5\n"
    "  22.90000000,  108.90000000,  350.0,  0.375,  0.375,   9,  12.0\n"
)


def test_cspp_afimg_text_is_recognised_by_content(tmp_path: Path) -> None:
    # renamed: the content (comment header), not the name, routes it; the time comes from "# source:"
    path = tmp_path / "noaa20_granule.csv"
    path.write_text(AFIMG_TEXT, encoding="utf-8")
    out = tmp_path / "afimg"
    result = scan("--source", "firms", "--file", str(path), "--aoi", "105,20,106,21", "--out", str(out))
    assert result.exit_code == 0, result.output
    (h,) = read_hotspots(out / "hotspots.geojson")
    assert (h.lat, h.source, h.attributes["satellite"]) == (20.2, "cspp", "NOAA-20")
    assert h.time == datetime(2024, 10, 12, 6, 12, 30, tzinfo=timezone.utc)
    assert manifest(out)["parameters"]["errors"] == []


@pytest.mark.shared
def test_real_afimg_file_scans(shared_dir: Path, tmp_path: Path) -> None:
    from conftest import shared_file

    (path,) = sorted(shared_file(shared_dir, "data/firms").glob("AFIMG_j01_*.txt"))
    result = scan("--source", "firms", "--file", str(path), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    assert len(read_hotspots(tmp_path / "o" / "hotspots.geojson")) == 18


def test_reused_out_folder_describes_only_the_latest_run(tmp_path: Path) -> None:
    a = fire_tif(tmp_path / "a_20241012.tif", FIRES[:1])
    b = fire_tif(tmp_path / "b_20241012.tif", FIRES[1:2])
    out = tmp_path / "o"
    first = scan("--source", "file", "--file", str(a), "--file", str(b), "--band-map", BAND_MAP, "--out", str(out))
    assert first.exit_code == 0, first.output
    b_files = sorted(p.name for p in (out / "scenes").iterdir() if p.name.startswith("b_"))
    assert len(b_files) == 3  # fire COG, quicklook, fire mask
    (out / "notes.txt").write_text("mine")  # not written by burnwatch: must survive
    (out / "scenes" / "b_extra.png").write_bytes(b"mine")
    a_cog = next((out / "scenes").glob("a_*_fire.tif"))
    second = scan("--source", "file", "--file", str(a), "--band-map", BAND_MAP, "--out", str(out))
    assert second.exit_code == 0, second.output
    left = sorted(p.name for p in (out / "scenes").iterdir())
    assert not set(b_files) & set(left) and "b_extra.png" in left and a_cog.name in left
    assert (out / "notes.txt").read_text() == "mine"
    listed = {o["path"] for o in manifest(out)["outputs"]}
    assert {f"scenes/{n}" for n in left if n.startswith("a_")} <= listed  # overlays listed too

    # an old suppressed.geojson goes when the new run suppresses nothing
    header = VIIRS_HEADER.rstrip("\n") + ",type\n"
    csv = tmp_path / "sp.csv"
    csv.write_text(header + f"{row(20.1, 105.2)},0\n{row(20.3, 105.2)},2\n")
    firms = tmp_path / "firms"
    assert scan("--source", "firms", "--file", str(csv), "--out", str(firms)).exit_code == 0
    assert (firms / "suppressed.geojson").is_file()
    csv.write_text(header + f"{row(20.1, 105.2)},0\n")
    assert scan("--source", "firms", "--file", str(csv), "--out", str(firms)).exit_code == 0
    assert not (firms / "suppressed.geojson").exists()


def test_duplicate_hotspots_are_kept_once(tmp_path: Path) -> None:
    week = viirs_csv(tmp_path / "7day.csv", row(20.2, 105.2), row(20.3, 105.3, "2024-10-11"))
    day = viirs_csv(tmp_path / "1day.csv", row(20.2, 105.2), row(20.2, 105.2), row(20.4, 105.4))
    out = tmp_path / "firms"
    result = scan("--source", "firms", "--file", str(week), "--file", str(day), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(read_hotspots(out / "hotspots.geojson")) == 3
    assert manifest(out)["parameters"]["counts"]["duplicates"] == 2
    assert "2 duplicate(s) dropped" in result.output

    tif = fire_tif(tmp_path / "scene_20241012.tif", FIRES[:2])
    twice = tmp_path / "twice"
    result = scan("--source", "file", "--file", str(tif), "--file", str(tif), "--band-map", BAND_MAP,
                  "--out", str(twice))
    assert result.exit_code == 0, result.output
    assert len(read_hotspots(twice / "hotspots.geojson")) == 2


def test_firms_csv_scan_keeps_only_the_dates_asked_for(tmp_path: Path) -> None:
    csv = viirs_csv(tmp_path / "f.csv", row(20.2, 105.2, "2022-03-30"), row(20.3, 105.3, "2025-01-01"),
                    row(20.4, 105.4, "2025-01-02", "2359"), row(20.5, 105.5, "2025-01-03", "0001"))
    out = tmp_path / "dates"
    # --end at midnight covers that whole day, as for Sentinel Hub and local GeoTIFFs
    result = scan("--source", "firms", "--file", str(csv), "--start", "2025-01-01", "--end", "2025-01-02",
                  "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(h.lat for h in read_hotspots(out / "hotspots.geojson")) == [20.3, 20.4]
    data = manifest(out)["parameters"]
    assert data["counts"]["outside_window"] == 2
    assert data["start"].startswith("2025-01-01T00:00") and data["end"].startswith("2025-01-02T23:59:59")
    # no dates: a file is scanned whole, and the manifest says no window was applied
    whole = scan("--source", "firms", "--file", str(csv), "--out", str(tmp_path / "whole"))
    assert whole.exit_code == 0, whole.output
    assert len(read_hotspots(tmp_path / "whole" / "hotspots.geojson")) == 4
    assert manifest(tmp_path / "whole")["parameters"]["start"] is None


def test_end_date_at_midnight_is_the_whole_day(tmp_path: Path) -> None:
    tif = fire_tif(tmp_path / "scene_20241012.tif", FIRES[:1])  # acquired 2024-10-12 (file name)
    out = tmp_path / "o"
    result = scan("--source", "file", "--file", str(tif), "--band-map", BAND_MAP, "--time", "2024-10-12T03:36",
                  "--start", "2024-10-12T01:00", "--end", "2024-10-12", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(read_hotspots(out / "hotspots.geojson")) == 1


def test_per_file_errors_are_reported_once_and_the_good_files_scanned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = fire_tif(tmp_path / "good_20241012.tif", FIRES[:1])
    garbage = tmp_path / "garbage_20241012.tif"
    garbage.write_bytes(b"not a GeoTIFF at all")
    nodate = fire_tif(tmp_path / "nodate.tif", FIRES[:1])
    missing = tmp_path / "missing_20241012.tif"
    out = tmp_path / "o"
    with caplog.at_level(logging.WARNING):
        result = scan("--source", "file", "--file", str(good), "--file", str(missing), "--file", str(garbage),
                      "--file", str(nodate), "--band-map", BAND_MAP, "--out", str(out))
    assert result.exit_code == 0, result.output  # something was scanned
    for bad in (missing, garbage, nodate):
        assert sum(bad.name in line for line in result.output.splitlines()) == 1, result.output
    assert not [r for r in caplog.records if r.name.startswith("burnwatch.sources")]  # not logged twice
    data = manifest(out)
    assert len(data["parameters"]["errors"]) == 3
    assert {"path": str(missing.resolve()), "kind": "missing"} in data["inputs"]
    assert len(read_hotspots(out / "hotspots.geojson")) == 1

    nothing = scan("--source", "file", "--file", str(missing), "--file", str(garbage), "--band-map", BAND_MAP,
                   "--out", str(tmp_path / "none"))
    assert nothing.exit_code == 2
    assert "Error: nothing could be scanned (2 problem(s) above)" in nothing.output
    assert sum(garbage.name in line for line in nothing.output.splitlines()) == 1
    assert (tmp_path / "none" / "manifest.json").exists()


def test_one_bad_firms_csv_does_not_stop_the_others(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = viirs_csv(tmp_path / "good.csv", row(20.2, 105.2), "20.3,abc,1,1,1,2024-10-12,0612,N,VIIRS,h,2,1,1,D")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "o"
    with caplog.at_level(logging.WARNING):
        result = scan("--source", "firms", "--file", str(empty), "--file", str(good),
                      "--file", str(tmp_path / "gone.csv"), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert len(read_hotspots(out / "hotspots.geojson")) == 1
    assert result.output.count("empty.csv") == 1 and result.output.count("gone.csv") == 1
    assert result.output.count("row 3") == 1
    assert not [r for r in caplog.records if r.name.startswith("burnwatch.sources")]
    errors = manifest(out)["parameters"]["errors"]
    assert len(errors) == 3 and any("row 3" in e for e in errors)


def test_exclusion_layer_is_checked_before_scanning(tmp_path: Path) -> None:
    tif = fire_tif(tmp_path / "scene_20241012.tif", FIRES[:1])
    table = viirs_csv(tmp_path / "table.csv", row(20.2, 105.2))
    out = tmp_path / "o"
    result = scan("--source", "file", "--file", str(tif), "--band-map", BAND_MAP, "--exclusions", str(table),
                  "--out", str(out))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Error:" in result.output and "table.csv" in result.output and "no geometries" in result.output
    noname = tmp_path / "kilns.geojson"
    noname.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"label": "kiln"},
        "geometry": {"type": "Point", "coordinates": [105.2, 20.2]}}]}), encoding="utf-8")
    result = scan("--source", "file", "--file", str(tif), "--band-map", BAND_MAP, "--exclusions", str(noname),
                  "--out", str(out))
    assert result.exit_code == 2 and "kilns.geojson" in result.output and "'name'" in result.output
    assert not (out / "scenes").exists()  # refused before any scene was processed


def test_out_below_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    csv = viirs_csv(tmp_path / "f.csv", row(20.2, 105.2))
    result = scan("--source", "firms", "--file", str(csv), "--out", str(tmp_path / "afile" / "sub"))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Error:" in result.output and "a file is in the way" in result.output


def test_empty_scans_say_why(tmp_path: Path) -> None:
    tif = fire_tif(tmp_path / "scene_20241012.tif", FIRES[:1])
    far = scan("--source", "file", "--file", str(tif), "--band-map", BAND_MAP, "--aoi", "-123.3,58.0,-123.2,58.1",
               "--out", str(tmp_path / "far"))
    assert far.exit_code == 0, far.output
    assert "warning:" in far.output and "does not overlap the AOI" in far.output
    late = scan("--source", "file", "--file", str(tif), "--band-map", BAND_MAP, "--start", "2025-01-01",
                "--out", str(tmp_path / "late"))
    assert late.exit_code == 0, late.output
    assert "warning:" in late.output and "acquired 2024-10-12" in late.output


def test_scene_without_a_valid_pixel_is_a_warning_and_errors_are_not_prefixed_twice(tmp_path: Path) -> None:
    from burnwatch.pipeline import run_scan
    from burnwatch.types import Scene

    nan = np.full((40, 40), np.nan, np.float32)
    blank = Scene("blank", "sentinel2", "MSI", datetime(2024, 10, 12, tzinfo=timezone.utc), "EPSG:32648", T0,
                  {"nir": nan, "swir1": nan, "swir2": nan, "red": nan}, sun_zenith=35.0)
    no_swir = Scene("noswir", "sentinel2", "MSI", datetime(2024, 10, 12, tzinfo=timezone.utc), "EPSG:32648",
                    T0, {"red": nan + 0.1}, sun_zenith=35.0)
    result = run_scan([blank, no_swir], tmp_path / "o")
    assert result.warnings == ["scene blank: no valid pixel (all nodata or masked)"]
    (error,) = result.errors
    assert error.startswith("scene noswir: ") and error.count("scene noswir") == 1, error
    data = manifest(tmp_path / "o")["parameters"]
    assert data["warnings"] == result.warnings and data["errors"] == result.errors
