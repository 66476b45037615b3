"""Simulated Sentinel-2 L1C scenes with a KNOWN aerosol field, for validation and the demo.

The forward model is the one the retrieval inverts (:mod:`burnwatch.aerosol.lut`), applied
per pixel to a synthetic Red River Delta-like surface, so the validation measures what the
retrieval itself gets wrong:

* surface: rice paddies / forest (dark, ρ2.2 0.03-0.12), harvested stubble fields and
  urban areas (bright, ρ2.2 0.18-0.32, fail the dark-target tests), a river, burn scars
  and clouds; all spatially correlated random fields from a seeded generator;
* surface blue/red NOT exactly on the Kaufman et al. (1997) ratios: each is multiplied by a
  spatially correlated factor (1 + ε), ε ~ N(0, ``ratio_sd``) at ~100 m scale, plus white
  noise of ``surface_noise`` reflectance, roughly the scatter Kaufman et al. report;
* aerosol: a smooth background (``background_aod`` with a linear gradient) plus a Gaussian
  smoke plume from every fire: column AOD ∝ σ0/σ(x) · exp(-y'²/2σ²) · exp(-x/L) with
  σ(x)² = σ0² + (k x)² (x downwind, y crosswind, metres), the centreline bent by wind shear
  y' = y - ½ κ x², and peak AOD scaled 1/u with wind speed (column of a Gaussian plume,
  e.g. Seinfeld & Pandis, Atmospheric Chemistry and Physics, ch. 18);
* sensor noise: N(0, ``sensor_noise``) in TOA reflectance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from affine import Affine
from scipy.ndimage import gaussian_filter

from burnwatch.aerosol.lut import AerosolModel, Geometry, LookupTable, build_lut
from burnwatch.aerosol.retrieval import KAUFMAN_RATIOS
from burnwatch.aerosol.wind import Wind
from burnwatch.types import Scene

#: Bands (spectral roles) the simulated L1C scene carries.
SIM_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "nir_narrow", "swir1", "swir2")
_DENSE_AOD = tuple(float(a) for a in np.round(np.arange(0.0, 5.0001, 0.02), 4))

#: A default origin over the Red River Delta (Hung Yen), UTM zone 48N.
DEFAULT_CRS = "EPSG:32648"
DEFAULT_ORIGIN = (590000.0, 2310000.0)  # upper-left corner (x, y), metres


@dataclass(frozen=True)
class PlumeSource:
    """A fire emitting smoke at (x, y) in the scene CRS; ``peak_aod`` near source at 3 m/s."""

    x: float
    y: float
    peak_aod: float = 1.5


@dataclass(frozen=True)
class PlumeParams:
    """Gaussian plume shape (metres)."""

    sigma0_m: float = 150.0
    spread: float = 0.12  # σ grows by k metres per metre downwind
    decay_m: float = 15000.0
    shear_per_m: float = 2e-5  # κ: centreline curvature (rad per metre of travel)


def plume_aod(
    x: np.ndarray,
    y: np.ndarray,
    sources: Sequence[PlumeSource],
    wind: Wind,
    params: PlumeParams | None = None,
) -> np.ndarray:
    """Smoke AOD (550 nm) at coordinates ``x``, ``y`` (same CRS/units as the sources, metres)."""
    p = params or PlumeParams()
    east, north = wind.downwind_unit
    out = np.zeros(np.broadcast(x, y).shape, dtype=np.float64)
    scale = 3.0 / max(wind.speed_ms, 0.5)
    for s in sources:
        dx, dy = x - s.x, y - s.y
        along = dx * east + dy * north
        cross = dx * north - dy * east  # positive to the right of the downwind direction
        a = np.maximum(along, 0.0)
        sigma = np.sqrt(p.sigma0_m**2 + (p.spread * a) ** 2)
        bent = cross - 0.5 * p.shear_per_m * a * a
        upwind = np.where(along < 0, np.exp(-0.5 * (along / p.sigma0_m) ** 2), 1.0)
        col = p.sigma0_m / sigma * np.exp(-0.5 * (bent / sigma) ** 2) * np.exp(-a / p.decay_m)
        out += s.peak_aod * scale * col * upwind
    return out


@dataclass(frozen=True, eq=False)
class SimulatedScene:
    """A simulated L1C scene and its truth (per-pixel AOD at 550 nm, surface reflectance)."""

    scene: Scene
    aod: np.ndarray
    surface: dict[str, np.ndarray]
    sources: tuple[PlumeSource, ...]
    wind: Wind
    geometry: Geometry
    plume: np.ndarray = field(repr=False)  # the smoke part of ``aod``

    def truth_grid(self, block: int) -> np.ndarray:
        """Mean true AOD per ``block``×``block`` cell (NaN-padded at the edges)."""
        rows, cols = self.aod.shape
        ny, nx = -(-rows // block), -(-cols // block)
        pad = np.full((ny * block, nx * block), np.nan)
        pad[:rows, :cols] = self.aod
        return np.nanmean(pad.reshape(ny, block, nx, block), axis=(1, 3))


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ~sigma pixels."""
    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (f - f.mean()) / (f.std() + 1e-12)


