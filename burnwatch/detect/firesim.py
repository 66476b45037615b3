"""Physical fire-injection simulator: put a sub-pixel fire of temperature T and area A into a scene.

Model (the standard two-component "fire + background" pixel model used to derive
detection limits, e.g. Giglio & Kendall 2001; Schroeder et al. 2016 Sect. 4):

    L_pix(λ) = f · ε · B(λ, T) + (1 - f) · L_bg(λ),      f = A / pixel_area

with ``B`` the Planck spectral radiance (W m-2 sr-1 µm-1) and ``L_bg`` the background radiance.
Radiance and top-of-atmosphere reflectance are related by

    ρ = π · L · d² / (E0 · cos θs)

(``E0`` band solar irradiance in W m-2 µm-1, ``d`` Earth-Sun distance in AU, ``θs`` solar zenith).
So the injected pixel's reflectance is ``(1 - f) · ρ_bg + f · ε · τ · π · B(λ, T) · d² / (E0 cos θs)``.
Note ``π · B`` is the blackbody's exitance; the π is the one of the reflectance conversion,
not an extra factor on the radiance. ``τ`` (atmospheric transmittance, default 1) and ``ε``
(emissivity, default 1) are parameters. ``B`` is averaged over a rectangular band response
(centre ± FWHM/2) because Planck's curve changes by a factor ~2 across Sentinel-2 B12 at 800 K.

Areas larger than one pixel fill whole pixels (ring by ring around the target) with the
remainder as a fractional pixel. No sensor saturation is modelled.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from burnwatch.errors import InputError
from burnwatch.types import Scene

#: First and second radiation constants for radiance in W m-2 sr-1 µm-1 with λ in µm.
C1 = 1.191042972e8  # 2 h c² (W µm⁴ m-2 sr-1)
C2 = 1.438776877e4  # h c / k (µm K)

#: Per sensor: role -> (centre µm, FWHM µm, E0 W m-2 µm-1).
#: Sentinel-2A MSI: ESA S2 L1C metadata (SOLAR_IRRADIANCE) and spectral response summary.
#: Landsat-8/9 OLI: ESUN values of the Landsat handbook (OLI does not publish ESUN officially).
#: Landsat-7 ETM+: Chander, Markham & Helder (2009), Remote Sens. Environ. 113:893-903, Table 11.
BAND_TABLE: Mapping[str, Mapping[str, tuple[float, float, float]]] = {
    "MSI": {
        "coastal": (0.4427, 0.021, 1884.69),
        "blue": (0.4924, 0.066, 1959.66),
        "green": (0.5598, 0.036, 1823.24),
        "red": (0.6646, 0.031, 1512.06),
        "nir": (0.8328, 0.106, 1041.63),
        "nir_narrow": (0.8647, 0.021, 955.32),
        "wv": (0.9451, 0.020, 812.92),
        "cirrus": (1.3735, 0.031, 367.15),
        "swir1": (1.6137, 0.091, 245.59),
        "swir2": (2.2024, 0.175, 85.25),
    },
    "OLI": {
        "coastal": (0.443, 0.016, 1895.33),
        "blue": (0.482, 0.060, 2004.57),
        "green": (0.561, 0.057, 1820.75),
        "red": (0.655, 0.037, 1549.49),
        "nir": (0.865, 0.028, 951.76),
        "cirrus": (1.373, 0.020, 366.97),
        "swir1": (1.609, 0.085, 247.55),
        "swir2": (2.201, 0.187, 85.46),
    },
    "ETM+": {
        "blue": (0.483, 0.070, 1997.0),
        "green": (0.560, 0.080, 1812.0),
        "red": (0.662, 0.060, 1533.0),
        "nir": (0.835, 0.130, 1039.0),
        "swir1": (1.648, 0.200, 230.8),
        "swir2": (2.206, 0.260, 84.90),
    },
}
BAND_TABLE = {**BAND_TABLE, "OLI2": BAND_TABLE["OLI"], "OLI-2": BAND_TABLE["OLI"], "ETM": BAND_TABLE["ETM+"]}


def planck_radiance(wavelength_um: float | np.ndarray, temperature_k: float) -> np.ndarray:
    """Blackbody spectral radiance B(λ, T) in W m-2 sr-1 µm-1 (λ in µm, T in K)."""
    if temperature_k <= 0:
        raise InputError(f"temperature must be positive, got {temperature_k} K")
    lam = np.asarray(wavelength_um, dtype=np.float64)
    with np.errstate(over="ignore"):
        return C1 / (lam**5 * np.expm1(C2 / (lam * temperature_k)))


def band_radiance(centre_um: float, fwhm_um: float, temperature_k: float, samples: int = 41) -> float:
    """Planck radiance averaged over a rectangular response centre ± FWHM/2 (W m-2 sr-1 µm-1)."""
    lam = np.linspace(centre_um - fwhm_um / 2.0, centre_um + fwhm_um / 2.0, samples)
    return float(np.mean(planck_radiance(lam, temperature_k)))


def earth_sun_distance_au(day_of_year: int) -> float:
    """Earth-Sun distance (AU), first-order eccentricity formula (error < 2e-4 AU)."""
    return 1.0 - 0.01672 * math.cos(math.radians(0.9856 * (day_of_year - 4)))


def radiance_to_reflectance(
    radiance: float | np.ndarray, e0: float, sun_zenith_deg: float, d_au: float = 1.0
) -> np.ndarray:
    """TOA reflectance ρ = π L d² / (E0 cos θs); radiance and E0 in W m-2 (sr-1) µm-1."""
    cos_sz = math.cos(math.radians(sun_zenith_deg))
    if cos_sz <= 0.01:
        raise InputError(f"sun zenith {sun_zenith_deg}° is at or below the horizon")
    return np.asarray(np.pi * np.asarray(radiance) * d_au**2 / (e0 * cos_sz))


def fire_reflectance(
    sensor: str,
    role: str,
    temperature_k: float,
    sun_zenith_deg: float,
    d_au: float = 1.0,
    emissivity: float = 1.0,
    transmittance: float = 1.0,
) -> float:
    """TOA reflectance of a pixel *fully* covered by a blackbody fire (f = 1), unitless."""
    table = _table(sensor)
    if role not in table:
        return 0.0
    centre, fwhm, e0 = table[role]
    rad = emissivity * transmittance * band_radiance(centre, fwhm, temperature_k)
    return float(radiance_to_reflectance(rad, e0, sun_zenith_deg, d_au))


@dataclass(frozen=True)
class FireSpec:
    """A fire to inject: where (pixel row/col, or WGS84 lon/lat) and how hot/large."""

    temperature_k: float
    area_m2: float
    row: int | None = None
    col: int | None = None
    lon: float | None = None
    lat: float | None = None
    label: str = ""


@dataclass(frozen=True)
class InjectedFire:
    """Truth for one injected fire: centre pixel, its centre in the scene CRS and WGS84,
    temperature (K), total area (m²), and every affected pixel with its fire fraction."""

    label: str
    row: int
    col: int
    x: float
    y: float
    lon: float
    lat: float
    temperature_k: float
    area_m2: float
    pixels: tuple[tuple[int, int, float], ...]
    above_limit: bool | None = None


def _table(sensor: str) -> Mapping[str, tuple[float, float, float]]:
    key = sensor.upper().replace(" ", "")
    if key not in BAND_TABLE:  # a unit or alias the sources layer knows ("S2A", "landsat8", ...)
        from burnwatch.sources.bands import sensor_key

        with contextlib.suppress(InputError):
            key = {"S2A": "MSI", "S2B": "MSI"}.get(sensor_key(sensor), sensor_key(sensor))
    if key not in BAND_TABLE:
        raise InputError(f"no band/E0 table for sensor {sensor!r}; known: {sorted(BAND_TABLE)}")
    return BAND_TABLE[key]


def _pixel_fractions(
    row: int, col: int, area_m2: float, pixel_area: float, shape: tuple[int, int]
) -> list[tuple[int, int, float]]:
    """Whole pixels nearest the centre first, remainder as a fraction; clipped to the grid."""
    fraction_left = area_m2 / pixel_area
    out: list[tuple[int, int, float]] = []
    radius = 0
    while fraction_left > 1e-12:
        ring = [
            (row + dr, col + dc)
            for dr in range(-radius, radius + 1)
            for dc in range(-radius, radius + 1)
            if max(abs(dr), abs(dc)) == radius
        ]
        ring.sort(key=lambda rc: (rc[0] - row) ** 2 + (rc[1] - col) ** 2)
        for r, c in ring:
            if fraction_left <= 1e-12:
                break
            if 0 <= r < shape[0] and 0 <= c < shape[1]:
                f = min(1.0, fraction_left)
                out.append((r, c, f))
                fraction_left -= f
        radius += 1
        if radius > max(shape):
            break
    return out


def inject_fires(
    scene: Scene,
    fires: Sequence[FireSpec],
    *,
    emissivity: float = 1.0,
    transmittance: float = 1.0,
    saturation: Mapping[str, float] | None = None,
) -> tuple[Scene, list[InjectedFire]]:
    """Return a copy of ``scene`` with every fire added, and the truth list (same order).

    The scene must be TOA reflectance with ``sun_zenith`` set and a metric CRS (pixel area
    in m²). Bands whose role the sensor table lacks (e.g. thermal) are left unchanged.
    ``saturation`` (role -> reflectance) clips fire pixels where the sensor or its encoding
    saturates (e.g. Landsat-7 DN 255, Sentinel-2 L1C 16-bit DN / 10,000).
    """
    from burnwatch.georef.raster import lonlat_to_xy, pixel_centre, xy_to_lonlat, xy_to_pixel

    if scene.sun_zenith is None:
        raise InputError(f"scene {scene.scene_id}: sun_zenith is needed to inject fires")
    table = _table(scene.sensor)
    d_au = earth_sun_distance_au(scene.time.timetuple().tm_yday)
    bands = {role: np.array(arr, dtype=np.float32, copy=True) for role, arr in scene.bands.items()}
    truth: list[InjectedFire] = []
    cache: dict[tuple[str, float], float] = {}
    rows, cols = scene.shape
    for i, spec in enumerate(fires):
        if spec.area_m2 <= 0:
            raise InputError(f"fire {i}: area must be positive, got {spec.area_m2} m²")
        if spec.row is not None and spec.col is not None:
            row, col = spec.row, spec.col
        elif spec.lon is not None and spec.lat is not None:
            x, y = lonlat_to_xy(scene.crs, spec.lon, spec.lat)
            row, col = xy_to_pixel(scene.transform, x, y)
        else:
            raise InputError(f"fire {i}: give row/col or lon/lat")
        if not (0 <= row < rows and 0 <= col < cols):
            raise InputError(f"fire {i}: pixel ({row}, {col}) is outside the {rows}x{cols} scene")
        pixels = _pixel_fractions(row, col, spec.area_m2, scene.pixel_area_m2, (rows, cols))
        for role, arr in bands.items():
            if role not in table:
                continue
            key = (role, spec.temperature_k)
            if key not in cache:
                cache[key] = fire_reflectance(
                    scene.sensor, role, spec.temperature_k, scene.sun_zenith, d_au, emissivity, transmittance
                )
            rho_fire = cache[key]
            cap = float("inf") if saturation is None else saturation.get(role, float("inf"))
            for r, c, f in pixels:
                arr[r, c] = np.float32(min(cap, (1.0 - f) * float(arr[r, c]) + f * rho_fire))
        x, y = pixel_centre(scene.transform, row, col)
        lon, lat = xy_to_lonlat(scene.crs, x, y)
        truth.append(
            InjectedFire(
                label=spec.label or f"fire-{i}",
                row=row,
                col=col,
                x=x,
                y=y,
                lon=lon,
                lat=lat,
                temperature_k=spec.temperature_k,
                area_m2=spec.area_m2,
                pixels=tuple(pixels),
            )
        )
    return replace(scene, bands=bands), truth


def inject_fire(
    scene: Scene,
    *,
    temperature_k: float,
    area_m2: float,
    row: int | None = None,
    col: int | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> Scene:
    """One fire; see :func:`inject_fires`."""
    spec = FireSpec(temperature_k, area_m2, row=row, col=col, lon=lon, lat=lat)
    return inject_fires(scene, [spec])[0]


def etm_dn_to_reflectance(
    dn: np.ndarray, role: str, gain: str, sun_zenith_deg: float, day_of_year: int
) -> np.ndarray:
    """Landsat-7 ETM+ L1 DN (1-255) -> TOA reflectance (float32, NaN where DN < 1), with the
    post-July-2000 calibration (Chander et al. 2009, Table 8) and the Earth-Sun distance of
    ``day_of_year``. A thin wrapper of :class:`burnwatch.sources.local.EtmPlusCalibration`,
    the one ETM+ calibration in burnwatch."""
    from datetime import date, timedelta

    from burnwatch.sources.local import EtmPlusCalibration

    acquired = date(2001, 1, 1) + timedelta(days=day_of_year - 1)
    return EtmPlusCalibration(sun_zenith_deg, acquired, gain)(role, np.asarray(dn, dtype=np.float32))
