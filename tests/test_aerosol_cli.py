"""``burnwatch aerosol`` end to end: the embedded demo, and Sentinel Hub sources served by a
local test server (OAuth token, STAC catalog, Process API returning simulated rasters)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from fakeserver import FakeServer, Reply, Request
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds

from burnwatch.aerosol.simulate import simulate_scene
from burnwatch.cli.main import cli
from burnwatch.config import get_settings
from burnwatch.publish.cog import validate_cog
from burnwatch.publish.vector import read_hotspots

AOI = "105.90,20.95,105.95,21.00"
CLIENT_ID, SECRET = "aerosol-test", "not-a-real-secret"
S2_NAMES = {
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B08": "nir",
    "B8A": "nir_narrow",
    "B11": "swir1",
    "B12": "swir2",
}


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("BURNWATCH_CACHE_DIR", str(tmp_path / "cache"))
    SentinelHubDownloadClient.clear_cache()
    get_settings.cache_clear()
    yield
    SentinelHubDownloadClient.clear_cache()
    get_settings.cache_clear()


def _geotiff(data: np.ndarray, payload: dict[str, object]) -> Reply:
    bounds = payload["input"]["bounds"]  # type: ignore[index]
    epsg = int(bounds["properties"]["crs"].rsplit("/", 1)[1])
    _, height, width = data.shape
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=width, height=height, count=data.shape[0], dtype="float32",
                      crs=f"EPSG:{epsg}", transform=from_bounds(*bounds["bbox"], width, height)) as ds:  # fmt: skip
            ds.write(data.astype(np.float32))
        return Reply(200, mem.read(), content_type="image/tiff")


def _process(req: Request) -> Reply:
    """Serve what the Process API would: simulated L1C bands, L2A AOT/SCL or S5P AI."""
    payload = req.json()
    assert req.headers.get("Authorization", "").startswith("Bearer ")
    names = json.loads(re.search(r"bands: (\[[^\]]*\])", payload["evalscript"]).group(1))
    width, height = payload["output"]["width"], payload["output"]["height"]
    minx, _miny, maxx, maxy = payload["input"]["bounds"]["bbox"]
    sim = simulate_scene(
        (height, width), pixel_size=(maxx - minx) / width, origin=(minx, maxy), seed=9,
        fires=[(height // 3, 2 * width // 3)], clouds=0,
    )  # fmt: skip
    layers = []
    for name in names:
        if name in S2_NAMES:
            layers.append(sim.scene.bands[S2_NAMES[name]])
        elif name == "B09":
            layers.append(sim.scene.bands["nir"] * 0.3)
        elif name == "sunZenithAngles":
            layers.append(np.full((height, width), 45.0))
        elif name == "sunAzimuthAngles":
            layers.append(np.full((height, width), 120.0))
        elif name == "AOT":  # DN = AOD x 1000
            layers.append(np.round(sim.aod * 1000.0))
        elif name == "SCL":
            scl = np.full((height, width), 4.0)
            scl[:5, :5] = 9.0  # cloud, high probability
            layers.append(scl)
        elif name == "AER_AI_340_380":
            layers.append(0.2 + 4.0 * sim.plume)
        elif name == "dataMask":
            layers.append(np.ones((height, width)))
        else:
            raise AssertionError(f"unexpected band {name}")
    return _geotiff(np.stack(layers), payload)


def _token(req: Request) -> Reply:
    if req.form().get("client_secret") == [SECRET]:
        return Reply.json(
            {"access_token": "a.eyJhenAiOiAidGVzdCJ9.b", "token_type": "Bearer", "expires_in": 3600}
        )
    return Reply.json({"error": "invalid_client"}, 401)


def _catalog(req: Request) -> Reply:
    feature = {"type": "Feature", "id": "S2A_X", "properties": {
        "datetime": "2024-03-10T03:35:12Z", "eo:cloud_cover": 8.0, "platform": "sentinel-2a"}}  # fmt: skip
    return Reply.json(
        {"type": "FeatureCollection", "features": [feature], "links": [], "context": {"returned": 1}}
    )


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as srv:
        srv.add("POST", "/oauth/token", _token)
        srv.add("POST", "/api/v1/catalog/1.0.0/search", _catalog)
        srv.add("POST", "/api/v1/process", _process)
        for key, value in {
            "SH_CLIENT_ID": CLIENT_ID, "SH_CLIENT_SECRET": SECRET, "SH_BASE_URL": srv.url,
            "SH_TOKEN_URL": srv.url + "/oauth/token", "HTTP_RETRIES": "1", "HTTP_BACKOFF_S": "0.01",
        }.items():  # fmt: skip
            monkeypatch.setenv(f"BURNWATCH_{key}", value)
        get_settings.cache_clear()
        yield srv


def _summary(out: Path) -> dict[str, object]:
    return json.loads((out / "summary.json").read_text())


def test_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = CliRunner().invoke(cli, ["aerosol", "--source", "demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = _summary(out)
    (grid,) = summary["grids"]  # type: ignore[misc]
    assert grid["quantity"] == "aod550" and grid["valid_fraction"] > 0.8
    for key in ("aod550_values", "aod550_classes", "aod550_quality", "pm25_values", "pm25_classes"):
        assert validate_cog(Path(grid["files"][key])), key
    with rasterio.open(grid["files"]["pm25_values"]) as src:
        assert src.tags()["CALIBRATED"] == "false"
    smoky = [i for i in grid["incidents"] if i["smoke"]]
    assert len(smoky) >= 3  # the demo's burning fields have plumes over/downwind of them
    plumes = read_hotspots(Path(grid["files"]["plumes"]))
    assert {p.attributes["incident_id"] for p in plumes} == {i["incident_id"] for i in smoky}
    assert all(p.kind == "smoke" for p in plumes)
    assert "UNCALIBRATED" in res.output
    html = (out / "map.html").read_text()
    assert summary["map"] == str(out / "map.html") and "PM2.5 (VN_AQI)" in html
    assert "https://" not in html.split("<body>")[0]  # offline: no CDN links in the head


def test_group_without_aoi_prints_help() -> None:
    res = CliRunner().invoke(cli, ["aerosol"])
    assert res.exit_code == 0 and "Usage:" in res.output


@pytest.mark.parametrize("args", [["aerosol", "--help"], ["aerosol", "run", "--help"]])
def test_help_shows_percent_once(args: list[str]) -> None:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and "Relative humidity (%)" in res.output and "%%" not in res.output


def test_l1c_retrieval_against_local_server(server: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "l1c"
    res = CliRunner().invoke(
        cli, ["aerosol", "--aoi", AOI, "--start", "2024-03-01", "--end", "2024-03-20", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert server.count("POST", "/api/v1/process") == 1
    (grid,) = _summary(out)["grids"]  # type: ignore[misc]
    assert grid["source"] == "sentinel2:ddv" and grid["time"].startswith("2024-03-10T03:35")
    assert grid["valid_fraction"] > 0.7
    assert 0.1 < grid["stats"]["p50"] < 0.6  # simulated background 0.3 +- gradient
    assert validate_cog(Path(grid["files"]["aod550_values"]))


def test_l2a_aot_and_s5p_against_local_server(server: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "l2a"
    res = CliRunner().invoke(cli, ["aerosol", "run", "--source", "sentinel2-l2a-aot", "--aoi", AOI,
                                   "--start", "2024-03-01", "--end", "2024-03-20", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    body = next(r for r in server.requests if r.path == "/api/v1/process").json()
    assert '"AOT"' in body["evalscript"] and '"DN"' in body["evalscript"]
    (grid,) = _summary(out)["grids"]  # type: ignore[misc]
    assert grid["source"] == "sentinel2-l2a:AOT"
    assert grid["quality_counts"]["1"] >= 1  # SCL cloud cells are marginal
    with rasterio.open(grid["files"]["aod550_values"]) as src:
        aod = src.read(1)
    assert 0.1 < float(np.nanmedian(aod)) < 0.6  # DN / 1000, not DN

    out5 = tmp_path / "s5p"
    res = CliRunner().invoke(cli, ["aerosol", "--source", "s5p-ai", "--aoi", AOI,
                                   "--start", "2024-03-10", "--end", "2024-03-11", "--out", str(out5)])  # fmt: skip
    assert res.exit_code == 0, res.output
    grids = _summary(out5)["grids"]
    assert [g["quantity"] for g in grids] == ["aerosol_index", "aerosol_index"]  # type: ignore[index]
    assert "pm25_values" not in grids[0]["files"]  # type: ignore[index]


def test_bad_credentials_give_one_clear_error(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BURNWATCH_SH_CLIENT_SECRET", "wrong")
    get_settings.cache_clear()
    res = CliRunner().invoke(cli, ["aerosol", "--aoi", AOI, "--start", "2024-03-01", "--end", "2024-03-02",
                                   "--out", str(tmp_path / "x")])  # fmt: skip
    assert res.exit_code != 0
    assert "wrong" not in res.output


def test_demo_with_wind_csv_model_and_hotspots(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from shapely.geometry import Point

    from burnwatch.aerosol.pm25 import CalibrationModel
    from burnwatch.publish.vector import write_hotspots
    from burnwatch.types import Hotspot

    wind = tmp_path / "wind.csv"
    wind.write_text("time,lon,lat,wind_dir_deg,wind_speed_ms\n2024-06-10T03:00:00Z,106.1,20.73,225,3\n")
    model = CalibrationModel(("ln_aod",), 4.0, (0.9,), 1.0, description="test model").save(
        tmp_path / "m.json"
    )
    hs = Hotspot(
        source="firms", sensor="VIIRS", algorithm="firms", time=datetime(2024, 6, 10, 6, tzinfo=timezone.utc),
        lon=106.10, lat=20.74, confidence=0.9, confidence_class="high", footprint=Point(106.10, 20.74).buffer(0.002),
    )  # fmt: skip
    hotspots = write_hotspots([hs], tmp_path / "fires.geojson")
    out = tmp_path / "demo"
    res = CliRunner().invoke(cli, ["aerosol", "run", "--source", "demo", "--out", str(out), "--wind", str(wind),
                                   "--model", str(model), "--hotspots", str(hotspots)])  # fmt: skip
    assert res.exit_code == 0, res.output
    (grid,) = _summary(out)["grids"]  # type: ignore[misc]
    assert grid["pm25_calibrated"] is True and "UNCALIBRATED" not in res.output
    incidents = grid["incidents"]
    assert len(incidents) == 10  # 9 demo fires + the supplied hotspot
    assert all(i["wind"]["source"] == "csv" and i["wind"]["from_deg"] == 225.0 for i in incidents)
    # the demo smoke blows to the south-west; assuming the opposite wind finds (almost) nothing
    assert sum(i["smoke"] for i in incidents) <= 2


def test_one_bad_day_is_reported_and_the_rest_goes_on(server: FakeServer, tmp_path: Path) -> None:
    def two_days(req: Request) -> Reply:
        items = [
            {"type": "Feature", "id": f"S2A_{d}", "properties": {
                "datetime": f"2024-03-{d}T03:35:12Z", "eo:cloud_cover": 5.0, "platform": "sentinel-2a"}}
            for d in (10, 12)
        ]  # fmt: skip
        return Reply.json(
            {"type": "FeatureCollection", "features": items, "links": [], "context": {"returned": 2}}
        )

    calls = {"n": 0}

    def flaky(req: Request) -> Reply:
        calls["n"] += 1
        return (
            Reply(200, b"this is not a tiff", content_type="image/tiff") if calls["n"] == 1 else _process(req)
        )

    server.add("POST", "/api/v1/catalog/1.0.0/search", two_days)
    server.add("POST", "/api/v1/process", flaky)
    out = tmp_path / "two"
    res = CliRunner().invoke(cli, ["aerosol", "--aoi", AOI, "--start", "2024-03-01", "--end", "2024-03-20",
                                   "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = _summary(out)
    assert len(summary["grids"]) == 1  # type: ignore[arg-type]
    assert len(summary["errors"]) == 1 and "not a GeoTIFF" in summary["errors"][0]  # type: ignore[index]
    assert "error:" in res.output
