"""``burnwatch scan`` end to end through the CLI against a local server: Sentinel Hub
(OAuth token, Catalog, Process API serving a GeoTIFF with a physically injected fire) and the
FIRMS area API; 429 then success, a 500 that exhausts retries, a rejected token."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from fakeserver import FakeServer, Reply, Request
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds

from burnwatch.cli.main import cli
from burnwatch.config import get_settings
from burnwatch.publish.vector import read_hotspots

AOI = "105.90,20.95,105.95,21.00"
CLIENT_ID, SECRET = "scan-test", "scan-secret"
FIRMS_KEY = "abcdefabcdefabcdefabcdefabcdef12"
#: Harvested-stubble TOA reflectance per Sentinel-2 band (the demo scene's spectrum).
STUBBLE = {"B02": 0.115, "B03": 0.135, "B04": 0.16, "B08": 0.26, "B8A": 0.27, "B09": 0.17,
           "B11": 0.32, "B12": 0.24}
FIRE_AT = (60, 70)  # row, col in the served grid


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # local http:// token URL, tests only
    monkeypatch.setenv("BURNWATCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BURNWATCH_HTTP_RETRIES", "2")
    monkeypatch.setenv("BURNWATCH_HTTP_BACKOFF_S", "0.01")
    SentinelHubDownloadClient.clear_cache()
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    SentinelHubDownloadClient.clear_cache()


def _point_at(server: FakeServer, monkeypatch: pytest.MonkeyPatch, secret: str = SECRET) -> None:
    monkeypatch.setenv("BURNWATCH_SH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("BURNWATCH_SH_CLIENT_SECRET", secret)
    monkeypatch.setenv("BURNWATCH_SH_BASE_URL", server.url)
    monkeypatch.setenv("BURNWATCH_SH_TOKEN_URL", server.url + "/oauth/token")
    monkeypatch.setenv("BURNWATCH_FIRMS_MAP_KEY", FIRMS_KEY)
    monkeypatch.setenv("BURNWATCH_FIRMS_BASE_URL", server.url)


def _token(req: Request) -> Reply:
    form = req.form()
    if form.get("client_id") == [CLIENT_ID] and form.get("client_secret") == [SECRET]:
        return Reply.json({"access_token": "a.eyJ0IjoxfQ.b", "token_type": "Bearer", "expires_in": 3600})
    return Reply.json({"error": "invalid_client", "error_description": "Invalid client credentials"}, 401)


def _catalog(_: Request) -> Reply:
    item = {"type": "Feature", "id": "S2A_T48QWJ_20241012", "properties": {
        "datetime": "2024-10-12T03:36:10Z", "eo:cloud_cover": 3.0, "platform": "sentinel-2a"}}
    return Reply.json({"type": "FeatureCollection", "features": [item], "links": [],
                       "context": {"limit": 100, "returned": 1}})


def _process(req: Request) -> Reply:
    """A GeoTIFF with stubble everywhere and a 1000 K, 50 m² fire injected by the Planck model."""
    from affine import Affine

    from burnwatch.detect.firesim import inject_fire
    from burnwatch.sources.bands import role_of
    from burnwatch.types import Scene

    payload = req.json()
    names = json.loads(re.search(r"bands: (\[[^\]]*\])", payload["evalscript"]).group(1))
    width, height = payload["output"]["width"], payload["output"]["height"]
    minx, miny, maxx, maxy = payload["input"]["bounds"]["bbox"]
    epsg = int(payload["input"]["bounds"]["properties"]["crs"].rsplit("/", 1)[1])
    transform = from_bounds(minx, miny, maxx, maxy, width, height)
    rng = np.random.default_rng(1)
    bands = {role_of("S2A", b): (STUBBLE[b] * (1 + 0.03 * rng.standard_normal((height, width)))).astype(
        np.float32) for b in STUBBLE}
    scene = Scene("served", "sentinel2", "S2A", datetime(2024, 10, 12, 3, 36, tzinfo=timezone.utc),
                  f"EPSG:{epsg}", Affine(*transform[:6]), bands, sun_zenith=35.0)
    scene = inject_fire(scene, temperature_k=1000, area_m2=50, row=FIRE_AT[0], col=FIRE_AT[1])
    layers = []
    for name in names:
        if name in STUBBLE:
            layers.append(scene.bands[role_of("S2A", name)])
        elif name == "sunZenithAngles":
            layers.append(np.full((height, width), 35.0, np.float32))
        elif name == "sunAzimuthAngles":
            layers.append(np.full((height, width), 140.0, np.float32))
        else:  # dataMask
            layers.append(np.ones((height, width), np.float32))
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=width, height=height, count=len(layers), dtype="float32",
                      crs=f"EPSG:{epsg}", transform=transform) as ds:
            ds.write(np.stack(layers))
        body = mem.read()
    return Reply(200, body, content_type="image/tiff")


def _scan(args: list[str]) -> Result:
    return CliRunner().invoke(cli, ["-q", "scan", *args])


def _sentinel_args(out: Path) -> list[str]:
    return ["--source", "sentinel2", "--aoi", AOI, "--start", "2024-10-10", "--end", "2024-10-14",
            "--out", str(out)]


def test_sentinel2_scan_finds_the_injected_fire_after_a_429(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as server:
        server.add("POST", "/oauth/token", _token)
        server.add("POST", "/api/v1/catalog/1.0.0/search", _catalog)
        server.add("POST", "/api/v1/process", [Reply.text("slow down", 429, {"Retry-After": "0"}), _process])
        _point_at(server, monkeypatch)
        result = _scan(_sentinel_args(tmp_path / "s2"))
        process_calls = server.count("POST", "/api/v1/process")
    assert result.exit_code == 0, result.output
    assert process_calls == 2  # the 429, then the GeoTIFF
    hotspots = read_hotspots(tmp_path / "s2" / "hotspots.geojson")
    assert len(hotspots) == 1
    (hs,) = hotspots
    assert hs.source == "sentinel2" and hs.algorithm.startswith("hu2021")
    assert hs.time == datetime(2024, 10, 12, 3, 36, 10, tzinfo=timezone.utc)
    assert 105.90 <= hs.lon <= 105.95 and 20.95 <= hs.lat <= 21.00
    manifest = json.loads((tmp_path / "s2" / "manifest.json").read_text(encoding="utf-8"))
    assert SECRET not in json.dumps(manifest)


def test_sentinel2_scan_500_exhausts_retries_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeServer() as server:
        server.add("POST", "/oauth/token", _token)
        server.add("POST", "/api/v1/catalog/1.0.0/search", _catalog)
        server.add("POST", "/api/v1/process", Reply.text("internal error", 500))
        _point_at(server, monkeypatch)
        result = _scan(_sentinel_args(tmp_path / "s2"))
    assert result.exit_code != 0
    assert "500" in result.output and "Error:" in result.output
    # the failed day once (a warning: line), then what it means; not repeated in the Error: line
    assert sum("500" in line for line in result.output.splitlines()) == 1, result.output
    assert "Error: nothing could be scanned (1 problem(s) above)" in result.output


def test_sentinel2_scan_with_a_bad_secret_is_an_auth_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as server:
        server.add("POST", "/oauth/token", _token)
        server.add("POST", "/api/v1/catalog/1.0.0/search", _catalog)
        server.add("POST", "/api/v1/process", _process)
        _point_at(server, monkeypatch, secret="wrong")
        result = _scan(_sentinel_args(tmp_path / "s2"))
    assert result.exit_code != 0
    assert "Error:" in result.output and "wrong" not in result.output
    assert not (tmp_path / "s2" / "hotspots.geojson").exists()


FIRMS_CSV = (
    "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,"
    "version,bright_ti5,frp,daynight\n"
    "20.97,105.92,345.2,0.39,0.36,2024-10-12,0612,N,VIIRS,h,2.0NRT,290.1,12.4,D\n"
    "20.99,105.93,331.0,0.39,0.36,2024-10-12,0612,N,VIIRS,n,2.0NRT,289.5,4.1,D\n"
)


def test_firms_scan_through_the_area_api_after_a_429(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", [Reply.text("slow down", 429, {"Retry-After": "0"}),
                                             Reply.text(FIRMS_CSV)])
        _point_at(server, monkeypatch)
        result = _scan(["--source", "firms", "--aoi", AOI, "--start", "2024-10-12", "--end", "2024-10-12",
                        "--out", str(tmp_path / "firms")])
        paths = [r.path for r in server.requests]
    assert result.exit_code == 0, result.output
    assert FIRMS_KEY not in result.output
    assert len(paths) == 2 and paths[-1].endswith("/1/2024-10-12")
    hotspots = read_hotspots(tmp_path / "firms" / "hotspots.geojson")
    assert sorted(h.confidence_class for h in hotspots) == ["high", "nominal"]
    assert all(h.frp_mw is not None for h in hotspots)
    manifest = (tmp_path / "firms" / "manifest.json").read_text(encoding="utf-8")
    assert FIRMS_KEY not in manifest


def test_firms_scan_with_a_bad_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text("Invalid MAP_KEY.", 400))
        _point_at(server, monkeypatch)
        result = _scan(["--source", "firms", "--aoi", AOI, "--start", "2024-10-12", "--end", "2024-10-12",
                        "--out", str(tmp_path / "firms")])
    assert (result.exit_code != 0 and "MAP_KEY" in result.output.upper()) or "key" in result.output
    assert FIRMS_KEY not in result.output


def test_firms_api_bad_rows_are_echoed_once_and_in_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = FIRMS_CSV + "20.98,105.94,330.0,0.39,0.36,2024-10-12,0612,N,VIIRS,x,2.0NRT,289.5,4.1,D\n"
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text(bad))
        _point_at(server, monkeypatch)
        result = _scan(["--source", "firms", "--aoi", AOI, "--start", "2024-10-12", "--end", "2024-10-12",
                        "--out", str(tmp_path / "firms")])
    assert result.exit_code == 0, result.output
    assert sum("row 4" in line for line in result.output.splitlines()) == 1, result.output
    assert len(read_hotspots(tmp_path / "firms" / "hotspots.geojson")) == 2
    manifest = json.loads((tmp_path / "firms" / "manifest.json").read_text(encoding="utf-8"))
    assert any("row 4" in e for e in manifest["parameters"]["errors"])
    assert FIRMS_KEY not in result.output