def _surface(
    rng: np.random.Generator, shape: tuple[int, int], ratio_sd: float, noise: float, clouds: int, water: bool
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rows, cols = shape
    veg_swir = 0.075 + 0.025 * _field(rng, shape, 6.0)
    veg = {
        "swir2": np.clip(veg_swir, 0.02, 0.15),
        "nir": np.clip(0.32 + 0.05 * _field(rng, shape, 8.0), 0.2, 0.5),
        "green": np.full(shape, 0.07),
    }
    veg["swir1"] = veg["swir2"] * 1.9 + 0.02
    for band, ratio in KAUFMAN_RATIOS.items():
        eps = ratio_sd * _field(rng, shape, 10.0)
        veg[band] = np.clip(
            ratio * veg["swir2"] * (1.0 + eps) + noise * rng.standard_normal(shape), 0.003, None
        )

    cover = _field(rng, shape, 12.0)
    bright = cover > 1.0  # ~16 % stubble / urban / bare
    sfc = {b: veg[b].copy() for b in veg}
    sfc["nir_narrow"] = sfc["nir"] * 1.02
    n_bright = int(bright.sum())
    bright_vals = {
        "blue": 0.09,
        "green": 0.12,
        "red": 0.15,
        "nir": 0.30,
        "nir_narrow": 0.31,
        "swir1": 0.32,
        "swir2": 0.24,
    }
    gain = 1.0 + 0.15 * rng.standard_normal(n_bright)  # one brightness per pixel: spectra keep their shape
    for b, v in bright_vals.items():
        sfc[b][bright] = v * gain * (1.0 + 0.03 * rng.standard_normal(n_bright))
    landmask = np.zeros(shape, dtype=np.uint8)  # 0 veg, 1 bright, 2 water, 3 cloud
    landmask[bright] = 1
    if water:  # a meandering river ~120 m wide
        r = np.arange(rows)[:, None]
        c = np.arange(cols)[None, :]
        centre = cols * 0.8 + cols * 0.05 * np.sin(r / max(rows, 1) * 2 * np.pi)
        river = np.abs(c - centre) < 3
        for b, v in {
            "blue": 0.05,
            "green": 0.06,
            "red": 0.04,
            "nir": 0.02,
            "nir_narrow": 0.02,
            "swir1": 0.006,
            "swir2": 0.003,
        }.items():
            sfc[b][river] = v
        landmask[river] = 2
    for _ in range(clouds):
        cy, cx = rng.integers(0, rows), rng.integers(0, cols)
        rr, cc = np.ogrid[:rows, :cols]
        blob = (rr - cy) ** 2 + (cc - cx) ** 2 < (rows * 0.04) ** 2
        for b in sfc:
            sfc[b][blob] = 0.55 if b in ("blue", "green", "red") else 0.5 if b.startswith("nir") else 0.35
        landmask[blob] = 3
    return sfc, landmask


def simulate_scene(
    shape: tuple[int, int] = (400, 400),
    *,
    pixel_size: float = 20.0,
    origin: tuple[float, float] = DEFAULT_ORIGIN,
    crs: str = DEFAULT_CRS,
    time: datetime | None = None,
    geometry: Geometry | None = None,
    background_aod: float = 0.3,
    gradient: float = 0.15,
    fires: Sequence[tuple[int, int]] = (),
    plume_peak: float = 1.5,
    wind: Wind | None = None,
    plume: PlumeParams | None = None,
    ratio_sd: float = 0.25,
    surface_noise: float = 0.004,
    sensor_noise: float = 0.001,
    clouds: int = 1,
    water: bool = True,
    model: AerosolModel | None = None,
    seed: int = 0,
    scene_id: str = "sim-aod",
) -> SimulatedScene:
    """Build a deterministic (per ``seed``) L1C-like scene with known AOD.

    ``fires`` are (row, col) pixels that burn (bright 2.2 µm) and emit a plume blown by
    ``wind``. The background AOD rises by ``gradient`` from west to east edge. Returns
    TOA reflectance (0-1, float32) in ``crs`` with a ``pixel_size`` metre grid.
    """
    rng = np.random.default_rng(seed)
    geom = geometry or Geometry(sun_zenith=45.0, view_zenith=5.0, relative_azimuth=60.0)
    wnd = wind or Wind()
    transform = Affine(pixel_size, 0.0, origin[0], 0.0, -pixel_size, origin[1])
    sfc, _ = _surface(rng, shape, ratio_sd, surface_noise, clouds, water)
    rows, cols = np.indices(shape)
    x = origin[0] + (cols + 0.5) * pixel_size
    y = origin[1] - (rows + 0.5) * pixel_size
    background = background_aod + gradient * (cols / max(shape[1] - 1, 1) - 0.5)
    background = background + 0.03 * _field(rng, shape, 30.0)
    sources = tuple(
        PlumeSource(origin[0] + (c + 0.5) * pixel_size, origin[1] - (r + 0.5) * pixel_size, plume_peak)
        for r, c in fires
    )
    smoke = plume_aod(x, y, sources, wnd, plume)
    aod = np.clip(background + smoke, 0.0, 4.5)
    for r, c in fires:  # active fire: hot in the SWIR, burn scar around it
        r0, r1, c0, c1 = max(r - 2, 0), min(r + 3, shape[0]), max(c - 2, 0), min(c + 3, shape[1])
        for b, v in {
            "blue": 0.04,
            "green": 0.045,
            "red": 0.05,
            "nir": 0.08,
            "nir_narrow": 0.08,
            "swir1": 0.12,
            "swir2": 0.10,
        }.items():
            sfc[b][r0:r1, c0:c1] = v
        sfc["swir2"][r, c], sfc["swir1"][r, c] = 0.65, 0.45

    lut: LookupTable = build_lut(geom, SIM_BANDS, model, _DENSE_AOD)
    bands: dict[str, np.ndarray] = {}
    for b in SIM_BANDS:
        toa = lut.toa(b, aod, sfc[b]) + sensor_noise * rng.standard_normal(shape)
        bands[b] = toa.astype(np.float32)
    bands["cirrus"] = np.where(sfc["blue"] > 0.5, 0.06, 0.002).astype(np.float32)
    when = time or datetime(2025, 6, 5, 3, 30, tzinfo=timezone.utc)
    scene = Scene(
        scene_id=scene_id,
        source="simulated",
        sensor="MSI",
        time=when,
        crs=crs,
        transform=transform,
        bands=bands,
        level="toa",
        sun_zenith=geom.sun_zenith,
        sun_azimuth=120.0,
        metadata={
            "view_zenith": geom.view_zenith,
            "view_azimuth": (120.0 - geom.relative_azimuth) % 360.0,
            "simulated": True,
            "seed": seed,
        },
    )
    return SimulatedScene(scene, aod, sfc, sources, wnd, geom, smoke)


def demo_aerosol_scene(
    size: int = 500, seed: int = 7, wind: Wind | None = None
) -> tuple[SimulatedScene, list[object]]:
    """The embedded demo: a smoky L1C scene over the spectral demo's burning fields.

    Fire positions, grid, time and sun angles come from
    :func:`burnwatch.sources.synthetic.make_demo_scene` (the scan demo), so the plume lies
    over and downwind of the same fields; the surface and atmosphere are this module's
    forward model. Returns the simulation and one incident (``IncidentPoint``) per fire.
    """
    from burnwatch.aerosol.plume import IncidentPoint
    from burnwatch.sources import synthetic

    demo = synthetic.make_demo_scene(seed=seed, size=size)
    fires = [(f.row, f.col) for f in demo.fires]
    sim = simulate_scene(
        (size, size),
        pixel_size=synthetic.PIXEL_M,
        origin=synthetic.ORIGIN_XY,
        crs=synthetic.CRS,
        time=synthetic.TIME,
        geometry=Geometry(synthetic.SUN_ZENITH, 5.0, 60.0),
        fires=fires,
        wind=wind,
        seed=seed,
        scene_id=f"demo-aerosol-{seed}",
    )
    incidents: list[object] = [IncidentPoint(f.label, f.lon, f.lat, synthetic.TIME) for f in demo.fires]
    return sim, incidents
