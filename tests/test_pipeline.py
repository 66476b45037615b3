"""The scan end to end: the embedded demo, a real Sentinel-2 file, a real no-fire Landsat-7 scene."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import shared_file

from burnwatch.cli.main import cli
from burnwatch.demo import run_demo
from burnwatch.pipeline import ScanOptions, run_scan
from burnwatch.publish.vector import read_hotspots

ASSET_REF = re.compile(r"""(?:src|href)\s*=\s*["'](https?:)?//""", re.I)


def _no_remote_assets(html: str) -> None:
    assert not ASSET_REF.search(html), "map references a remote asset"
    assert "http://" not in html and "https://" not in html


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out / "maps", out / "imagery"), out


def test_demo_finds_every_fire_above_limit_and_no_decoy(demo_report) -> None:  # type: ignore[no-untyped-def]
    report, _ = demo_report
    assert [f.label for f in report.missed_above_limit] == []
    assert report.decoys_hit == []
    assert report.kilns_total > 0 and report.kilns_suppressed == report.kilns_total
    assert sum(f.above_limit for f in report.fires) >= 3  # the demo really tests something
    assert report.unexplained_hotspots == 0
    assert report.ok


def test_demo_outputs_are_complete_and_offline(demo_report) -> None:  # type: ignore[no-untyped-def]
    report, out = demo_report
    maps = out / "maps"
    html = (maps / "map.html").read_text(encoding="utf-8")
    _no_remote_assets(html)
    hotspots = read_hotspots(maps / "hotspots.geojson")
    assert len(hotspots) == sum(f.found for f in report.fires)
    assert len(read_hotspots(maps / "hotspots.gpkg")) == len(hotspots)
    suppressed = read_hotspots(maps / "suppressed.geojson")
    assert all(any(f.startswith("static_source:") for f in h.flags) for h in suppressed)
    manifest = json.loads((maps / "manifest.json").read_text(encoding="utf-8"))
    text = json.dumps(manifest)
    assert "sha256" in text and "hu2021" in text
    from burnwatch.publish.cog import validate_cog

    cogs = sorted((maps / "scenes").glob("*_fire.tif"))
    assert cogs and all(validate_cog(p) for p in cogs)
    for h in hotspots:
        assert h.scene_id and h.time.tzinfo is not None and h.footprint_native is not None


def test_scan_cli_on_real_sentinel2_fire(shared_dir: Path, tmp_path: Path) -> None:
    tif = shared_file(shared_dir, "data/satellite/s2_bc_fire_20230514_b9_b11_b12.tif")
    out = tmp_path / "bc"
    result = CliRunner().invoke(
        cli,
        ["-q", "scan", "--source", "file", "--file", str(tif), "--band-map", "s2:B9,B11,B12",
         "--time", "2023-05-14T19:20:00Z", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    hotspots = read_hotspots(out / "hotspots.geojson")
    assert len(hotspots) >= 3
    # British Columbia, and clusters of several pixels along the fronts
    assert all(-130 < h.lon < -115 and 48 < h.lat < 60 for h in hotspots)
    assert max(h.pixel_count for h in hotspots) >= 5
    _no_remote_assets((out / "map.html").read_text(encoding="utf-8"))


#: ETM+ gains as in docs/detection.md (band 4 low gain, the others high).
L7_GAINS = {"blue": "high", "green": "high", "red": "high", "nir": "low", "swir1": "high", "swir2": "high"}


def test_scan_on_real_landsat7_without_fire_reports_nothing(shared_dir: Path, tmp_path: Path) -> None:
    from burnwatch.sources.local import etm_plus_toa_reflectance, read_band_files

    folder = shared_file(shared_dir, "data/satellite/landsat7_nofire")
    roles = {"blue": 10, "green": 20, "red": 30, "nir": 40, "swir1": 50, "swir2": 70}
    # 8-bit DNs -> TOA reflectance; date and sun not recorded: the same assumptions as docs/detection.md.
    acquired = datetime(2000, 3, 31, tzinfo=timezone.utc)
    scene = read_band_files(
        {r: folder / f"lsat7_2000_{n}.tif" for r, n in roles.items()}, sensor="ETM+", time=acquired,
        calibration=etm_plus_toa_reflectance(37.0, acquired.date(), L7_GAINS), sun_zenith=37.0,
    )
    result = run_scan([scene], tmp_path / "l7", ScanOptions())
    assert result.errors == []
    assert result.hotspots == []
    assert read_hotspots(tmp_path / "l7" / "hotspots.geojson") == []


def test_scan_cli_reports_bad_input_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "not_a_raster.tif"
    bad.write_bytes(b"this is not a GeoTIFF")
    result = CliRunner().invoke(
        cli, ["-q", "scan", "--source", "file", "--file", str(bad), "--band-map", "s2:B11,B12",
              "--out", str(tmp_path / "o")]
    )
    assert "not_a_raster.tif" in result.output
    empty = CliRunner().invoke(cli, ["scan", "--source", "sentinel2", "--aoi", "106,20,106,20",
                                      "--out", str(tmp_path / "o2")])
    assert empty.exit_code != 0 and "Error:" in empty.output


def test_local_scene_aoi_overlap_is_tested_in_wgs84(shared_dir: Path) -> None:
    from shapely.geometry import box

    from burnwatch.sources.base import parse_aoi
    from burnwatch.sources.local import read_geotiff, scene_intersects
    from burnwatch.types import AOI

    tif = shared_file(shared_dir, "data/satellite/s2_bc_fire_20230514_b9_b11_b12.tif")
    scene = read_geotiff(tif, "s2:B9,B11,B12")
    assert scene_intersects(scene, AOI(box(-180, -90, 180, 90), "world"))  # no UTM coords
    assert scene_intersects(scene, parse_aoi("-125,45,-115,60"))
    assert not scene_intersects(scene, parse_aoi("105,20,106,21"))  # Hanoi


def test_stale_outputs_only_files_the_earlier_manifest_lists_unchanged(tmp_path: Path) -> None:
    from burnwatch.pipeline import previous_outputs, remove_stale_outputs
    from burnwatch.publish.manifest import write_manifest

    out = tmp_path / "o"
    (out / "scenes").mkdir(parents=True)
    old_cog, changed, kept = out / "scenes" / "x_fire.tif", out / "suppressed.geojson", out / "hotspots.geojson"
    for f in (old_cog, changed, kept, out / "scenes" / "x_quicklook.png", tmp_path / "outside.txt"):
        f.write_text("old")
    write_manifest(out / "manifest.json", [], [old_cog, changed, kept, tmp_path / "outside.txt"], {}, {})
    earlier = previous_outputs(out)
    assert (out / "scenes" / "x_quicklook.png") in earlier  # implied by the listed fire COG
    assert all(out in p.parents for p in earlier)  # never anything outside the folder
    changed.write_text("edited by someone")
    removed = remove_stale_outputs(earlier, [kept])
    assert sorted(p.name for p in removed) == ["x_fire.tif", "x_quicklook.png"]
    assert changed.is_file() and kept.is_file() and (tmp_path / "outside.txt").is_file()
    assert not (out / "scenes").exists()  # emptied by the clean-up
