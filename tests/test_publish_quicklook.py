"""Quicklooks: composites chosen by band role, percentile stretch, Web-Mercator placement."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from conftest import shared_file
from PIL import Image
from pyproj import Transformer

from burnwatch.errors import CRSError, InputError
from burnwatch.publish.cog import FIRE_CLASS_COLOURS
from burnwatch.publish.quicklook import (
    choose_composite,
    mask_overlay,
    mask_overlay_png,
    scene_quicklook,
    stretch,
)
from burnwatch.types import Scene

UTM48 = "EPSG:32648"
TRANSFORM = Affine(20.0, 0.0, 580000.0, 0.0, -20.0, 2330000.0)


def _scene(roles: tuple[str, ...], shape: tuple[int, int] = (300, 400), crs: str = UTM48,
           transform: Affine = TRANSFORM) -> Scene:
    rng = np.random.default_rng(5)
    bands = {r: (0.05 + 0.3 * rng.random(shape)).astype(np.float32) for r in roles}
    return Scene("T48QWJ_test", "demo", "MSI", datetime(2024, 3, 1, 3, 30, tzinfo=timezone.utc),
                 crs, transform, bands)


def _rgba(png: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG" and im.mode == "RGBA"
    return np.asarray(im)


def _to_merc(lon: float, lat: float) -> tuple[float, float]:
    return Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)


def test_composite_choice_by_band_role() -> None:
    assert choose_composite(_scene(("red", "green", "blue", "nir", "swir2"))) == ("red", "green", "blue")
    assert choose_composite(_scene(("red", "green", "blue", "nir", "swir2")), "false") == ("swir2", "nir", "red")
    # Sentinel-2 B9/B11/B12 only (the BC wildfire scene): SWIR false colour with the water-vapour NIR band
    assert choose_composite(_scene(("wv", "swir1", "swir2"))) == ("swir2", "swir1", "wv")
    assert choose_composite(_scene(("nir", "swir1", "swir2"))) == ("swir2", "swir1", "nir")
    with pytest.raises(InputError, match="no true colour composite"):
        choose_composite(_scene(("wv", "swir1", "swir2")), "true")
    with pytest.raises(InputError, match="T48QWJ_test"):
        choose_composite(_scene(("tir1",)))


def test_stretch_maps_percentiles_to_full_range_and_keeps_nan_transparent() -> None:
    band = np.linspace(0.0, 1.0, 101, dtype=np.float32)
    band[50] = np.nan
    out = stretch(band, (2.0, 98.0))
    assert out.dtype == np.uint8
    assert out[50] == 0
    assert out[0] == 1 and out[100] == 255 and out[:3].max() <= 2 and out[-3:].min() >= 254
    assert np.all(np.diff(out[np.arange(101) != 50].astype(int)) >= 0)  # monotonic
    assert (stretch(np.full(10, 0.2, np.float32)) == 1).all()  # constant band: no division by zero


def test_true_colour_quicklook_places_image_at_scene_bounds() -> None:
    scene = _scene(("red", "green", "blue"))
    scene.bands["red"][:10, :] = np.nan  # invalid in one band -> transparent
    ov = scene_quicklook(scene)
    assert ov.bands == ("red", "green", "blue") and "true colour" in ov.name
    assert ov.filename == "T48QWJ_test_quicklook.png"
    rgba = _rgba(ov.png)
    # scene corners in WGS84 must lie inside (and close to) the overlay bounds
    to_wgs = Transformer.from_crs(UTM48, 4326, always_xy=True)
    xs = [580000.0, 580000.0 + 400 * 20, 580000.0, 580000.0 + 400 * 20]
    ys = [2330000.0, 2330000.0, 2330000.0 - 300 * 20, 2330000.0 - 300 * 20]
    lons, lats = to_wgs.transform(xs, ys)
    min_lon, min_lat, max_lon, max_lat = ov.bounds
    assert min_lon <= min(lons) + 1e-9 and max(lons) <= max_lon + 1e-9
    assert min_lat <= min(lats) + 1e-9 and max(lats) <= max_lat + 1e-9
    assert max_lon - max(lons) < 0.001 and min(lats) - min_lat < 0.001  # within ~100 m
    # top rows (NaN red band) transparent, interior opaque
    h, w = rgba.shape[:2]
    assert rgba[1, w // 2, 3] == 0
    assert rgba[h // 2, w // 2, 3] == 255


def test_false_colour_and_downsampling() -> None:
    scene = _scene(("wv", "swir1", "swir2"), shape=(900, 600))
    ov = scene_quicklook(scene, max_size=300)
    assert ov.bands == ("swir2", "swir1", "wv") and "false colour" in ov.name
    rgba = _rgba(ov.png)
    assert max(rgba.shape[:2]) <= 330  # ~300 px plus the Mercator warp margin


def test_mask_overlay_pixel_lands_on_its_ground_position() -> None:
    """One high-confidence pixel must appear where it is on the ground (within one pixel)."""
    classes = np.zeros((300, 400), np.uint8)
    row, col = 123, 271
    classes[row, col] = 3
    ov = mask_overlay(classes, TRANSFORM, UTM48)
    rgba = _rgba(ov.png)
    ys, xs = np.nonzero(rgba[..., 3])
    assert len(ys) >= 1
    assert tuple(rgba[ys[0], xs[0]]) == FIRE_CLASS_COLOURS[3]
    h, w = rgba.shape[:2]
    west, south = _to_merc(ov.bounds[0], ov.bounds[1])
    east, north = _to_merc(ov.bounds[2], ov.bounds[3])
    mx = west + (xs.mean() + 0.5) * (east - west) / w
    my = north - (ys.mean() + 0.5) * (north - south) / h
    cx, cy = TRANSFORM @ (col + 0.5, row + 0.5)
    lon, lat = Transformer.from_crs(UTM48, 4326, always_xy=True).transform(cx, cy)
    tx, ty = _to_merc(lon, lat)
    scale = np.cos(np.radians(lat))  # Mercator metres -> ground metres
    assert np.hypot(mx - tx, my - ty) * scale < 25.0


def test_mask_overlay_keeps_single_fire_pixels_when_downsampled() -> None:
    classes = np.zeros((2000, 1000), np.uint8)
    classes[1001, 333] = 2
    classes[5, 5] = 1
    ov = mask_overlay(classes, TRANSFORM, UTM48, max_size=200)
    rgba = _rgba(ov.png)
    colours = {tuple(c) for c in rgba[rgba[..., 3] > 0]}
    assert colours == {FIRE_CLASS_COLOURS[2], FIRE_CLASS_COLOURS[1]}


def test_mask_overlay_png_is_transparent_where_zero() -> None:
    classes = np.array([[0, 1], [2, 3]], np.uint8)
    rgba = _rgba(mask_overlay_png(classes))
    assert rgba[0, 0, 3] == 0
    assert [tuple(rgba[0, 1]), tuple(rgba[1, 0]), tuple(rgba[1, 1])] == [
        FIRE_CLASS_COLOURS[1], FIRE_CLASS_COLOURS[2], FIRE_CLASS_COLOURS[3]]
    with pytest.raises(InputError, match="uint8"):
        mask_overlay_png(classes.astype(np.float32))


def test_bad_inputs() -> None:
    scene = _scene(("red", "green", "blue"))
    for band in scene.bands.values():
        band[:] = np.nan
    with pytest.raises(InputError, match="no valid pixels"):
        scene_quicklook(scene)
    with pytest.raises(InputError, match="cannot show"):
        scene_quicklook(_scene(("red", "green", "blue")), bands=("red", "nir", "blue"))
    with pytest.raises(CRSError):
        mask_overlay(np.zeros((4, 4), np.uint8), TRANSFORM, "EPSG:999999")


@pytest.mark.shared
def test_real_sentinel2_swir_only_scene(shared_dir: Path) -> None:
    """The BC wildfire scene has B9, B11, B12 only (no B4): SWIR false colour, fires bright red."""
    import rasterio

    path = shared_file(shared_dir, "data/satellite/s2_bc_fire_20230514_b9_b11_b12.tif")
    with rasterio.open(path) as ds:
        dn = ds.read().astype(np.float32)
        scene = Scene("S2_BC_20230514", "file", "MSI", datetime(2023, 5, 14, 19, 0, tzinfo=timezone.utc),
                      ds.crs.to_string(), ds.transform,
                      {"wv": dn[0] / 1e4, "swir1": dn[1] / 1e4, "swir2": dn[2] / 1e4})
        bounds = ds.bounds
    ov = scene_quicklook(scene)
    assert ov.bands == ("swir2", "swir1", "wv")
    lon0, lat0 = Transformer.from_crs(scene.crs, 4326, always_xy=True).transform(
        (bounds.left + bounds.right) / 2, (bounds.top + bounds.bottom) / 2)
    assert ov.bounds[0] < lon0 < ov.bounds[2] and ov.bounds[1] < lat0 < ov.bounds[3]
    assert -124 < lon0 < -122 and 57 < lat0 < 59  # north-east British Columbia
    rgba = _rgba(ov.png)
    opaque = rgba[rgba[..., 3] == 255]
    assert len(opaque) > 0.8 * 400 * 400 * 0.8
    # active fire fronts: saturated SWIR-2 with SWIR-2 >> SWIR-1 -> strongly red pixels exist
    red = (opaque[:, 0] == 255) & (opaque[:, 0].astype(int) - opaque[:, 2] > 100)
    assert red.sum() > 20
