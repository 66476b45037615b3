"""Spectral active-fire detection: unit tests on tiny arrays, the demo scene, and real imagery."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from conftest import shared_file

from burnwatch.detect.firesim import FireSpec, etm_dn_to_reflectance, inject_fires
from burnwatch.detect.sentinel2_fire import BIOMES, hu_test
from burnwatch.detect.spectral import (
    HIGH,
    NOMINAL,
    choose_algorithm,
    contextual_test,
    detect_fires,
)
from burnwatch.errors import InputError
from burnwatch.georef.raster import fire_hotspots, xy_to_pixel
from burnwatch.types import Scene

T0 = datetime(2024, 6, 10, 3, 40, tzinfo=timezone.utc)


def _flat_scene(sensor: str, values: dict[str, float], n: int = 80, seed: int = 0) -> Scene:
    rng = np.random.default_rng(seed)
    bands = {r: (v * (1 + 0.02 * rng.standard_normal((n, n)))).astype(np.float32) for r, v in values.items()}
    return Scene("flat", "file", sensor, T0, "EPSG:32648", Affine(20, 0, 600_000, 0, -20, 2_300_000),
                 bands, sun_zenith=30.0)


S2_PADDY = {"blue": 0.09, "green": 0.1, "red": 0.06, "nir": 0.34, "nir_narrow": 0.35, "swir1": 0.19, "swir2": 0.095}
OLI_VEG = {"coastal": 0.1, "blue": 0.09, "green": 0.1, "red": 0.06, "nir": 0.34, "swir1": 0.19, "swir2": 0.095}


# --- contextual test (61x61) on tiny arrays -------------------------------------------------


def test_contextual_test_flags_only_anomalous_candidates() -> None:
    rng = np.random.default_rng(1)
    values = (0.10 + 0.005 * rng.standard_normal((90, 90))).astype(np.float32)
    values[45, 45] = 0.30  # strong anomaly
    values[20, 20] = 0.115  # within 3 sigma + floor: not anomalous
    candidates = np.zeros_like(values, dtype=bool)
    candidates[45, 45] = candidates[20, 20] = True
    background = ~candidates
    out = contextual_test(candidates, background, [(values, 0.05)])
    assert out[45, 45] and not out[20, 20]
    assert out.sum() == 1


def test_contextual_test_window_is_61_pixels_and_excludes_masked_background() -> None:
    values = np.full((121, 121), 0.1, np.float32)
    cand = np.zeros_like(values, dtype=bool)
    cand[60, 60] = True
    values[60, 60] = 0.2
    background = np.ones_like(cand)
    background[60, 60] = False
    # a bright ring just outside the 61x61 window does not matter ...
    ring = np.zeros_like(cand)
    ring[60 - 31, :] = ring[60 + 31, :] = ring[:, 60 - 31] = ring[:, 60 + 31] = True
    v2 = values.copy()
    v2[ring] = 5.0
    assert contextual_test(cand, background, [(v2, 0.05)])[60, 60]
    # ... but inside it raises the mean/std and kills the detection
    ring_in = np.zeros_like(cand)
    ring_in[60 - 30, :] = True
    v3 = values.copy()
    v3[ring_in] = 5.0
    assert not contextual_test(cand, background, [(v3, 0.05)])[60, 60]
    # unless those pixels are excluded from the background (e.g. water/cloud masks)
    assert contextual_test(cand, background & ~ring_in, [(v3, 0.05)])[60, 60]


def test_contextual_test_needs_enough_background() -> None:
    values = np.full((61, 61), 0.1, np.float32)
    values[30, 30] = 1.0
    cand = np.zeros_like(values, dtype=bool)
    cand[30, 30] = True
    background = np.zeros_like(cand)
    background[:5, :] = True  # 8 % of the window
    assert not contextual_test(cand, background, [(values, 0.05)]).any()


def test_contextual_test_blocks_agree_with_single_pass() -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(0.05, 0.2, (300, 300)).astype(np.float32)
    cand = rng.uniform(size=values.shape) > 0.995
    values[cand] += rng.uniform(0.0, 0.4, int(cand.sum())).astype(np.float32)
    bg = ~cand
    a = contextual_test(cand, bg, [(values, 0.05)], block=64)
    b = contextual_test(cand, bg, [(values, 0.05)], block=1000)
    assert np.array_equal(a, b)
    assert 0 < a.sum() < cand.sum()


# --- pixel tests -------------------------------------------------------------------------------


def test_hu_tropical_moist_boundary() -> None:
    crit = BIOMES["tropical_moist"]
    red = np.array([0.05, 0.05, 0.30, 0.05], np.float32)
    b11 = np.array([0.20, 0.30, 0.30, 0.10], np.float32)
    b12 = np.array([0.30, 0.25, 0.35, 0.09], np.float32)
    # fire-like; ratio < 1; red too bright (cloud/roof); too dark in B12
    assert hu_test(red, b11, b12, crit).tolist() == [True, False, False, False]


def test_s2_flat_background_has_no_fire_and_an_injected_fire_is_found() -> None:
    scene = _flat_scene("MSI", S2_PADDY)
    assert detect_fires(scene).fire_pixel_count == 0
    hot, _truth = inject_fires(scene, [FireSpec(1000.0, 20.0, row=40, col=40)])
    res = detect_fires(hot)
    assert res.algorithm == "hu2021-s2"
    assert res.confidence[40, 40] == HIGH
    assert res.fire_pixel_count == 1
    assert res.tests_run[0] == "hu2021_tropical_moist"


def test_s2_without_red_runs_swir_only_tests() -> None:
    values = {k: v for k, v in S2_PADDY.items() if k in ("swir1", "swir2")}
    scene = _flat_scene("MSI", values)
    hot, _ = inject_fires(scene, [FireSpec(1000.0, 20.0, row=40, col=40)])
    res = detect_fires(hot)
    assert not any(t.startswith("hu2021") for t in res.tests_run)
    assert "nsi" in res.tests_run and "contextual_61x61" in res.tests_run
    assert res.confidence[40, 40] >= NOMINAL
    assert res.fire_pixel_count == 1


def test_landsat_flat_background_and_injected_fire() -> None:
    scene = _flat_scene("OLI", OLI_VEG, n=70)
    base = detect_fires(scene)
    assert base.algorithm == "schroeder2016-hotmap" and base.fire_pixel_count == 0
    hot, _ = inject_fires(scene, [FireSpec(1000.0, 60.0, row=35, col=35), FireSpec(900.0, 4.0, row=10, col=60)])
    res = detect_fires(hot)
    assert res.confidence[35, 35] == HIGH  # unambiguous and HOTMAP
    assert res.confidence[10, 60] >= 1  # small fire: candidate + contextual (or HOTMAP)
    assert res.fire_pixel_count == 2
    assert "schroeder2016_contextual_61x61" in res.tests_run


def test_landsat_water_mask_marks_water() -> None:
    water = {"coastal": 0.12, "blue": 0.10, "green": 0.09, "red": 0.07, "nir": 0.05, "swir1": 0.03, "swir2": 0.02}
    res = detect_fires(_flat_scene("OLI", water, n=30))
    assert res.masks["water"].mean() > 0.5


def test_dispatch_and_errors() -> None:
    assert choose_algorithm(_flat_scene("MSI", S2_PADDY, n=5)) == "hu2021-s2"
    assert choose_algorithm(_flat_scene("ETM+", OLI_VEG, n=5)) == "schroeder2016-hotmap"
    with pytest.raises(InputError, match="no fire algorithm"):
        detect_fires(_flat_scene("XYZ", {"red": 0.1}, n=5))
    with pytest.raises(InputError, match="unknown fire algorithm"):
        detect_fires(_flat_scene("MSI", S2_PADDY, n=5), algorithm="magic")
    with pytest.raises(InputError, match=r"band role .blue. is required"):
        detect_fires(_flat_scene("OLI", {"red": 0.1, "swir2": 0.1}, n=5), algorithm="schroeder2016-hotmap")


def test_nan_pixels_are_never_fire() -> None:
    scene = _flat_scene("MSI", S2_PADDY)
    hot, _ = inject_fires(scene, [FireSpec(1000.0, 20.0, row=40, col=40)])
    hot.bands["swir1"][40, 40] = np.nan
    assert detect_fires(hot).confidence[40, 40] == 0


# --- the embedded demo scene --------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    from burnwatch.sources.synthetic import make_demo_scene

    return make_demo_scene(with_plume=True)  # as ``make demo`` runs it


def test_demo_finds_every_fire_above_limit_and_no_decoy(demo) -> None:  # type: ignore[no-untyped-def]
    from shapely.geometry import Point

    result = detect_fires(demo.scene)
    hotspots = fire_hotspots(demo.scene, result)
    above = [f for f in demo.fires if f.above_limit]
    assert len(above) >= 5 and any(not f.above_limit for f in demo.fires)
    for f in above:
        assert any(h.footprint_native.buffer(1.0).contains(Point(f.x, f.y)) for h in hotspots), f.label
    for d in demo.decoys:
        hits = [h for h in hotspots if h.footprint_native.intersects(d.footprint_native)]
        assert not hits, f"decoy {d.kind} at {d.lon:.4f},{d.lat:.4f} flagged"
    # every hotspot is an injected fire or a (real, static) kiln: no false alarm
    truth = demo.fires + demo.static_sources
    for h in hotspots:
        assert any(h.footprint_native.buffer(30.0).contains(Point(f.x, f.y)) for f in truth), h.attributes
    assert {d.kind for d in demo.decoys} == {"cloud", "cloud_shadow", "metal_roof", "glint"}


# --- real imagery ---------------------------------------------------------------------------------

#: Visible fire fronts in s2_bc_fire_20230514_preview.png (480x480 rendering of the 400x400
#: raster), read off the image and converted to raster (row, col) = preview (y, x) / 1.2.
BC_FRONTS = [(67, 283), (80, 287), (108, 161), (110, 242), (137, 270), (196, 275), (212, 250)]


def _read_bc(path: Path) -> Scene:
    import rasterio

    with rasterio.open(path) as src:
        data = src.read().astype(np.float32) / 10_000.0  # DN = reflectance x 10,000
        return Scene("s2_bc_20230514", "file", "MSI", datetime(2023, 5, 14, 19, 30, tzinfo=timezone.utc),
                     str(src.crs), src.transform, {"wv": data[0], "swir1": data[1], "swir2": data[2]},
                     metadata={"biome": "temperate_conifer"})


@pytest.mark.shared
def test_bc_sentinel2_fire_fronts_found(shared_dir: Path) -> None:
    scene = _read_bc(shared_file(shared_dir, "data/satellite/s2_bc_fire_20230514_b9_b11_b12.tif"))
    result = detect_fires(scene)
    assert "nsi" in result.tests_run and not any(t.startswith("hu2021") for t in result.tests_run)
    hotspots = fire_hotspots(scene, result)
    rows_cols = [xy_to_pixel(scene.transform, h.x, h.y) for h in hotspots]  # type: ignore[arg-type]
    for r, c in BC_FRONTS:
        near = [rc for rc in rows_cols if abs(rc[0] - r) <= 12 and abs(rc[1] - c) <= 12]
        assert near, f"no hotspot near visible fire front at row {r} col {c}"
    # plausibly sized: fronts are a few to ~100 pixels, the fire area a small part of the scene
    sizes = [h.pixel_count for h in hotspots]
    assert 5 <= len(hotspots) <= 60
    assert max(sizes) <= 200 and sum(sizes) < 0.01 * 400 * 400
    # nearly all hotspots lie in the part of the scene where fronts are visible
    inside = [rc for rc in rows_cols if 50 <= rc[0] <= 230 and 100 <= rc[1] <= 310]
    assert len(inside) >= 0.9 * len(rows_cols)
    assert all(h.crs == "EPSG:32610" and -124 < h.lon < -122 and 57 < h.lat < 59 for h in hotspots)


L7_FILES = {"blue": "10", "green": "20", "red": "30", "nir": "40", "swir1": "50", "swir2": "70"}
L7_GAINS = {"blue": "H", "green": "H", "red": "H", "nir": "L", "swir1": "H", "swir2": "H"}


@pytest.mark.shared
def test_landsat7_no_fire_scene_has_zero_hotspots(shared_dir: Path) -> None:
    import rasterio

    folder = shared_file(shared_dir, "data/satellite/landsat7_nofire")
    bands, saturation = {}, {}
    for role, code in L7_FILES.items():
        with rasterio.open(folder / f"lsat7_2000_{code}.tif") as src:
            dn = src.read(1).astype(np.float64)
            dn[dn == src.nodata] = 0.0
            crs, transform = str(src.crs), src.transform
        # DN -> TOA reflectance (assumed sun zenith 37°, 31 March 2000; see docs/detection.md)
        bands[role] = etm_dn_to_reflectance(dn, role, L7_GAINS[role], 37.0, 91)
        saturation[role] = float(etm_dn_to_reflectance(np.array([255.0]), role, L7_GAINS[role], 37.0, 91)[0])
    scene = Scene("lsat7_2000", "landsat", "ETM+", datetime(2000, 3, 31, 15, 30, tzinfo=timezone.utc), crs,
                  transform, bands, sun_zenith=37.0, metadata={"saturation": saturation})
    result = detect_fires(scene)
    assert result.algorithm == "schroeder2016-hotmap"
    assert fire_hotspots(scene, result) == []
    # and the same scene with one physically injected fire is not blind
    hot, _ = inject_fires(scene, [FireSpec(1000.0, 30.0, row=200, col=200)])
    bands = {k: np.minimum(v, saturation[k]) for k, v in hot.bands.items()}
    from dataclasses import replace

    assert len(fire_hotspots(hot, detect_fires(replace(hot, bands=bands)))) == 1
