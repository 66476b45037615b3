"""Atmospheric lookup table: path reflectance, transmittance and spherical albedo vs AOD.

The table is built from a documented analytic approximation, not a full radiative-transfer
code (Py6S needs the 6S binary, which burnwatch cannot ship):

* Rayleigh optical depth from Bodhaine et al. (1999, J. Atmos. Oceanic Technol. 16, eq. 30)
  at sea level; Rayleigh phase function 3/4 (1 + cos²Θ).
* Aerosol optical depth scaled from 550 nm with an Ångström exponent α (default 1.3, smoke /
  urban-continental), single-scattering albedo ω0 (0.90) and a Henyey-Greenstein phase
  function with asymmetry g (0.65): the "continental/smoke" model of Kaufman et al. (1997,
  JGR 102(D14)) and Levy et al. (2007, JGR 112, D13211).
* Path reflectance: plane-parallel single scattering of the Rayleigh + aerosol mixture in a
  homogeneous layer, ρ_path = P̄ (1 - exp(-τ m)) / (4 (μs + μv)) with m = 1/μs + 1/μv and P̄
  the scattering-weighted phase function (Vermote et al., 6S manual, ch. "atmospheric
  reflectance", single-scattering term).  No multiple-scattering term is added: at AOD > ~1
  this under-estimates ρ_path compared with 6S; the retrieval and the simulator use the same
  model, so the validation in ``docs/aerosol.md`` measures retrieval, not model, error.
* Total (direct + diffuse) transmittance down × up: Rayleigh with the 6S/Sobolev
  two-stream formula T(μ) = [(2/3 + μ) + (2/3 - μ) e^(-τ/μ)] / (4/3 + τ); aerosol with
  forward-scattered light kept, T(μ) = exp(-τa (1 - ω0 (1 - β)) / μ), β = (1 - g)/2 the
  two-stream back-scatter fraction (Meador & Weaver 1980).
* Spherical albedo: conservative Eddington layer, S = 3τ' / (4 + 3τ') with the scaled
  scattering depth τ' = τR + ω0 (1 - g) τa.

Top-of-atmosphere reflectance over a Lambertian surface ρs (Vermote et al., 6S manual;
Kaufman et al. 1997 eq. 1): ρ_TOA = ρ_path + T ρs / (1 - S ρs).  Gaseous absorption is
ignored (small in the S2 blue/red/2.2 µm windows).

Angles are degrees; relative azimuth Δφ = sun azimuth - view azimuth, 0 = sensor on the
sun's side (back-scatter).  AOD is unitless, always quoted at 550 nm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from burnwatch.errors import InputError
from burnwatch.types import BAND_ROLES

#: AOD (550 nm) nodes of the table; dense at low AOD where most retrievals fall.
DEFAULT_AOD_NODES: tuple[float, ...] = (
    0.0,
    0.05,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.65,
    0.8,
    1.0,
    1.25,
    1.5,
    2.0,
    2.5,
    3.0,
    4.0,
    5.0,
)
#: Bands the DDV retrieval uses (spectral roles, see :data:`burnwatch.types.BAND_ROLES`).
RETRIEVAL_BANDS: tuple[str, ...] = ("blue", "red", "swir2")


@dataclass(frozen=True)
class Geometry:
    """Sun/view geometry of an acquisition, degrees."""

    sun_zenith: float
    view_zenith: float = 5.0
    relative_azimuth: float = 90.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.sun_zenith < 80.0) or not (0.0 <= self.view_zenith < 70.0):
            raise InputError(
                f"geometry out of range for a plane-parallel LUT: sun zenith {self.sun_zenith}°, "
                f"view zenith {self.view_zenith}° (need < 80° and < 70°)"
            )

    @property
    def mu_s(self) -> float:
        return math.cos(math.radians(self.sun_zenith))

    @property
    def mu_v(self) -> float:
        return math.cos(math.radians(self.view_zenith))

    @property
    def cos_scattering(self) -> float:
        """Cosine of the scattering angle Θ (180° = exact back-scatter)."""
        ts, tv = math.radians(self.sun_zenith), math.radians(self.view_zenith)
        phi = math.radians(self.relative_azimuth)
        return -math.cos(ts) * math.cos(tv) - math.sin(ts) * math.sin(tv) * math.cos(phi)


@dataclass(frozen=True)
class AerosolModel:
    """Optical properties of the aerosol (smoke / urban-continental defaults)."""

    angstrom: float = 1.3
    ssa: float = 0.90
    asymmetry: float = 0.65

    def tau(self, aod550: np.ndarray | float, wavelength_um: float) -> np.ndarray:
        """Aerosol optical depth at ``wavelength_um`` from AOD at 550 nm (Ångström law)."""
        return np.asarray(aod550, dtype=np.float64) * (wavelength_um / 0.55) ** (-self.angstrom)


def rayleigh_optical_depth(wavelength_um: float, pressure_hpa: float = 1013.25) -> float:
    """Rayleigh optical depth, Bodhaine et al. (1999) eq. 30, scaled by surface pressure."""
    lam2 = wavelength_um**2
    num = 1.0455996 - 341.29061 / lam2 - 0.90230850 * lam2
    den = 1.0 + 0.0027059889 / lam2 - 85.968563 * lam2
    return 0.0021520 * num / den * pressure_hpa / 1013.25


def henyey_greenstein(cos_theta: float, g: float) -> float:
    """Henyey-Greenstein phase function, normalised so its 4π average is 1."""
    return (1.0 - g * g) / (1.0 + g * g - 2.0 * g * cos_theta) ** 1.5


def delta_eddington(
    tau: np.ndarray, ssa: np.ndarray, g: np.ndarray, mu0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Layer reflectance and total (direct + diffuse) transmittance for a collimated beam.

    Delta-Eddington (Joseph, Wiscombe & Weinman 1976, J. Atmos. Sci. 33) in the generalised
    two-stream form of Meador & Weaver (1980, J. Atmos. Sci. 37, eqs. 14-15), black surface.
    Energy is conserved to 1e-6 for ω → 1 (checked in the tests).
    """
    f = g * g
    tau_s = (1.0 - ssa * f) * tau
    w = np.minimum((1.0 - f) * ssa / (1.0 - ssa * f), 1.0 - 1e-9)
    gs = g / (1.0 + g)
    # kμ0 = 1 is a removable singularity; nudge μ0 off it.
    g1 = (7.0 - w * (4.0 + 3.0 * gs)) / 4.0
    g2 = -(1.0 - w * (4.0 - 3.0 * gs)) / 4.0
    k = np.sqrt(g1 * g1 - g2 * g2)
    mu = np.where(np.abs(1.0 - k * mu0) < 1e-6, mu0 * (1.0 + 1e-5), mu0)
    g3 = (2.0 - 3.0 * gs * mu) / 4.0
    g4 = 1.0 - g3
    a1 = g1 * g4 + g2 * g3
    a2 = g1 * g3 + g2 * g4
    ep, em, e0 = np.exp(k * tau_s), np.exp(-k * tau_s), np.exp(-tau_s / mu)
    den = (1.0 - k * k * mu * mu) * ((k + g1) * ep + (k - g1) * em)
    refl = (
        w
        * (
            (1 - k * mu) * (a2 + k * g3) * ep
            - (1 + k * mu) * (a2 - k * g3) * em
            - 2 * k * (g3 - a2 * mu) * e0
        )
        / den
    )
    diffuse = (
        -w
        * e0
        * (
            (1 + k * mu) * (a1 + k * g4) * ep
            - (1 - k * mu) * (a1 - k * g4) * em
            - 2 * k * (g4 + a1 * mu) / e0
        )
        / den
    )
    return refl, e0 + diffuse


