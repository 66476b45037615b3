"""The embedded demo scene: deterministic, realistic ranges, truth consistent with the limits."""

from __future__ import annotations

import numpy as np
import pytest

from burnwatch.sources.synthetic import (
    COVER_CODES,
    DETECTION_LIMIT_M2,
    L1C_MAX,
    ROLES,
    SPECTRA,
    make_demo_scene,
)


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    return make_demo_scene()


def test_scene_shape_crs_and_place(demo) -> None:  # type: ignore[no-untyped-def]
    from burnwatch.georef.raster import xy_to_lonlat

    s = demo.scene
    assert s.shape == (1000, 1000) and s.pixel_size == (20.0, 20.0)
    assert s.crs == "EPSG:32648" and s.sensor == "MSI" and s.level == "toa"
    assert set(s.bands) == set(ROLES)
    assert all(a.dtype == np.float32 for a in s.bands.values())
    rows, cols = s.shape
    for r, c in ((0, 0), (rows, cols)):
        lon, lat = xy_to_lonlat(s.crs, *(s.transform @ (c, r)))
        assert 106.0 <= lon <= 106.3 and 20.5 <= lat <= 20.85
    assert s.sun_zenith is not None and 0 < s.sun_zenith < 60
    assert s.time.tzinfo is not None


def test_deterministic_per_seed() -> None:
    a = make_demo_scene(seed=3, size=300)
    b = make_demo_scene(seed=3, size=300)
    c = make_demo_scene(seed=4, size=300)
    for role in ROLES:
        assert np.array_equal(a.scene.bands[role], b.scene.bands[role])
    assert not np.array_equal(a.scene.bands["nir"], c.scene.bands["nir"])
    assert [(f.row, f.col, f.area_m2) for f in a.fires] == [(f.row, f.col, f.area_m2) for f in b.fires]


def test_land_cover_reflectances_are_realistic(demo) -> None:  # type: ignore[no-untyped-def]
    cover, bands = demo.land_cover, demo.scene.bands
    for name in ("growing_rice", "flooded_paddy", "stubble", "river", "built_up", "trees"):
        assert (cover == COVER_CODES[name]).sum() > 500, name
    rice = cover == COVER_CODES["growing_rice"]
    water = cover == COVER_CODES["river"]
    # vegetation: NIR >> red; water: NIR and SWIR dark; every land cover has B12 < B11
    assert np.median(bands["nir"][rice]) > 3 * np.median(bands["red"][rice])
    assert np.median(bands["swir1"][water]) < 0.05
    for name in SPECTRA:
        i11, i12 = ROLES.index("swir1"), ROLES.index("swir2")
        assert SPECTRA[name][i12] < SPECTRA[name][i11], name
    finite = np.stack([bands[r] for r in ROLES])
    assert np.isfinite(finite).all() and finite.min() > 0
    not_fire = np.ones(cover.shape, bool)
    for f in demo.fires + demo.static_sources:
        for r, c, _ in f.pixels:
            not_fire[r, c] = False
    assert finite[:, not_fire].max() < 1.0
    assert finite.max() <= L1C_MAX


def test_fires_truth_and_limits(demo) -> None:  # type: ignore[no-untyped-def]
    fires = demo.fires
    assert len(fires) >= 8
    assert {f.temperature_k for f in fires} >= {800.0, 1000.0, 1200.0}
    above = [f for f in fires if f.above_limit]
    below = [f for f in fires if f.above_limit is False]
    assert len(above) >= 5 and len(below) >= 2
    for f in fires:
        limit = DETECTION_LIMIT_M2.get(int(f.temperature_k))
        if limit is not None:
            assert f.above_limit == (f.area_m2 >= limit)
        assert sum(frac for _, _, frac in f.pixels) == pytest.approx(f.area_m2 / 400.0)
        assert 106.0 < f.lon < 106.3 and 20.5 < f.lat < 20.85
        # the injected pixel is hotter in B12 than B11 (the physical signature; equal if saturated)
        r, c, _ = f.pixels[0]
        if f.above_limit:
            assert demo.scene.bands["swir2"][r, c] >= demo.scene.bands["swir1"][r, c]
    assert len(demo.static_sources) == 2


def test_fire_free_variant_and_plume_hook() -> None:
    clean = make_demo_scene(size=300, with_fires=False)
    assert clean.fires == [] and clean.static_sources == []
    plume = make_demo_scene(size=300, with_plume=True)
    plain = make_demo_scene(size=300)
    assert plume.scene.metadata.get("plume") is True
    # smoke brightens the blue much more than the SWIR
    d_blue = float(np.mean(plume.scene.bands["blue"] - plain.scene.bands["blue"]))
    d_swir = float(np.mean(plume.scene.bands["swir2"] - plain.scene.bands["swir2"]))
    assert d_blue > 5 * max(d_swir, 1e-6)


def test_demo_exclusion_file(tmp_path, demo) -> None:  # type: ignore[no-untyped-def]
    import json

    from burnwatch.sources.synthetic import demo_exclusion_geojson

    path = demo_exclusion_geojson(demo, tmp_path / "kilns.geojson")
    data = json.loads(path.read_text())
    assert [f["properties"]["name"] for f in data["features"]] == ["brick-kiln-1", "brick-kiln-2"]
    assert data["features"][0]["geometry"]["type"] == "Point"



def test_every_size_from_the_minimum_has_fires_clear_of_decoys() -> None:
    # `burnwatch demo --size 200` (the CLI minimum) crashed: no stubble field was 40 px from
    # every village/decoy, so no fire was placed and the plume's max() had nothing to pick.
    for n in (200, 201, 250, 299, *range(203, 300, 12)):
        d = make_demo_scene(size=n, with_plume=True)
        assert d.scene.shape == (n, n) and d.scene.metadata.get("plume") is True, n
        assert d.fires and any(f.above_limit for f in d.fires), n
        busy = [(x.row0, x.col0, x.row1, x.col1) for x in d.decoys]
        busy += [(k.row, k.col, k.row + 1, k.col + 1) for k in d.static_sources]
        for f in d.fires:
            gap = min(max(r0 - f.row, f.row - r1 + 1, c0 - f.col, f.col - c1 + 1) for r0, c0, r1, c1 in busy)
            assert gap >= 5, (n, f.label, gap)  # beyond the 100 m (5 px) kiln exclusion buffer
