"""AOD lookup table and dark-dense-vegetation retrieval on simulated scenes with known AOD."""

from __future__ import annotations

import numpy as np
import pytest

from burnwatch.aerosol.grid import QA_GOOD, QA_NONE
from burnwatch.aerosol.lut import (
    AerosolModel,
    Geometry,
    atmosphere,
    build_lut,
    delta_eddington,
    rayleigh_optical_depth,
)
from burnwatch.aerosol.retrieval import retrieve_aod
from burnwatch.aerosol.simulate import simulate_scene
from burnwatch.errors import InputError
from burnwatch.types import Scene


def test_rayleigh_optical_depth_matches_bodhaine_table() -> None:
    # Bodhaine et al. (1999) Table 3: 0.0973 at 550 nm, 0.0363 at 700 nm (sea level).
    assert rayleigh_optical_depth(0.55) == pytest.approx(0.0973, abs=0.0005)
    assert rayleigh_optical_depth(0.70) == pytest.approx(0.0363, abs=0.0005)
    assert rayleigh_optical_depth(0.49) > rayleigh_optical_depth(0.665) > rayleigh_optical_depth(2.19)


def test_delta_eddington_conserves_energy_without_absorption() -> None:
    tau = np.array([0.05, 0.3, 1.0, 3.0])
    r, t = delta_eddington(tau, np.full(4, 1.0), np.full(4, 0.65), 0.7)
    np.testing.assert_allclose(r + t, 1.0, atol=1e-4)
    r_abs, t_abs = delta_eddington(tau, np.full(4, 0.85), np.full(4, 0.65), 0.7)
    assert np.all(r_abs + t_abs < 1.0)


@pytest.mark.parametrize("geom", [Geometry(25, 5, 60), Geometry(45, 8, 120), Geometry(60, 3, 0)])
def test_toa_reflectance_increases_with_aod_over_dark_surfaces(geom: Geometry) -> None:
    lut = build_lut(geom)
    for band, rho_s in (("blue", 0.04), ("red", 0.08)):
        toa = lut.toa(band, lut.aod, rho_s)
        assert np.all(np.diff(toa) > 0), band
    path, trans, salb = atmosphere(0.49, np.array([0.0, 1.0]), geom)
    assert path[1] > path[0] and trans[1] < trans[0] and salb[1] > salb[0]


def test_lut_inversion_round_trips() -> None:
    lut = build_lut(Geometry(35, 5, 90), model=AerosolModel(angstrom=1.3, ssa=0.9, asymmetry=0.65))
    aod = np.array([0.0, 0.07, 0.33, 0.9, 1.7, 3.2])
    rho_s = np.array([0.01, 0.02, 0.03, 0.02, 0.015, 0.01])
    back = lut.invert("blue", lut.toa("blue", aod, rho_s), rho_s)
    np.testing.assert_allclose(back, aod, atol=2e-3)
    assert np.isnan(lut.invert("blue", np.array([0.9]), np.array([0.02]))[0])  # brighter than any AOD


def _score(seed: int, **kwargs: object) -> tuple[float, float, float, int]:
    sim = simulate_scene((300, 300), fires=[(100, 80), (200, 150)], seed=seed, **kwargs)  # type: ignore[arg-type]
    grid = retrieve_aod(sim.scene)
    truth = sim.truth_grid(10)
    ok = np.isfinite(grid.values)
    err = grid.values[ok] - truth[ok]
    within = np.abs(err) <= 0.05 + 0.15 * truth[ok]
    return float(within.mean()), float(err.mean()), float(np.sqrt(np.mean(err**2))), int(ok.sum())


@pytest.mark.parametrize("seed", [11, 12])
def test_retrieval_recovers_simulated_aod_within_modis_envelope(seed: int) -> None:
    within, bias, rmse, n = _score(seed)
    assert n > 700  # of 900 cells: most of the scene is dark vegetation
    assert within >= 0.66, (within, bias, rmse)
    assert abs(bias) < 0.05


def test_retrieval_fails_honestly_when_the_surface_breaks_the_ratios() -> None:
    # Surface blue/red far off the Kaufman ratios (sd 80 %): the envelope score must drop.
    within_bad, *_ = _score(11, ratio_sd=0.8)
    within_good, *_ = _score(11)
    assert within_bad < within_good


def test_quality_flags_cloud_and_water_are_not_filled() -> None:
    sim = simulate_scene((300, 300), seed=5, clouds=3, water=True)
    grid = retrieve_aod(sim.scene)
    assert grid.values.shape == grid.quality.shape == (30, 30)
    assert grid.cell_size == pytest.approx(200.0)
    nan = ~np.isfinite(grid.values)
    assert nan.any()
    assert np.all(grid.quality[nan] == QA_NONE)
    assert np.all(grid.quality[~nan] != QA_NONE)
    assert (grid.quality == QA_GOOD).sum() > 0.5 * grid.quality.size
    # cloud cores produce no retrieval
    rows, cols = np.nonzero(sim.surface["blue"] > 0.5)
    assert rows.size and np.isnan(grid.values[rows // 10, cols // 10]).mean() > 0.5


def test_missing_inputs_raise_clear_errors() -> None:
    sim = simulate_scene((50, 50), seed=1)
    bands = {k: v for k, v in sim.scene.bands.items() if k != "swir2"}
    s = sim.scene
    with pytest.raises(InputError, match="missing bands"):
        retrieve_aod(
            Scene(s.scene_id, s.source, s.sensor, s.time, s.crs, s.transform, bands, sun_zenith=30.0)
        )
    with pytest.raises(InputError, match="sun zenith"):
        retrieve_aod(Scene(s.scene_id, s.source, s.sensor, s.time, s.crs, s.transform, s.bands))
    with pytest.raises(InputError, match="needs a projected CRS"):  # pixel sizes in degrees
        retrieve_aod(
            Scene(s.scene_id, s.source, s.sensor, s.time, "EPSG:4326", s.transform, s.bands, sun_zenith=30.0)
        )
    with pytest.raises(InputError, match="TOA"):
        retrieve_aod(
            Scene(
                s.scene_id,
                s.source,
                s.sensor,
                s.time,
                s.crs,
                s.transform,
                s.bands,
                level="boa",
                sun_zenith=30.0,
            )
        )