_GAUSS_MU, _GAUSS_W = np.polynomial.legendre.leggauss(8)
_GAUSS_MU = 0.5 * (_GAUSS_MU + 1.0)  # nodes on (0, 1)
_GAUSS_W = 0.5 * _GAUSS_W
_PHI = np.linspace(0.0, np.pi, 19)  # relative azimuth 0..180°, trapezoid


def _single_scattering(
    tau_r: float, tau_a: np.ndarray, model: AerosolModel, mu_s: float, mu_v: float, cos_t: float
) -> np.ndarray:
    """Single-scattering reflectance of a homogeneous Rayleigh + aerosol layer."""
    tau = tau_r + tau_a
    p_r = 0.75 * (1.0 + cos_t * cos_t)
    p_a = henyey_greenstein(cos_t, model.asymmetry)
    phase = (tau_r * p_r + model.ssa * tau_a * p_a) / np.maximum(tau, 1e-12)
    airmass = 1.0 / mu_s + 1.0 / mu_v
    return phase * (1.0 - np.exp(-tau * airmass)) / (4.0 * (mu_s + mu_v))


def atmosphere(
    wavelength_um: float,
    aod550: np.ndarray | float,
    geometry: Geometry,
    model: AerosolModel | None = None,
    pressure_hpa: float = 1013.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Path reflectance, total transmittance (down × up) and spherical albedo.

    Vectorised over ``aod550`` (any shape); returns three float64 arrays of that shape.
    Path reflectance = single scattering at the scattering angle Θ plus the multiple-
    scattering excess of the delta-Eddington layer over its own single-scattering
    hemispheric reflectance, spread isotropically.
    """
    m = model or AerosolModel()
    tau_a = m.tau(aod550, wavelength_um)
    tau_r = rayleigh_optical_depth(wavelength_um, pressure_hpa)
    tau = tau_r + tau_a
    scat = tau_r + m.ssa * tau_a
    ssa = scat / np.maximum(tau, 1e-12)
    g = m.ssa * tau_a * m.asymmetry / np.maximum(scat, 1e-12)
    mu_s, mu_v = geometry.mu_s, geometry.mu_v

    ss = _single_scattering(tau_r, tau_a, m, mu_s, mu_v, geometry.cos_scattering)
    sin_s = math.sqrt(1.0 - mu_s * mu_s)
    hemi = np.zeros_like(tau)
    for mu, wq in zip(_GAUSS_MU, _GAUSS_W, strict=True):
        cos_t = -mu_s * mu - sin_s * math.sqrt(1.0 - mu * mu) * np.cos(_PHI)
        per_phi = np.stack([_single_scattering(tau_r, tau_a, m, mu_s, float(mu), float(c)) for c in cos_t])
        hemi = hemi + 2.0 * wq * mu * np.trapezoid(per_phi, _PHI, axis=0) / np.pi
    refl_s, trans_s = delta_eddington(tau, ssa, g, mu_s)
    _, trans_v = delta_eddington(tau, ssa, g, mu_v)
    path = ss + np.maximum(refl_s - hemi, 0.0)

    salb = np.zeros_like(tau)
    for mu, wq in zip(_GAUSS_MU, _GAUSS_W, strict=True):
        salb = salb + 2.0 * wq * mu * delta_eddington(tau, ssa, g, float(mu))[0]
    return path, trans_s * trans_v, salb


def toa_reflectance(
    rho_s: np.ndarray | float, path: np.ndarray, trans: np.ndarray, salb: np.ndarray
) -> np.ndarray:
    """ρ_TOA = ρ_path + T ρs / (1 - S ρs) (Lambertian surface)."""
    rho = np.asarray(rho_s, dtype=np.float64)
    return path + trans * rho / (1.0 - salb * rho)


@dataclass(frozen=True)
class LookupTable:
    """ρ_path, T and S per band on a grid of AOD(550 nm) nodes, for one geometry."""

    geometry: Geometry
    model: AerosolModel
    aod: np.ndarray  # (K,) AOD nodes at 550 nm
    wavelengths: Mapping[str, float]
    path: Mapping[str, np.ndarray] = field(repr=False)  # band -> (K,)
    trans: Mapping[str, np.ndarray] = field(repr=False)
    salb: Mapping[str, np.ndarray] = field(repr=False)

    def toa(self, band: str, aod: np.ndarray | float, rho_s: np.ndarray | float) -> np.ndarray:
        """TOA reflectance for surface ``rho_s`` under ``aod`` (linear in the table)."""
        a = np.asarray(aod, dtype=np.float64)
        path = np.interp(a, self.aod, self.path[band])
        trans = np.interp(a, self.aod, self.trans[band])
        salb = np.interp(a, self.aod, self.salb[band])
        return toa_reflectance(rho_s, path, trans, salb)

    def invert(self, band: str, rho_toa: np.ndarray, rho_s: np.ndarray, min_aod: float = -0.05) -> np.ndarray:
        """AOD (550 nm) that explains ``rho_toa`` over surface ``rho_s``; NaN if none does.

        ρ_TOA is monotonic in AOD over dark surfaces (path radiance dominates); values below
        the AOD=0 prediction are extrapolated linearly down to ``min_aod`` (as MODIS DT
        reports small negative AOD to keep the mean unbiased) and NaN beyond that or above
        the last node.
        """
        obs = np.asarray(rho_toa, dtype=np.float64)
        rs = np.asarray(rho_s, dtype=np.float64)
        k = self.aod.size
        model = np.stack([self.toa(band, self.aod[i], rs) for i in range(k)])  # (K, ...)
        above = model >= obs[None, ...]
        idx = np.where(above.any(axis=0), above.argmax(axis=0), k)  # first node >= obs
        lo = np.clip(idx - 1, 0, k - 2)
        lo_val = np.take_along_axis(model, lo[None, ...], axis=0)[0]
        hi_val = np.take_along_axis(model, (lo + 1)[None, ...], axis=0)[0]
        slope = (hi_val - lo_val) / (self.aod[lo + 1] - self.aod[lo])
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self.aod[lo] + (obs - lo_val) / slope
        out = np.where((idx >= k) | (out < min_aod) | ~np.isfinite(obs) | ~np.isfinite(rs), np.nan, out)
        return out


def build_lut(
    geometry: Geometry,
    bands: Sequence[str] = RETRIEVAL_BANDS,
    model: AerosolModel | None = None,
    aod_nodes: Sequence[float] = DEFAULT_AOD_NODES,
    pressure_hpa: float = 1013.25,
) -> LookupTable:
    """Tabulate :func:`atmosphere` for ``bands`` (spectral roles) at ``aod_nodes``."""
    m = model or AerosolModel()
    nodes = np.asarray(sorted(aod_nodes), dtype=np.float64)
    if nodes.size < 2:
        raise InputError("a lookup table needs at least two AOD nodes")
    wl: dict[str, float] = {}
    path: dict[str, np.ndarray] = {}
    trans: dict[str, np.ndarray] = {}
    salb: dict[str, np.ndarray] = {}
    for band in bands:
        if band not in BAND_ROLES:
            raise InputError(f"unknown spectral role {band!r} for the aerosol lookup table")
        wl[band] = BAND_ROLES[band]
        path[band], trans[band], salb[band] = atmosphere(wl[band], nodes, geometry, m, pressure_hpa)
    return LookupTable(geometry, m, nodes, wl, path, trans, salb)
