"""Local GeoTIFFs (any CRS, any band order) as scenes.

A *band map* says which file band plays which spectral role: either a mapping
``{"swir2": 3, "swir1": 2}`` (1-based band indexes) or a preset string
``"<sensor>:<band>,<band>,..."`` naming the sensor bands in file order, e.g.
``"s2:B9,B11,B12"`` (roles from :mod:`burnwatch.sources.bands`).

Values become float32 reflectance (0-1) with NaN for nodata. ``scale`` is a multiplier
applied to the raw values; ``"auto"`` keeps values whose 99th percentile is <= 1.5, divides
values above 255 by 10,000 (the Sentinel-2 L1C / Harmonised Landsat convention,
"DN = reflectance x 10,000") and refuses 8-bit-looking data in between, which needs a real
radiometric calibration (see :func:`etm_plus_toa_reflectance`).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from affine import Affine

from burnwatch.errors import BurnwatchError, CorruptFileError, CRSError, InputError
from burnwatch.sources import bands as band_tables
from burnwatch.types import AOI, BAND_ROLES, Scene, utc

log = logging.getLogger(__name__)

Calibration = Callable[[str, np.ndarray], np.ndarray]
Scale = float | Literal["auto"] | None

_DATE_IN_TEXT = re.compile(r"(?<!\d)(19[7-9]\d|20\d\d)[-_]?(0[1-9]|1[0-2])[-_]?(0[1-9]|[12]\d|3[01])(?!\d)")


def parse_band_map(band_map: Mapping[str, int] | str) -> tuple[dict[str, int], str | None]:
    """``(role -> 1-based band index, sensor key or None)`` from a mapping or preset string."""
    if isinstance(band_map, str):
        sensor_part, sep, names = band_map.partition(":")
        if not sep or not names.strip():
            raise InputError(f"band map {band_map!r} must look like 's2:B9,B11,B12'")
        sensor = band_tables.sensor_key(sensor_part)
        roles: dict[str, int] = {}
        for index, name in enumerate(names.split(","), start=1):
            role = band_tables.role_of(sensor, name)
            if role in roles:
                raise InputError(f"band map {band_map!r} names the {role} band twice")
            roles[role] = index
        return roles, sensor
    out: dict[str, int] = {}
    for role, index in band_map.items():
        if role not in BAND_ROLES:
            raise InputError(f"unknown spectral role {role!r} in band map; known: {', '.join(BAND_ROLES)}")
        if not isinstance(index, int) or isinstance(index, bool) or index < 1:
            raise InputError(f"band map index for {role} must be a 1-based integer, got {index!r}")
        out[role] = index
    return out, None


def _open(path: Path) -> Any:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    if not path.exists():
        raise InputError("file not found", path=path)
    try:
        with warnings.catch_warnings():
            # a missing transform is refused by _georef with a clear error instead
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioIOError as exc:
        raise CorruptFileError(f"not a readable raster ({exc})", path=path) from exc


_NO_TRANSFORM = (Affine.identity(), Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0))


def _georef(ds: Any, path: Path) -> Affine:
    """The file's pixel-to-map transform; CRSError when the file has none usable.

    GDAL reports a file without a geotransform as the identity matrix (rasterio only warns):
    read as is, its pixels would land near lon -127.5, lat 0 (or 0, 0 in degrees).
    """
    gcps, _ = ds.gcps
    if gcps or ds.rpcs:
        raise CRSError(
            "no georeferencing grid: the file has only ground control points / RPCs; "
            "warp it to a map grid first (e.g. gdalwarp -t_srs EPSG:32648 in.tif out.tif)",
            path=path,
        )
    transform = Affine(*ds.transform[:6])
    if transform in _NO_TRANSFORM:
        raise CRSError(
            "no georeferencing: the pixel-to-map transform is missing; "
            "assign one (e.g. gdal_edit.py -a_ullr ULX ULY LRX LRY) or use a georeferenced file",
            path=path,
        )
    if transform.is_degenerate or not all(math.isfinite(v) for v in transform[:6]):
        shown = tuple(transform[:6])
        raise CRSError(f"invalid georeferencing: degenerate pixel-to-map transform {shown}", path=path)
    return transform


def _to_reflectance(raw: np.ndarray, nodata: float | None) -> np.ndarray:
    data = raw.astype(np.float32, copy=True)
    if nodata is not None and not math.isnan(nodata):
        data[raw == nodata] = np.nan
    data[~np.isfinite(data)] = np.nan
    return data


def _auto_scale(arrays: Sequence[np.ndarray], path: Path | str) -> float:
    finite = np.concatenate([a[np.isfinite(a)].ravel()[::7] for a in arrays])
    if finite.size == 0:
        raise InputError("every pixel is nodata", path=path)
    p99 = float(np.percentile(finite, 99))
    if p99 <= 1.5:
        return 1.0
    if float(finite.max()) > 255.0:
        return 1e-4
    raise InputError(
        f"values up to {p99:g} look like 8-bit digital numbers, not reflectance or DN x 10,000; "
        "pass scale= or a calibration (e.g. etm_plus_toa_reflectance)",
        path=path,
    )


def _apply_scale(
    data: dict[str, np.ndarray], scale: Scale, calibration: Calibration | None, path: Path | str
) -> float | None:
    if calibration is not None:
        for role in data:
            data[role] = np.asarray(calibration(role, data[role]), dtype=np.float32)
        return None
    factor = _auto_scale(list(data.values()), path) if scale == "auto" else (1.0 if scale is None else scale)
    if factor != 1.0:
        for role in data:
            data[role] *= np.float32(factor)
    return float(factor)


def _time_from(ds: Any, path: Path) -> datetime | None:
    tags = ds.tags()
    for key in ("ACQUISITION_TIME", "ACQUISITION_DATE", "DATETIME", "TIFFTAG_DATETIME"):
        value = tags.get(key)
        if not value:
            continue
        text = value.strip().replace("Z", "+00:00")
        if key == "TIFFTAG_DATETIME":  # "YYYY:MM:DD HH:MM:SS"
            text = text.replace(":", "-", 2)
        try:
            return utc(datetime.fromisoformat(text))
        except ValueError:
            continue
    texts = [path.name, *(d for d in ds.descriptions if d)]
    for text in texts:
        match = _DATE_IN_TEXT.search(text)
        if match:
            y, m, d = (int(g) for g in match.groups())
            return datetime(y, m, d, tzinfo=timezone.utc)
    return None


def _float_tag(ds: Any, *keys: str) -> float | None:
    tags = ds.tags()
    for key in keys:
        if key in tags:
            try:
                return float(tags[key])
            except ValueError:
                continue
    return None


def _instrument(sensor: str) -> str:
    """Known sensor names/aliases -> instrument name ("l8" -> "OLI"); anything else unchanged."""
    try:
        return band_tables.instrument_name(sensor)
    except InputError:
        return sensor


@lru_cache(maxsize=64)
def _crs_from_wkt(wkt: str) -> str:
    """``"EPSG:n"`` when the WKT matches an EPSG code (rasterio's >= 70 % confidence), else the WKT.

    Cached: identifying a CRS without an AUTHORITY node searches the PROJ database (~0.1 s).
    """
    from rasterio.crs import CRS

    epsg = CRS.from_wkt(wkt).to_epsg()
    return f"EPSG:{epsg}" if epsg else wkt


def _crs_string(ds: Any, path: Path) -> str:
    if ds.crs is None:
        raise CRSError("raster has no CRS; assign one (e.g. gdal_edit.py -a_srs EPSG:32648)", path=path)
    return _crs_from_wkt(ds.crs.to_wkt())


def read_geotiff(
    path: str | Path,
    band_map: Mapping[str, int] | str,
    *,
    sensor: str | None = None,
    time: datetime | None = None,
    scale: Scale = "auto",
    calibration: Calibration | None = None,
    level: Literal["toa", "boa"] = "toa",
    sun_zenith: float | None = None,
    sun_azimuth: float | None = None,
    scene_id: str | None = None,
    source: str = "file",
) -> Scene:
    """Read one GeoTIFF (any CRS, any band order) into a :class:`Scene` in the file's own CRS.

    ``time`` (UTC) defaults to file tags (``ACQUISITION_TIME``/``TIFFTAG_DATETIME``) or a
    ``YYYYMMDD`` date in the file name or band descriptions; InputError if none is found.
    ``sensor`` defaults to the preset's sensor. Sun angles (degrees) come from the arguments
    or ``SUN_ZENITH``/``SUN_AZIMUTH`` tags.
    """
    path = Path(path)
    roles, preset_sensor = parse_band_map(band_map)
    with _open(path) as ds:
        transform = _georef(ds, path)
        crs = _crs_string(ds, path)
        for role, index in roles.items():
            if index > ds.count:
                raise InputError(
                    f"band map asks band {index} for {role}, file has {ds.count} band(s)", path=path
                )
        try:
            data = {role: _to_reflectance(ds.read(index), ds.nodata) for role, index in roles.items()}
        except Exception as exc:  # truncated tiles surface as RasterioIOError or CPLE_* errors
            raise CorruptFileError(f"cannot read pixels ({exc})", path=path) from exc
        when = utc(time) if time is not None else _time_from(ds, path)
        zenith = sun_zenith if sun_zenith is not None else _float_tag(ds, "SUN_ZENITH", "SUN_ZENITH_ANGLE")
        azimuth = (
            sun_azimuth if sun_azimuth is not None else _float_tag(ds, "SUN_AZIMUTH", "SUN_AZIMUTH_ANGLE")
        )
    if when is None:
        raise InputError("no acquisition time in tags or file name; pass time=", path=path)
    factor = _apply_scale(data, scale, calibration, path)
    sensor_name = _instrument(sensor) if sensor else None
    sensor_name = sensor_name or (band_tables.instrument_name(preset_sensor) if preset_sensor else "unknown")
    return Scene(
        scene_id=scene_id or path.stem,
        source=source,
        sensor=sensor_name,
        time=when,
        crs=crs,
        transform=transform,
        bands=data,
        level=level,
        sun_zenith=zenith,
        sun_azimuth=azimuth,
        metadata={
            "path": str(path),
            "band_map": dict(roles),
            "scale": factor,
            "sensor_key": preset_sensor,
            **({"saturation": sat} if (sat := _saturation(calibration, list(data))) else {}),
        },
    )


def read_band_files(
    files: Mapping[str, str | Path],
    *,
    sensor: str,
    time: datetime,
    scale: Scale = "auto",
    calibration: Calibration | None = None,
    level: Literal["toa", "boa"] = "toa",
    sun_zenith: float | None = None,
    sun_azimuth: float | None = None,
    scene_id: str | None = None,
    source: str = "file",
) -> Scene:
    """Stack single-band files ``{role: path}`` that share one grid into a :class:`Scene`.

    Every file must have the same CRS, transform and shape (CRSError / InputError otherwise).
    """
    data: dict[str, np.ndarray] = {}
    grid: tuple[str, Affine, tuple[int, int]] | None = None
    first: Path | None = None
    for role, raw_path in files.items():
        if role not in BAND_ROLES:
            raise InputError(f"unknown spectral role {role!r}; known: {', '.join(BAND_ROLES)}")
        path = Path(raw_path)
        with _open(path) as ds:
            transform = _georef(ds, path)
            this = (_crs_string(ds, path), transform, (ds.height, ds.width))
            try:
                data[role] = _to_reflectance(ds.read(1), ds.nodata)
            except Exception as exc:
                raise CorruptFileError(f"cannot read pixels ({exc})", path=path) from exc
        if grid is None:
            grid, first = this, path
        elif this[0] != grid[0]:
            raise CRSError(f"CRS {this[0]} differs from {grid[0]} of {first}", path=path)
        elif this[1:] != grid[1:]:
            raise InputError(f"grid (transform/shape) differs from {first}", path=path)
    if grid is None:
        raise InputError("no band files given")
    factor = _apply_scale(data, scale, calibration, first or "")
    return Scene(
        scene_id=scene_id or (first.stem if first else "bands"),
        source=source,
        sensor=_instrument(sensor),
        time=time,
        crs=grid[0],
        transform=grid[1],
        bands=data,
        level=level,
        sun_zenith=sun_zenith,
        sun_azimuth=sun_azimuth,
        metadata={
            "paths": {r: str(p) for r, p in files.items()},
            "scale": factor,
            **({"saturation": sat} if (sat := _saturation(calibration, list(data))) else {}),
        },
    )


# Landsat 7 ETM+ radiometric calibration, Chander, Markham & Helder (2009), Table 8
# (LMIN/LMAX, W m-2 sr-1 µm-1, QCALMIN=1, QCALMAX=255) for products processed with the
# calibration in force before / after 1 July 2000.
_ETM_LMINMAX = {
    "pre-2000-07-01": {
        "low": {"blue": (-6.2, 297.5), "green": (-6.0, 303.4), "red": (-4.5, 235.5),
                "nir": (-4.5, 235.0), "swir1": (-1.0, 47.70), "swir2": (-0.35, 16.60)},
        "high": {"blue": (-6.2, 194.3), "green": (-6.0, 202.4), "red": (-4.5, 158.6),
                 "nir": (-4.5, 157.5), "swir1": (-1.0, 31.76), "swir2": (-0.35, 10.932)},
    },
    "post-2000-07-01": {
        "low": {"blue": (-6.2, 293.7), "green": (-6.4, 300.9), "red": (-5.0, 234.4),
                "nir": (-5.1, 241.1), "swir1": (-1.0, 47.57), "swir2": (-0.35, 16.54)},
        "high": {"blue": (-6.2, 191.6), "green": (-6.4, 196.5), "red": (-5.0, 152.9),
                 "nir": (-5.1, 157.4), "swir1": (-1.0, 31.06), "swir2": (-0.35, 10.80)},
    },
}  # fmt: skip


def earth_sun_distance_au(day: date) -> float:
    """Earth-Sun distance (AU) for a date, ``1 - 0.01672 cos(0.9856 (doy - 4))`` (degrees)."""
    doy = day.timetuple().tm_yday
    return 1.0 - 0.01672 * math.cos(math.radians(0.9856 * (doy - 4)))


@dataclass(frozen=True)
class EtmPlusCalibration:
    """Landsat 7 ETM+ 8-bit DNs (1-255) -> TOA reflectance; a :data:`Calibration`.

    ``L = (LMAX - LMIN) / 254 * (DN - 1) + LMIN`` (Chander et al. 2009, eq. 1 and Table 8),
    ``rho = pi L d^2 / (ESUN cos(theta_s))`` (eq. 5, ESUN from Table 11). ``gain`` is ``"high"``
    / ``"low"`` for every band or a per-role mapping (ETM+ normally images land at high gain
    in bands 1-3, 5, 7; band 4 switches with sun elevation). ``sun_zenith`` in degrees.
    DN 0 (fill) becomes NaN. :meth:`saturation` is the reflectance of DN 255, which the
    Landsat fire tests need (a saturated band 7 hides the fire signal).
    """

    sun_zenith: float
    acquired: date
    gain: str | Mapping[str, str] = "high"
    qcal_max: ClassVar[float] = 255.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.sun_zenith < 90.0:
            raise InputError(f"sun zenith {self.sun_zenith} deg must be in [0, 90)")

    def __call__(self, role: str, dn: np.ndarray) -> np.ndarray:
        g = self.gain if isinstance(self.gain, str) else self.gain.get(role, "high")
        g = {"h": "high", "l": "low"}.get(g.lower(), g.lower())
        if g not in ("high", "low"):
            raise InputError(f"ETM+ gain must be 'high' or 'low', got {g!r}")
        period = "pre-2000-07-01" if self.acquired < date(2000, 7, 1) else "post-2000-07-01"
        table = _ETM_LMINMAX[period][g]
        if role not in table:
            raise InputError(f"no ETM+ calibration for role {role!r}; ETM+ roles: {', '.join(table)}")
        lmin, lmax = table[role]
        dn = np.asarray(dn, dtype=np.float32)
        radiance = (lmax - lmin) / 254.0 * (dn - 1.0) + lmin
        esun = band_tables.solar_irradiance("ETM+", role)
        d2 = earth_sun_distance_au(self.acquired) ** 2
        cos_sz = math.cos(math.radians(self.sun_zenith))
        rho = (np.pi * radiance * d2 / (esun * cos_sz)).astype(np.float32)
        rho[dn < 1.0] = np.nan  # QCAL 0 is fill in Landsat L1 products
        return rho

    def saturation(self, role: str) -> float:
        """TOA reflectance at the highest DN (255) of ``role``."""
        return float(self(role, np.array([self.qcal_max], dtype=np.float32))[0])


def etm_plus_toa_reflectance(
    sun_zenith: float, acquired: date, gain: str | Mapping[str, str] = "high"
) -> EtmPlusCalibration:
    """The ETM+ DN -> TOA reflectance calibration (see :class:`EtmPlusCalibration`)."""
    return EtmPlusCalibration(sun_zenith, acquired, gain)


def _saturation(calibration: Calibration | None, roles: Sequence[str]) -> dict[str, float] | None:
    """Per-role saturation reflectance when the calibration knows it (8-bit sensors)."""
    if not isinstance(calibration, EtmPlusCalibration):
        return None
    return {role: calibration.saturation(role) for role in roles}


class LocalSource:
    """GeoTIFF files as a :class:`~burnwatch.sources.base.SceneSource`.

    Files whose footprint misses the AOI or whose time lies outside [start, end] are skipped
    (logged); unreadable files are logged and kept in :attr:`errors`, the rest still load.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        band_map: Mapping[str, int] | str,
        *,
        sensor: str | None = None,
        time: datetime | None = None,
        scale: Scale = "auto",
        **read_kwargs: Any,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.band_map = band_map
        self.sensor, self.time, self.scale = sensor, time, scale
        self.read_kwargs = read_kwargs
        self.errors: list[BurnwatchError] = []

    def scenes(self, aoi: AOI, start: datetime, end: datetime) -> Iterator[Scene]:
        from burnwatch.sources.base import inclusive_end

        start, end = utc(start), inclusive_end(end)
        for path in self.paths:
            try:
                scene = read_geotiff(
                    path,
                    self.band_map,
                    sensor=self.sensor,
                    time=self.time,
                    scale=self.scale,
                    **self.read_kwargs,
                )
            except BurnwatchError as exc:
                log.error("%s", exc)
                self.errors.append(exc)
                continue
            if not start <= scene.time <= end:
                log.info("%s: acquired %s, outside %s..%s; skipped", path, scene.time, start, end)
                continue
            if not scene_intersects(scene, aoi):
                log.info("%s: does not intersect AOI %s; skipped", path, aoi.name)
                continue
            yield scene


def scene_intersects(scene: Scene, aoi: AOI) -> bool:
    """Whether the scene's footprint intersects the (WGS84) AOI.

    The scene outline (densified, so a UTM edge stays a good WGS84 curve) is taken to WGS84,
    not the AOI to the scene CRS: an AOI far outside a projected CRS's zone (a country, the
    world) has no finite coordinates there.
    """
    from pyproj import Transformer
    from shapely.geometry import Polygon

    rows, cols = scene.shape
    t = scene.transform
    n = 16
    edge = [(c, 0.0) for c in np.linspace(0, cols, n)] + [(float(cols), r) for r in np.linspace(0, rows, n)]
    edge += [(c, float(rows)) for c in np.linspace(cols, 0, n)] + [(0.0, r) for r in np.linspace(rows, 0, n)]
    xs, ys = zip(*(t @ (c, r) for c, r in edge), strict=True)
    to_wgs84 = Transformer.from_crs(scene.crs, "EPSG:4326", always_xy=True)
    lons, lats = to_wgs84.transform(np.asarray(xs), np.asarray(ys))
    outline = Polygon(zip(lons, lats, strict=True))
    if not outline.is_valid:
        outline = outline.buffer(0)
    return bool(outline.intersects(aoi.geometry))
