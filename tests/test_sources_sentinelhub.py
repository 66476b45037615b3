"""Sentinel Hub Catalog + Process API end to end through the real sentinelhub package,
against a local server that serves OAuth tokens, STAC search results and GeoTIFFs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fakeserver import FakeServer, Reply, Request
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds

from burnwatch.config import Settings, load_settings
from burnwatch.errors import AuthError, ConfigError, InputError, NoDataError, SourceError
from burnwatch.sources.base import SceneSource, parse_aoi
from burnwatch.sources.sentinelhub import SentinelHubSource, evalscript, fetch_bands, search_catalog, utm_grid

AOI_TEXT = "105.90,20.95,105.95,21.00"  # ~5 x 5.5 km near Hanoi, UTM 48N
CLIENT_ID, SECRET = "burnwatch-test", "s3cr3t-value-never-logged"


@pytest.fixture(autouse=True)
def _fresh_sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the local token URL is http://
    SentinelHubDownloadClient.clear_cache()
    yield
    SentinelHubDownloadClient.clear_cache()


def _settings(server: FakeServer, tmp_path: Path, secret: str = SECRET) -> Settings:
    return load_settings(
        sh_client_id=CLIENT_ID,
        sh_client_secret=secret,
        sh_base_url=server.url,
        sh_token_url=server.url + "/oauth/token",
        cache_dir=tmp_path / "cache",
        http_retries=2,
        http_backoff_s=0.01,
        http_timeout_s=10,
    )


def _token(req: Request) -> Reply:
    form = req.form()
    if form.get("client_id") == [CLIENT_ID] and form.get("client_secret") == [SECRET]:
        return Reply.json(
            {"access_token": "header.eyJhenAiOiAidGVzdCJ9.sig", "token_type": "Bearer", "expires_in": 3600}
        )
    return Reply.json(
        {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}, 401
    )


def _catalog(features: list[dict[str, object]]) -> Reply:
    return Reply.json(
        {
            "type": "FeatureCollection",
            "features": features,
            "links": [],
            "context": {"limit": 100, "returned": len(features)},
        }
    )


def _item(item_id: str, when: str, cloud: float, platform: str = "sentinel-2a") -> dict[str, object]:
    return {
        "type": "Feature",
        "id": item_id,
        "properties": {"datetime": when, "eo:cloud_cover": cloud, "platform": platform},
    }


def _process(req: Request) -> Reply:
    """Build the GeoTIFF a real Process API would return for this payload."""
    payload = req.json()
    assert req.headers.get("Authorization", "").startswith("Bearer ")
    out = payload["output"]
    width, height = out["width"], out["height"]
    bounds = payload["input"]["bounds"]
    epsg = int(bounds["properties"]["crs"].rsplit("/", 1)[1])
    minx, miny, maxx, maxy = bounds["bbox"]
    nbands = int(re.search(r"bands: (\d+), sampleType: 'FLOAT32'", payload["evalscript"]).group(1))
    data = np.empty((nbands, height, width), np.float32)
    for i in range(nbands - 1):
        data[i] = 0.01 * (i + 1)
    data[-1] = 1.0
    data[-1, 0, 0] = 0.0  # one pixel outside the data
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff",
            width=width,
            height=height,
            count=nbands,
            dtype="float32",
            crs=f"EPSG:{epsg}",
            transform=from_bounds(minx, miny, maxx, maxy, width, height),
        ) as ds:
            ds.write(data)
        body = mem.read()
    return Reply(200, body, content_type="image/tiff")


def _server(catalog: Reply | None = None) -> FakeServer:
    server = FakeServer()
    server.add("POST", "/oauth/token", _token)
    server.add(
        "POST",
        "/api/v1/catalog/1.0.0/search",
        catalog or _catalog([_item("S2A_1", "2024-03-10T03:35:12Z", 12.5)]),
    )
    server.add("POST", "/api/v1/process", _process)
    return server


START, END = datetime(2024, 3, 1, tzinfo=timezone.utc), datetime(2024, 3, 20, tzinfo=timezone.utc)


def test_scenes_end_to_end_with_cache(tmp_path: Path) -> None:
    catalog = _catalog(
        [
            _item("S2A_1", "2024-03-10T03:35:12Z", 12.5),
            _item("S2B_2", "2024-03-15T03:35:10Z", 85.0, "sentinel-2b"),  # too cloudy
            _item("S2B_3", "2024-03-18T03:35:09Z", 5.0, "sentinel-2b"),
        ]
    )
    with _server(catalog) as server:
        src = SentinelHubSource("sentinel2-l1c", _settings(server, tmp_path), resolution_m=20, max_cloud=60)
        assert isinstance(src, SceneSource)
        scenes = list(src.scenes(parse_aoi(AOI_TEXT), START, END))
        again = list(src.scenes(parse_aoi(AOI_TEXT), START, END))
        process_calls = server.count("POST", "/api/v1/process")
        payload = next(r for r in server.requests if r.path == "/api/v1/process").json()
        search = next(r for r in server.requests if r.path.endswith("/search")).json()
    assert process_calls == 2  # two dates; the repeated scan came from the disk cache
    assert [s.time for s in scenes] == [
        datetime(2024, 3, 10, 3, 35, 12, tzinfo=timezone.utc),
        datetime(2024, 3, 18, 3, 35, 9, tzinfo=timezone.utc),
    ]
    assert [s.metadata["cached"] for s in again] == [True, True]
    assert [s.metadata["request_sha256"] for s in again] == [s.metadata["request_sha256"] for s in scenes]
    first = scenes[0]
    assert (first.source, first.sensor, first.level, first.cloud_cover) == ("sentinel2", "MSI", "toa", 12.5)
    assert scenes[1].sensor == "MSI" and scenes[1].metadata["sensor_key"] == "S2B"
    assert scenes[1].metadata["platform"] == "sentinel-2b"
    assert first.crs == "EPSG:32648" and first.pixel_size == (20.0, 20.0)
    assert set(first.bands) == {"blue", "green", "red", "nir", "nir_narrow", "wv", "swir1", "swir2"}
    # evalscript order B02,B03,B04,B08,B8A,B09,B11,B12,sunZ,sunA,dataMask -> 0.01..0.10
    assert first.bands["blue"][5, 5] == pytest.approx(0.01)
    assert first.bands["swir2"][5, 5] == pytest.approx(0.08)
    assert np.isnan(first.bands["swir2"][0, 0])  # dataMask 0
    assert first.sun_zenith == pytest.approx(0.09) and first.sun_azimuth == pytest.approx(0.10)
    # what was asked of the real APIs
    assert search["collections"] == ["sentinel-2-l1c"] and search["bbox"] == pytest.approx(
        [105.90, 20.95, 105.95, 21.00]
    )
    assert payload["input"]["data"][0]["type"] == "sentinel-2-l1c"
    assert payload["input"]["bounds"]["properties"]["crs"].endswith("/EPSG/0/32648")
    assert payload["input"]["data"][0]["dataFilter"]["timeRange"]["from"].startswith("2024-03-10T00:00:00")
    assert "sampleType: 'FLOAT32'" in payload["evalscript"] and '"B8A"' in payload["evalscript"]
    assert payload["output"]["responses"] == [{"identifier": "default", "format": {"type": "image/tiff"}}]


def test_landsat_collection_roles(tmp_path: Path) -> None:
    with _server(_catalog([_item("LC09_1", "2024-03-12T03:20:00Z", 3.0, "landsat-9")])) as server:
        src = SentinelHubSource("landsat-ot-l1", _settings(server, tmp_path), resolution_m=30)
        (scene,) = list(src.scenes(parse_aoi(AOI_TEXT), START, END))
        payload = next(r for r in server.requests if r.path == "/api/v1/process").json()
    assert (
        scene.source == "landsat"
        and scene.sensor == "OLI"
        and scene.metadata["sensor_key"] == "OLI-2"
        and scene.pixel_size == (30.0, 30.0)
    )
    assert set(scene.bands) == {"coastal", "blue", "green", "red", "nir", "swir1", "swir2"}
    assert scene.bands["swir2"][3, 3] == pytest.approx(0.07)  # B07 is the 7th band
    assert '"SZA"' in payload["evalscript"] and payload["input"]["data"][0]["type"] == "landsat-ot-l1"


def test_process_429_then_success(tmp_path: Path) -> None:
    with _server() as server:
        # Sentinel Hub sends Retry-After in milliseconds
        server.add(
            "POST", "/api/v1/process", [Reply.text("Too many requests", 429, {"Retry-After": "20"}), _process]
        )
        scene = fetch_bands(
            "sentinel2-l2a",
            ["AOT"],
            parse_aoi(AOI_TEXT),
            datetime(2024, 3, 10),
            20,
            settings=_settings(server, tmp_path),
        )
        assert server.count("POST", "/api/v1/process") == 2
    assert scene.bands["AOT"][2, 2] == pytest.approx(0.01)
    assert scene.metadata["request_sha256"] and scene.crs == "EPSG:32648"


def test_process_500_exhausts_retries_with_clear_error(tmp_path: Path) -> None:
    with _server() as server:
        server.add(
            "POST",
            "/api/v1/process",
            Reply.json(
                {"error": {"status": 500, "reason": "Internal Server Error", "message": "backend exploded"}},
                500,
            ),
        )
        settings = _settings(server, tmp_path)
        with pytest.raises(SourceError) as info:
            fetch_bands(
                "sentinel2-l1c", ["B12"], parse_aoi(AOI_TEXT), datetime(2024, 3, 10), 20, settings=settings
            )
        assert server.count("POST", "/api/v1/process") == 3  # http_retries=2 -> 3 attempts
        message = str(info.value)
        assert "HTTP 500" in message and "/api/v1/process" in message and "backend exploded" in message
        # the scan keeps going and reports the failed day instead of dying
        src = SentinelHubSource("sentinel2-l1c", settings)
        assert list(src.scenes(parse_aoi(AOI_TEXT), START, END)) == []
        assert len(src.errors) == 1 and isinstance(src.errors[0], SourceError)
    assert SECRET not in message


def test_bad_credentials_are_auth_error(tmp_path: Path) -> None:
    with _server() as server:
        src = SentinelHubSource("sentinel2-l1c", _settings(server, tmp_path, secret="wrong"))
        with pytest.raises(AuthError, match="rejected the credentials"):
            list(src.scenes(parse_aoi(AOI_TEXT), START, END))
        assert server.count("POST", "/api/v1/process") == 0


def test_process_401_is_auth_error(tmp_path: Path) -> None:
    with _server() as server:
        server.add(
            "POST",
            "/api/v1/process",
            Reply.json({"error": {"status": 401, "reason": "Unauthorized", "message": "token expired"}}, 401),
        )
        with pytest.raises(AuthError):
            fetch_bands(
                "sentinel2-l1c",
                ["B12"],
                parse_aoi(AOI_TEXT),
                datetime(2024, 3, 10),
                20,
                settings=_settings(server, tmp_path),
            )


def test_empty_catalog_is_no_data_error(tmp_path: Path) -> None:
    with _server(_catalog([])) as server:
        src = SentinelHubSource("sentinel2-l2a", _settings(server, tmp_path))
        with pytest.raises(NoDataError, match="no acquisitions"):
            list(src.scenes(parse_aoi(AOI_TEXT), START, END))
        items = search_catalog(
            "sentinel2-l2a", parse_aoi(AOI_TEXT), START, END, settings=_settings(server, tmp_path)
        )
    assert items == []


def test_missing_credentials_and_bad_inputs(tmp_path: Path) -> None:
    settings = load_settings(sh_client_id=None, sh_client_secret=None, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="BURNWATCH_SH_CLIENT_ID"):
        list(SentinelHubSource("sentinel2-l1c", settings).scenes(parse_aoi(AOI_TEXT), START, END))
    with pytest.raises(InputError, match="unknown collection"):
        SentinelHubSource("sentinel1")
    with pytest.raises(InputError, match="px per band"):
        utm_grid(parse_aoi("102,8,109,23"), 20)


def test_utm_grid_snaps_to_pixels_and_evalscript_lists_bands() -> None:
    crs, bbox, (w, h) = utm_grid(parse_aoi(AOI_TEXT), 20)
    assert crs == "EPSG:32648"
    assert all(v % 20 == 0 for v in bbox)
    assert (w, h) == (round((bbox[2] - bbox[0]) / 20), round((bbox[3] - bbox[1]) / 20))
    script = evalscript(["AER_AI_340_380"], ["INDEX"])
    assert '"AER_AI_340_380", "dataMask"' in script and '["INDEX", "DN"]' in script and "bands: 2" in script
    json.dumps(script)  # plain text, serialisable into the request body
    assert rasterio.__version__  # rasterio decodes the responses


def test_persistent_429_and_catalog_500_end_in_source_error(tmp_path: Path) -> None:
    with _server() as server:
        server.add("POST", "/api/v1/process", Reply.text("Too many requests", 429, {"Retry-After": "5"}))
        settings = _settings(server, tmp_path)
        with pytest.raises(SourceError, match=r"rate limited \(HTTP 429\)"):
            fetch_bands(
                "sentinel2-l1c", ["B12"], parse_aoi(AOI_TEXT), datetime(2024, 3, 10), 20, settings=settings
            )
        assert server.count("POST", "/api/v1/process") == 3  # max_retries = http_retries + 1
        server.add("POST", "/api/v1/catalog/1.0.0/search", Reply.text("oops", 503))
        with pytest.raises(SourceError, match="HTTP 503") as info:
            list(SentinelHubSource("sentinel2-l1c", settings).scenes(parse_aoi(AOI_TEXT), START, END))
        assert not isinstance(info.value, NoDataError)
        assert server.count("POST", "/api/v1/catalog/1.0.0/search") == 3


def _process_xy(req: Request) -> Reply:
    """A Process API answer whose first band is each pixel's x centre, the second its y centre."""
    payload = req.json()
    width, height = payload["output"]["width"], payload["output"]["height"]
    bounds = payload["input"]["bounds"]
    minx, miny, maxx, maxy = bounds["bbox"]
    transform = from_bounds(minx, miny, maxx, maxy, width, height)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    data = np.ones((3, height, width), np.float32)
    data[0] = transform.c + cols * transform.a
    data[1] = transform.f + rows * transform.e
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff",
            width=width,
            height=height,
            count=3,
            dtype="float32",
            crs=bounds["properties"]["crs"].rsplit("/", 1)[1].join(["EPSG:", ""]),
            transform=transform,
        ) as ds:
            ds.write(data)
        return Reply(200, mem.read(), content_type="image/tiff")


