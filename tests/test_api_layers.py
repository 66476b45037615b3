"""Raster layers rendered from COGs to PNG overlays, and the ``serve`` command."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from apifixtures import ApiEnv, sqlite_api_fixture  # noqa: F401
from dbfixtures import _fast_password_hashing, sqlite_template  # noqa: F401
from PIL import Image
from pyproj import Transformer


def _write_layers(folder) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from burnwatch.publish.cog import write_cog

    folder.mkdir(parents=True, exist_ok=True)
    # a 200 x 200 fire mask at 20 m in UTM 48N near Hưng Yên, fire in the NE quarter
    x0, y0 = Transformer.from_crs(4326, 32648, always_xy=True).transform(106.0, 20.7)
    mask = np.zeros((200, 200), np.uint8)
    mask[:100, 100:] = 1
    write_cog(
        folder / "fire_mask_20240301.tif", mask, Affine(20, 0, x0, 0, -20, y0), "EPSG:32648", nodata=255
    )
    pm = np.linspace(10, 150, 100 * 100, dtype=np.float32).reshape(100, 100)
    pm[0, 0] = np.nan
    write_cog(
        folder / "pm25_20240301.tif", pm, Affine(0.01, 0, 105.5, 0, -0.01, 21.5), "EPSG:4326", nodata=np.nan
    )
    (folder / "notes.txt").write_text("not a layer")
    return x0, y0


def test_raster_layers_are_listed_and_rendered(sqlite_api: ApiEnv) -> None:
    _write_layers(sqlite_api.settings.data_dir / "layers")
    h = sqlite_api.headers("viewer")
    layers = sqlite_api.client.get("/api/layers", headers=h).json()
    assert [(lyr["name"], lyr["kind"]) for lyr in layers] == [
        ("fire_mask_20240301.tif", "fire"),
        ("pm25_20240301.tif", "pm25"),
    ]
    (s, w), (n, e) = layers[0]["bounds"]
    assert w == pytest.approx(106.0, abs=0.002) and n == pytest.approx(20.7, abs=0.002)
    assert e - w == pytest.approx(4000 / 104_000, rel=0.05) and n - s == pytest.approx(
        4000 / 110_700, rel=0.05
    )
    png = sqlite_api.client.get(layers[0]["url"], headers=h)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    img = np.asarray(Image.open(io.BytesIO(png.content)))
    assert img.shape[2] == 4
    hh, ww = img.shape[:2]
    # fire drawn red in the north-east quarter only, transparent elsewhere
    assert img[hh // 4, 3 * ww // 4, 3] > 0 and img[hh // 4, 3 * ww // 4, 0] > 200
    assert img[3 * hh // 4, ww // 4, 3] == 0
    pm = np.asarray(Image.open(io.BytesIO(sqlite_api.client.get(layers[1]["url"], headers=h).content)))
    assert pm[0, 0, 3] == 0 and pm[50, 50, 3] > 0  # NaN transparent, data coloured
    assert sqlite_api.client.get("/api/layers/notes.txt.png", headers=h).status_code == 404


def test_corrupt_layer_is_a_clear_error(sqlite_api: ApiEnv) -> None:
    folder = sqlite_api.settings.data_dir / "layers"
    folder.mkdir(parents=True)
    (folder / "aod_broken.tif").write_bytes(b"II*\0 not really a tiff")
    r = sqlite_api.client.get("/api/layers", headers=sqlite_api.headers("analyst"))
    assert r.status_code == 422
    assert "aod_broken.tif" in r.json()["detail"]


def test_serve_help() -> None:
    from click.testing import CliRunner

    from burnwatch.cli.main import cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output


def test_content_security_policy_allows_only_this_server_and_the_basemap() -> None:
    from burnwatch.api.app import content_security_policy

    offline = content_security_policy(None)
    assert "script-src 'self';" in offline and "img-src 'self' data: blob:;" in offline
    online = content_security_policy("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://*.tile.openstreetmap.org;" in online


def test_serve_freezes_its_start_up_objects(tmp_path: Path) -> None:
    """``burnwatch serve`` (``freeze_gc``) moves start-up objects out of the collector's reach."""
    import gc

    from fastapi.testclient import TestClient

    from burnwatch.api import create_app
    from burnwatch.config import load_settings

    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", data_dir=str(tmp_path))
    gc.unfreeze()
    try:
        with TestClient(create_app(settings, detector_factory=None, flight_workers=0)):
            assert gc.get_freeze_count() == 0
        with TestClient(create_app(settings, detector_factory=None, flight_workers=0, freeze_gc=True)):
            assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
