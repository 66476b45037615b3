"""Fire-injection simulator: Planck physics, reflectance conversion, injection bookkeeping."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import numpy as np
import pytest
from affine import Affine

from burnwatch.detect import firesim
from burnwatch.detect.firesim import (
    FireSpec,
    etm_dn_to_reflectance,
    fire_reflectance,
    inject_fire,
    inject_fires,
    planck_radiance,
)
from burnwatch.errors import InputError
from burnwatch.types import Scene


def _scene(sensor: str = "MSI", value: float = 0.1, n: int = 20, sun_zenith: float | None = 30.0) -> Scene:
    roles = ("red", "nir", "swir1", "swir2")
    return Scene(
        scene_id="t",
        source="demo",
        sensor=sensor,
        time=datetime(2024, 6, 10, 3, 40, tzinfo=timezone.utc),
        crs="EPSG:32648",
        transform=Affine(20.0, 0, 600_000.0, 0, -20.0, 2_300_000.0),
        bands={r: np.full((n, n), value, np.float32) for r in roles},
        sun_zenith=sun_zenith,
    )


def test_planck_known_values() -> None:
    # 300 K at 10 µm: 9.924 W m-2 sr-1 µm-1 (e.g. SpectralCalc blackbody calculator)
    assert float(planck_radiance(10.0, 300.0)) == pytest.approx(9.924, rel=1e-3)
    # Wien's displacement law: peak at 2897.77 µm K / T
    lam = np.linspace(1.0, 6.0, 50001)
    peak = lam[np.argmax(planck_radiance(lam, 1000.0))]
    assert peak == pytest.approx(2.89777, abs=2e-4)
    # Stefan-Boltzmann: ∫ π B dλ = σ T⁴
    lam = np.linspace(0.2, 200.0, 400001)
    total = np.trapezoid(np.pi * planck_radiance(lam, 1000.0), lam)
    assert total == pytest.approx(5.670374e-8 * 1000.0**4, rel=2e-3)


def test_planck_rejects_nonpositive_temperature() -> None:
    with pytest.raises(InputError):
        planck_radiance(2.2, 0.0)


def test_fire_reflectance_monotonic_in_temperature_and_wavelength_ratio() -> None:
    temps = [600.0, 800.0, 1000.0, 1200.0, 1500.0]
    b12 = [fire_reflectance("MSI", "swir2", t, 30.0) for t in temps]
    b11 = [fire_reflectance("MSI", "swir1", t, 30.0) for t in temps]
    assert all(a < b for a, b in itertools.pairwise(b12))
    assert all(a < b for a, b in itertools.pairwise(b11))
    # a cool fire is far brighter (in reflectance) at 2.2 than at 1.6 µm: why B12/B11 works
    assert b12[1] / b11[1] > 4.0
    # higher sun (smaller zenith) -> smaller reflectance for the same radiance
    assert fire_reflectance("MSI", "swir2", 1000.0, 60.0) > fire_reflectance("MSI", "swir2", 1000.0, 10.0)
    assert fire_reflectance("MSI", "tir1", 1000.0, 30.0) == 0.0


def test_injection_increases_with_area_and_temperature() -> None:
    base = _scene()
    values = []
    for area in (0.1, 1.0, 10.0, 100.0):
        s = inject_fire(base, temperature_k=900.0, area_m2=area, row=10, col=10)
        values.append(float(s.bands["swir2"][10, 10]))
    assert all(a < b for a, b in itertools.pairwise(values))
    hot = [float(inject_fire(base, temperature_k=t, area_m2=5.0, row=10, col=10).bands["swir2"][10, 10])
           for t in (700.0, 900.0, 1100.0)]
    assert hot[0] < hot[1] < hot[2]
    # the input scene is untouched
    assert float(base.bands["swir2"][10, 10]) == pytest.approx(0.1)


def test_injection_mixes_background_by_fraction() -> None:
    base = _scene(value=0.2)
    area = 40.0  # f = 0.1 of a 400 m² pixel
    s = inject_fire(base, temperature_k=1000.0, area_m2=area, row=3, col=4)
    d = firesim.earth_sun_distance_au(s.time.timetuple().tm_yday)
    expected = 0.9 * 0.2 + 0.1 * fire_reflectance("MSI", "swir2", 1000.0, 30.0, d)
    assert float(s.bands["swir2"][3, 4]) == pytest.approx(expected, rel=1e-5)
    # neighbours unchanged
    assert float(s.bands["swir2"][3, 5]) == pytest.approx(0.2)


def test_large_fire_fills_whole_pixels_then_a_fraction() -> None:
    base = _scene()
    scene, truth = inject_fires(base, [FireSpec(1000.0, 1000.0, row=10, col=10)])
    pixels = truth[0].pixels
    assert sum(f for _, _, f in pixels) == pytest.approx(1000.0 / 400.0)
    assert [f for _, _, f in pixels][:2] == [1.0, 1.0]
    assert pixels[0][:2] == (10, 10)
    assert len(pixels) == 3
    # whole fire pixels all carry the same (pure fire) reflectance
    full = [scene.bands["swir2"][r, c] for r, c, f in pixels if f == 1.0]
    assert full[0] == full[1]


def test_lonlat_placement_hits_the_right_pixel() -> None:
    from burnwatch.georef.raster import pixel_centre, xy_to_lonlat

    base = _scene()
    lon, lat = xy_to_lonlat(base.crs, *pixel_centre(base.transform, 7, 12))
    _, truth = inject_fires(base, [FireSpec(1000.0, 5.0, lon=lon, lat=lat)])
    assert (truth[0].row, truth[0].col) == (7, 12)
    assert truth[0].lon == pytest.approx(lon)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature_k": 1000.0, "area_m2": -1.0, "row": 1, "col": 1},
        {"temperature_k": 1000.0, "area_m2": 1.0, "row": 99, "col": 1},
        {"temperature_k": 1000.0, "area_m2": 1.0},
    ],
)
def test_bad_fire_specs_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        inject_fire(_scene(), **kwargs)  # type: ignore[arg-type]


def test_missing_sun_angle_or_unknown_sensor_raise() -> None:
    with pytest.raises(InputError, match="sun_zenith"):
        inject_fire(_scene(sun_zenith=None), temperature_k=900.0, area_m2=1.0, row=1, col=1)
    with pytest.raises(InputError, match="sensor"):
        inject_fire(_scene(sensor="AVHRR"), temperature_k=900.0, area_m2=1.0, row=1, col=1)


def test_etm_dn_calibration() -> None:
    dn = np.array([0.0, 1.0, 128.0, 255.0])
    rho = etm_dn_to_reflectance(dn, "swir2", "H", 30.0, 172)
    assert np.isnan(rho[0])
    # DN 1 is LMIN (slightly negative radiance), DN 255 is LMAX
    d = firesim.earth_sun_distance_au(172)
    lmax = 10.80
    assert float(rho[3]) == pytest.approx(np.pi * lmax * d**2 / (84.90 * np.cos(np.radians(30.0))), rel=1e-5)
    assert rho[1] < 0 < rho[2] < rho[3]
    low = etm_dn_to_reflectance(dn, "swir2", "L", 30.0, 172)
    assert low[3] > rho[3]  # low gain saturates later


@pytest.mark.parametrize(("sensor", "key"), [("MSI", "S2A"), ("OLI", "OLI"), ("OLI-2", "OLI-2"), ("ETM+", "ETM+")])
def test_band_table_agrees_with_sources_bands(sensor: str, key: str) -> None:
    """firesim keeps its own table (it needs band widths); centres and E0 must match the
    sources engineer's :mod:`burnwatch.sources.bands` within 2 %."""
    bands = pytest.importorskip("burnwatch.sources.bands")
    table = firesim.BAND_TABLE[sensor]
    checked = 0
    for info in bands.SENSORS[key].values():
        if info.role in table:
            centre, _, e0 = table[info.role]
            assert centre == pytest.approx(info.centre_um, rel=0.02), (sensor, info.role)
            assert e0 == pytest.approx(info.e0, rel=0.02), (sensor, info.role)
            checked += 1
    assert checked >= 6
