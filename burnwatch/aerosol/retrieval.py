"""Dark-dense-vegetation (DDV) aerosol optical depth retrieval from Sentinel-2 L1C.

The method follows the MODIS Dark Target land algorithm in its simplest form:

1. Dark targets: pixels with 0.01 <= ρ2.2 <= 0.25 (Kaufman et al. 1997, JGR 102(D14),
   17051-17067), vegetated by NDVI_SWIR = (ρ0.86 - ρ2.2)/(ρ0.86 + ρ2.2) >= 0.2 (an aerosol-
   insensitive greenness index, after Levy et al. 2013, AMT 6, 2989), not cloud (TOA blue >
   0.4 or cirrus > 0.025) and not water (NDVI_SWIR < 0 or ρ0.86 < 0.1).
2. Surface reflectance from the 2.2 µm band with the empirical ratios of Kaufman et al.
   (1997): ρs(0.49) = 0.25 ρs(2.2), ρs(0.665) = 0.5 ρs(2.2).  ρs(2.2) is the TOA value
   corrected for the (small) aerosol effect at 2.2 µm with the current AOD estimate
   (iterated, as the joint inversion of Levy et al. 2007, JGR 112, D13211).
3. Per grid cell (default 200 m = 10 × 10 pixels of 20 m) the dark pixels are sorted by red
   TOA reflectance and the 20th-50th percentile kept (MODIS DT, Levy et al. 2013); their mean
   TOA reflectances are inverted through the lookup table (:mod:`burnwatch.aerosol.lut`) in
   the blue and red; AOD(550 nm) is the mean of the two.
4. Quality: 2 = no retrieval (fewer than ``min_dark`` dark pixels: cloud, water, urban,
   bright fields), 1 = marginal (fewer than ``good_dark`` dark pixels, cloud in the cell, or
   blue and red disagree by more than 0.05 + 0.2 AOD), 0 = good.  Cells without a retrieval
   are NaN: no gap filling.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from affine import Affine

from burnwatch.aerosol.grid import QA_GOOD, QA_MARGINAL, QA_NONE, AerosolGrid
from burnwatch.aerosol.lut import AerosolModel, Geometry, LookupTable, build_lut
from burnwatch.errors import CRSError, InputError
from burnwatch.types import Scene

log = logging.getLogger(__name__)

#: Kaufman et al. (1997) surface ratios ρs(band) / ρs(2.2 µm).
KAUFMAN_RATIOS: dict[str, float] = {"blue": 0.25, "red": 0.5}


@dataclass(frozen=True)
class RetrievalParams:
    """Tunable thresholds of the DDV retrieval (defaults from the papers cited above)."""

    cell_size_m: float = 200.0
    swir_min: float = 0.01
    swir_max: float = 0.25
    ndvi_swir_min: float = 0.2
    cloud_blue: float = 0.4
    cloud_cirrus: float = 0.025
    percentile_low: float = 0.2
    percentile_high: float = 0.5
    min_dark_fraction: float = 0.10
    good_dark_fraction: float = 0.30
    iterations: int = 3
    ratios: tuple[tuple[str, float], ...] = tuple(KAUFMAN_RATIOS.items())


def scene_geometry(scene: Scene) -> Geometry:
    """Sun/view geometry of ``scene``: sun zenith required; view angles from metadata.

    ``metadata["view_zenith"]`` (default 5°, Sentinel-2 is near-nadir) and
    ``metadata["view_azimuth"]`` with ``scene.sun_azimuth`` give the relative azimuth
    (default 90°, a side-scatter compromise, when either is missing).
    """
    if scene.sun_zenith is None:
        raise InputError(f"scene {scene.scene_id}: no sun zenith angle, cannot build the aerosol LUT")
    meta = scene.metadata
    vz = float(meta.get("view_zenith", 5.0))  # type: ignore[arg-type]
    va = meta.get("view_azimuth")
    rel = 90.0
    if va is not None and scene.sun_azimuth is not None:
        rel = abs((float(scene.sun_azimuth) - float(va) + 180.0) % 360.0 - 180.0)  # type: ignore[arg-type]
    return Geometry(float(scene.sun_zenith), vz, rel)


def _blocks(a: np.ndarray, block: int) -> np.ndarray:
    """(rows, cols) -> (ny, nx, block*block), NaN-padded at the far edges."""
    rows, cols = a.shape
    ny, nx = -(-rows // block), -(-cols // block)
    pad = np.full((ny * block, nx * block), np.nan, dtype=np.float64)
    pad[:rows, :cols] = a
    return pad.reshape(ny, block, nx, block).transpose(0, 2, 1, 3).reshape(ny, nx, block * block)


def _correct_swir(lut: LookupTable, rho_toa: np.ndarray, aod: np.ndarray) -> np.ndarray:
    """Surface 2.2 µm reflectance from TOA given AOD (inverse of ρ_TOA = ρp + Tρ/(1-Sρ))."""
    a = np.nan_to_num(np.clip(aod, 0.0, lut.aod[-1]), nan=0.0)
    path = np.interp(a, lut.aod, lut.path["swir2"])
    trans = np.interp(a, lut.aod, lut.trans["swir2"])
    salb = np.interp(a, lut.aod, lut.salb["swir2"])
    y = rho_toa - path
    return np.asarray(y / (trans + salb * y))


def dark_target_mask(scene: Scene, params: RetrievalParams | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(dark, cloud) boolean masks for ``scene`` (see the module docstring for the tests)."""
    p = params or RetrievalParams()
    missing = [r for r in ("blue", "red", "swir2") if r not in scene.bands]
    nir_role = "nir_narrow" if "nir_narrow" in scene.bands else "nir"
    if nir_role not in scene.bands:
        missing.append("nir")
    if missing:
        raise InputError(f"scene {scene.scene_id}: missing bands {missing} for the aerosol retrieval")
    blue = np.asarray(scene.bands["blue"], dtype=np.float64)
    swir = np.asarray(scene.bands["swir2"], dtype=np.float64)
    nir = np.asarray(scene.bands[nir_role], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi_swir = (nir - swir) / (nir + swir)
        cloud = blue > p.cloud_blue
        if "cirrus" in scene.bands:
            cloud |= np.asarray(scene.bands["cirrus"], dtype=np.float64) > p.cloud_cirrus
        water = (ndvi_swir < 0.0) | (nir < 0.1)
        dark = (swir >= p.swir_min) & (swir <= p.swir_max) & (ndvi_swir >= p.ndvi_swir_min)
    valid = np.isfinite(blue) & np.isfinite(swir) & np.isfinite(nir)
    valid &= np.isfinite(np.asarray(scene.bands["red"], dtype=np.float64))
    return dark & ~cloud & ~water & valid, cloud & valid


def retrieve_aod(
    scene: Scene,
    params: RetrievalParams | None = None,
    geometry: Geometry | None = None,
    model: AerosolModel | None = None,
) -> AerosolGrid:
    """AOD at 550 nm on a ``params.cell_size_m`` grid from an L1C (TOA) scene.

    ``scene`` needs the blue, red, NIR (or narrow NIR) and 2.2 µm bands as TOA reflectance
    (0-1) on one grid in a metric CRS. Returns an :class:`AerosolGrid` in the scene's CRS.
    """
    p = params or RetrievalParams()
    if scene.level != "toa":
        raise InputError(f"scene {scene.scene_id}: the DDV retrieval needs TOA (L1C) reflectance")
    from pyproj import CRS

    if not CRS.from_user_input(scene.crs).is_projected:
        raise CRSError(
            f"scene {scene.scene_id}: the retrieval grid is in metres and needs a projected CRS "
            f"(e.g. the scene's UTM zone), not {scene.crs}; reproject the scene first"
        )
    px = scene.pixel_size[0]
    block = max(1, round(p.cell_size_m / px))
    geom = geometry or scene_geometry(scene)
    lut = build_lut(geom, ("blue", "red", "swir2"), model)
    dark, cloud = dark_target_mask(scene, p)

    toa = {
        b: _blocks(np.where(dark, np.asarray(scene.bands[b], dtype=np.float64), np.nan), block)
        for b in ("blue", "red", "swir2")
    }
    n_dark = np.isfinite(toa["red"]).sum(axis=2)
    cloud_frac = _blocks(cloud.astype(np.float64), block)
    cloud_any = np.nansum(cloud_frac, axis=2) > 0

    # Rank dark pixels by red TOA reflectance; keep the 20th-50th percentile (MODIS DT).
    order = np.argsort(np.where(np.isfinite(toa["red"]), toa["red"], np.inf), axis=2)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[2])[None, None, :], axis=2)
    lo = np.floor(p.percentile_low * n_dark)
    hi = np.maximum(np.ceil(p.percentile_high * n_dark), lo + 1)
    keep = (rank >= lo[..., None]) & (rank < hi[..., None]) & np.isfinite(toa["red"])
    count = keep.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = {b: np.where(keep, toa[b], 0.0).sum(axis=2) / count for b in toa}

    min_dark = max(3, int(np.ceil(p.min_dark_fraction * block * block)))
    enough = n_dark >= min_dark
    ratios = dict(p.ratios)
    aod = np.zeros(n_dark.shape)
    per_band: dict[str, np.ndarray] = {}
    for _ in range(max(1, p.iterations)):
        rho22 = _correct_swir(lut, mean["swir2"], aod)
        per_band = {b: lut.invert(b, mean[b], ratios[b] * rho22) for b in ratios}
        stack = np.stack(list(per_band.values()))
        n_ok = np.isfinite(stack).sum(axis=0)
        aod = np.where(n_ok > 0, np.nansum(stack, axis=0) / np.maximum(n_ok, 1), np.nan)
    aod = np.where(enough, aod, np.nan)

    b_est, r_est = per_band.get("blue"), per_band.get("red")
    disagree = np.zeros(aod.shape, dtype=bool)
    if b_est is not None and r_est is not None:
        with np.errstate(invalid="ignore"):
            disagree = np.abs(b_est - r_est) > 0.05 + 0.2 * np.abs(aod)
    quality = np.full(aod.shape, QA_NONE, dtype=np.uint8)
    ok = np.isfinite(aod)
    marginal = (n_dark < p.good_dark_fraction * block * block) | cloud_any | disagree
    quality[ok & marginal] = QA_MARGINAL
    quality[ok & ~marginal] = QA_GOOD
    log.info("scene %s: AOD retrieved in %d of %d cells", scene.scene_id, int(ok.sum()), ok.size)
    return AerosolGrid(
        values=aod.astype(np.float32),
        quality=quality,
        transform=scene.transform @ Affine.scale(block),
        crs=scene.crs,
        time=scene.time,
        quantity="aod550",
        source=f"{scene.source}:ddv",
        scene_id=scene.scene_id,
        metadata={
            "algorithm": "ddv-kaufman1997",
            "cell_size_m": block * px,
            "dark_pixels": n_dark.astype(np.int32),
            "geometry": (geom.sun_zenith, geom.view_zenith, geom.relative_azimuth),
        },
    )