def test_large_grids_are_fetched_in_tiles_and_assembled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import burnwatch.sources.sentinelhub as sh

    monkeypatch.setattr(sh, "MAX_TILE_PX", 100)
    crs, _bbox, (w, h) = utm_grid(parse_aoi(AOI_TEXT), 20)
    assert w > 200 and h > 200  # at least 3 x 3 tiles
    with _server() as server:
        server.add("POST", "/api/v1/process", _process_xy)
        settings = _settings(server, tmp_path)
        scene = fetch_bands(
            "sentinel2-l1c", ["X", "Y"], parse_aoi(AOI_TEXT), datetime(2024, 3, 10), 20, settings=settings
        )
        n_tiles = server.count("POST", "/api/v1/process")
        again = fetch_bands(
            "sentinel2-l1c", ["X", "Y"], parse_aoi(AOI_TEXT), datetime(2024, 3, 10), 20, settings=settings
        )
        assert server.count("POST", "/api/v1/process") == n_tiles  # every tile came from the cache
    assert n_tiles == -(-w // 100) * -(-h // 100)
    assert scene.shape == (h, w) and scene.crs == crs
    t = scene.transform
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    assert np.array_equal(scene.bands["X"], (t.c + cols * t.a).astype(np.float32))
    assert np.array_equal(scene.bands["Y"], (t.f + rows * t.e).astype(np.float32))
    assert (
        again.metadata["cached"] is True
        and again.metadata["request_sha256"] == scene.metadata["request_sha256"]
    )


@given(
    width=st.integers(1, 700),
    height=st.integers(1, 700),
    tile=st.integers(50, 300),
    res=st.sampled_from([10.0, 20.0, 30.0, 60.0]),
)
@settings(max_examples=60, deadline=None)
def test_grid_tiles_partition_the_grid(width: int, height: int, tile: int, res: float) -> None:
    from burnwatch.sources.sentinelhub import grid_tiles

    bbox = (500000.0, 2300000.0, 500000.0 + width * res, 2300000.0 + height * res)
    covered = np.zeros((height, width), np.int32)
    for row0, col0, (x0, y0, x1, y1), (tw, th) in grid_tiles(bbox, (width, height), res, tile):
        assert 1 <= tw <= tile and 1 <= th <= tile
        assert (x1 - x0, y1 - y0) == pytest.approx((tw * res, th * res))
        assert x0 == pytest.approx(bbox[0] + col0 * res) and y1 == pytest.approx(bbox[3] - row0 * res)
        covered[row0 : row0 + th, col0 : col0 + tw] += 1
    assert (covered == 1).all()


def test_malformed_catalog_feature_is_source_error(tmp_path: Path) -> None:
    bad = _catalog([{"type": "Feature", "id": "x", "properties": {"eo:cloud_cover": 3}}])
    with _server(bad) as server, pytest.raises(SourceError, match="malformed feature"):
        search_catalog("sentinel2-l1c", parse_aoi(AOI_TEXT), START, END, settings=_settings(server, tmp_path))
