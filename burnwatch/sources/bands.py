"""Band tables: provider band name -> spectral role, centre wavelength and solar irradiance.

Detectors work on spectral *roles* (:data:`burnwatch.types.BAND_ROLES`); this module is the
one place that knows that Sentinel-2 ``B12``, Landsat-8 OLI ``B7`` and Landsat-7 ETM+ ``B7``
are all the 2.2 µm ``swir2`` band.

Each entry gives the centre wavelength (µm) and the mean exo-atmospheric solar irradiance
``E0`` (W m-2 µm-1) over the band, needed to turn radiance into top-of-atmosphere
reflectance, ``rho = pi * L * d^2 / (E0 * cos(theta_s))``.

Sources:

* Sentinel-2A / 2B MSI: centre wavelengths from ESA's "Sentinel-2 Spectral Response
  Functions" (S2-SRF, COPE-GSEG-EOPG-TN-15-0007, v3.0); ``E0`` from the
  ``Solar_Irradiance_List`` of the L1C product metadata (MTD_MSIL1C.xml,
  ``SOLAR_IRRADIANCE bandId=...``), which ESA computes from the Thuillier (2003) spectrum.
* Landsat 8 OLI / Landsat 9 OLI-2: centre wavelengths from the USGS Landsat 8 (L8) Data
  Users Handbook (LSDS-1574) and Landsat 9 Data Users Handbook (LSDS-2082). USGS publishes
  no ESUN for OLI (it ships reflectance rescaling factors in the MTL file); the values here
  are the OLI relative spectral responses convolved with the ChKur solar spectrum as commonly
  tabulated in the literature. They are adequate for *simulating* fires (the Planck injector)
  and for approximate DN -> reflectance conversion; use the MTL coefficients for calibration
  work. OLI-2 uses the same values (band passes agree to within a few nm).
* Landsat 7 ETM+: centre wavelengths and ``ESUN`` from Chander, Markham & Helder (2009),
  "Summary of current radiometric calibration coefficients for Landsat MSS, TM, ETM+, and
  EO-1 ALI sensors", Remote Sensing of Environment 113, 893-903, Table 11, and the Landsat 7
  Science Data Users Handbook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from burnwatch.errors import InputError
from burnwatch.types import BAND_ROLES


@dataclass(frozen=True)
class BandInfo:
    """One band of one sensor. ``role`` is ``None`` for bands no detector uses (red edge)."""

    name: str  # provider name as the sensor's handbook spells it: "B8A", "B07", "B7"
    role: str | None
    centre_um: float
    e0: float  # mean exo-atmospheric solar irradiance, W m-2 µm-1


def _table(rows: list[tuple[str, str | None, float, float]]) -> dict[str, BandInfo]:
    return {name: BandInfo(name, role, centre, e0) for name, role, centre, e0 in rows}


S2A_MSI = _table(
    [
        ("B01", "coastal", 0.4427, 1884.69),
        ("B02", "blue", 0.4924, 1959.66),
        ("B03", "green", 0.5598, 1823.24),
        ("B04", "red", 0.6646, 1512.06),
        ("B05", None, 0.7041, 1424.64),
        ("B06", None, 0.7405, 1287.61),
        ("B07", None, 0.7828, 1162.08),
        ("B08", "nir", 0.8328, 1041.63),
        ("B8A", "nir_narrow", 0.8647, 955.32),
        ("B09", "wv", 0.9451, 812.92),
        ("B10", "cirrus", 1.3735, 367.15),
        ("B11", "swir1", 1.6137, 245.59),
        ("B12", "swir2", 2.2024, 85.25),
    ]
)

S2B_MSI = _table(
    [
        ("B01", "coastal", 0.4422, 1874.30),
        ("B02", "blue", 0.4921, 1959.75),
        ("B03", "green", 0.5590, 1824.93),
        ("B04", "red", 0.6649, 1512.79),
        ("B05", None, 0.7038, 1425.78),
        ("B06", None, 0.7391, 1291.13),
        ("B07", None, 0.7797, 1175.57),
        ("B08", "nir", 0.8329, 1041.28),
        ("B8A", "nir_narrow", 0.8640, 953.93),
        ("B09", "wv", 0.9432, 817.58),
        ("B10", "cirrus", 1.3769, 365.41),
        ("B11", "swir1", 1.6104, 247.08),
        ("B12", "swir2", 2.1857, 87.75),
    ]
)

OLI = _table(
    [
        ("B1", "coastal", 0.4430, 1895.33),
        ("B2", "blue", 0.4826, 2004.57),
        ("B3", "green", 0.5613, 1820.75),
        ("B4", "red", 0.6546, 1549.49),
        ("B5", "nir", 0.8646, 951.76),
        ("B6", "swir1", 1.6090, 247.55),
        ("B7", "swir2", 2.2010, 85.46),
        ("B9", "cirrus", 1.3730, 366.97),
    ]
)

ETM_PLUS = _table(
    [
        ("B1", "blue", 0.4825, 1997.0),
        ("B2", "green", 0.5650, 1812.0),
        ("B3", "red", 0.6600, 1533.0),
        ("B4", "nir", 0.8250, 1039.0),
        ("B5", "swir1", 1.6500, 230.8),
        ("B7", "swir2", 2.2200, 84.90),
    ]
)

#: Sensor key -> band table. Keys are the canonical sensor names used in ``Scene.sensor``.
SENSORS: Mapping[str, Mapping[str, BandInfo]] = {
    "S2A": S2A_MSI,
    "S2B": S2B_MSI,
    "OLI": OLI,
    "OLI-2": OLI,
    "ETM+": ETM_PLUS,
}

_ALIASES = {
    "s2": "S2A",  # roles are identical; S2A irradiance stands in when the unit is unknown
    "msi": "S2A",
    "sentinel2": "S2A",
    "sentinel-2": "S2A",
    "s2a": "S2A",
    "sentinel2a": "S2A",
    "s2b": "S2B",
    "sentinel2b": "S2B",
    "oli": "OLI",
    "l8": "OLI",
    "landsat8": "OLI",
    "oli-2": "OLI-2",
    "oli2": "OLI-2",
    "l9": "OLI-2",
    "landsat9": "OLI-2",
    "etm+": "ETM+",
    "etm": "ETM+",
    "l7": "ETM+",
    "landsat7": "ETM+",
}


#: Sensor key -> the instrument name scenes carry in ``Scene.sensor`` (the convention of
#: :mod:`burnwatch.types` and the detectors): both Sentinel-2 units are "MSI", both OLIs "OLI".
INSTRUMENT: Mapping[str, str] = {"S2A": "MSI", "S2B": "MSI", "OLI": "OLI", "OLI-2": "OLI", "ETM+": "ETM+"}


def instrument_name(sensor: str) -> str:
    """``Scene.sensor`` spelling for a sensor key or alias (``"s2b"`` -> ``"MSI"``)."""
    return INSTRUMENT[sensor_key(sensor)]


def sensor_key(sensor: str) -> str:
    """Canonical sensor key (``"S2A"``, ``"S2B"``, ``"OLI"``, ``"OLI-2"``, ``"ETM+"``) for a name
    or alias such as ``"s2"``, ``"landsat8"``, ``"l7"``; raise InputError when unknown."""
    if sensor in SENSORS:
        return sensor
    key = _ALIASES.get(sensor.strip().lower().replace("_", "").replace(" ", ""))
    if key is None:
        known = ", ".join(sorted({*SENSORS, *_ALIASES}))
        raise InputError(f"unknown sensor {sensor!r}; known: {known}")
    return key


def _table_for(sensor: str) -> Mapping[str, BandInfo]:
    return SENSORS[sensor_key(sensor)]


def normalise_band(sensor: str, name: str) -> str:
    """The table's spelling of a band name: Sentinel Hub's Landsat ``"B01"`` -> ``"B1"``,
    ``"b8a"`` -> ``"B8A"``, ``"9"`` -> ``"B09"`` for Sentinel-2. Raise InputError if unknown."""
    table = _table_for(sensor)
    raw = name.strip().upper()
    if raw in table:
        return raw
    match = re.fullmatch(r"B?0*(\d+)(A?)", raw)
    if match:
        num, suffix = match.groups()
        for candidate in (f"B{num}{suffix}", f"B{int(num):02d}{suffix}"):
            if candidate in table:
                return candidate
    raise InputError(f"band {name!r} is not a {sensor_key(sensor)} band; known: {', '.join(table)}")


def band_info(sensor: str, band: str) -> BandInfo:
    """The :class:`BandInfo` of ``band`` (any spelling :func:`normalise_band` accepts)."""
    return _table_for(sensor)[normalise_band(sensor, band)]


def roles_for(sensor: str) -> dict[str, str]:
    """Provider band name -> spectral role for every band of ``sensor`` that has a role."""
    return {b.name: b.role for b in _table_for(sensor).values() if b.role is not None}


def band_name(sensor: str, role: str) -> str:
    """The provider band name that plays ``role`` for ``sensor`` (e.g. S2 ``swir2`` -> ``"B12"``)."""
    if role not in BAND_ROLES:
        raise InputError(f"unknown spectral role {role!r}; known: {', '.join(BAND_ROLES)}")
    for band in _table_for(sensor).values():
        if band.role == role:
            return band.name
    raise InputError(f"sensor {sensor_key(sensor)} has no {role} band")


def role_of(sensor: str, band: str) -> str:
    """The spectral role of a provider band; InputError for bands without one (red edge)."""
    info = band_info(sensor, band)
    if info.role is None:
        raise InputError(f"{sensor_key(sensor)} band {info.name} has no spectral role burnwatch uses")
    return info.role


def solar_irradiance(sensor: str, role: str) -> float:
    """Mean exo-atmospheric solar irradiance E0 (W m-2 µm-1) of the band playing ``role``."""
    return band_info(sensor, band_name(sensor, role)).e0


def centre_wavelength(sensor: str, role: str) -> float:
    """Centre wavelength (µm) of the band playing ``role``."""
    return band_info(sensor, band_name(sensor, role)).centre_um
