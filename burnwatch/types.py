"""Typed values passed between stages: fetch -> detect -> georeference -> store -> publish.

Conventions used everywhere in burnwatch:

* Times are timezone-aware UTC :class:`datetime.datetime`.
* Reflectance arrays are ``float32`` top-of-atmosphere (or surface, see ``Scene.level``)
  reflectance, unitless (0-1), ``NaN`` where invalid.
* Bands are keyed by their *spectral role* (:data:`BAND_ROLES`) so detectors work across
  sensors; the sensor-specific name (Sentinel-2 ``B12``, Landsat-8 ``B7``) lives in
  :mod:`burnwatch.sources.bands`.
* Every coordinate says its CRS: ``lon``/``lat`` are WGS84 (EPSG:4326); ``x``/``y`` are in
  the CRS named next to them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

import numpy as np
from affine import Affine
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

#: Spectral roles a scene's bands can have (centre wavelength, µm).
BAND_ROLES: Mapping[str, float] = {
    "coastal": 0.443,
    "blue": 0.490,
    "green": 0.560,
    "red": 0.665,
    "nir": 0.842,  # broad NIR (S2 B8, OLI B5, ETM+ B4)
    "nir_narrow": 0.865,  # S2 B8A
    "wv": 0.945,  # S2 B9 water vapour
    "cirrus": 1.375,
    "swir1": 1.61,
    "swir2": 2.19,
    "tir1": 10.9,
}

ConfidenceClass = Literal["low", "nominal", "high"]
CONFIDENCE_CLASSES: tuple[ConfidenceClass, ...] = ("low", "nominal", "high")


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime (naive input is taken to be UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


@dataclass(frozen=True, eq=False)
class Scene:
    """One acquisition on a regular grid.

    ``bands`` maps spectral role -> 2-D float32 reflectance array, all the same shape.
    ``transform`` maps (col, row) pixel corners to ``crs`` coordinates (rasterio convention).
    ``sun_zenith``/``sun_azimuth`` are degrees, needed to turn radiance into reflectance.
    """

    scene_id: str
    source: str  # "sentinel2", "landsat", "file", "demo"
    sensor: str  # "MSI", "OLI", "ETM+", ...
    time: datetime
    crs: str  # anything rasterio.crs.CRS.from_user_input accepts, e.g. "EPSG:32648"
    transform: Affine
    bands: Mapping[str, np.ndarray]
    level: Literal["toa", "boa"] = "toa"
    sun_zenith: float | None = None
    sun_azimuth: float | None = None
    cloud_cover: float | None = None  # percent, as reported by the provider
    metadata: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shapes = {np.shape(a) for a in self.bands.values()}
        if len(shapes) > 1:
            raise ValueError(f"scene {self.scene_id}: bands differ in shape {sorted(shapes)}")
        object.__setattr__(self, "time", utc(self.time))

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        first = next(iter(self.bands.values()))
        return (int(first.shape[0]), int(first.shape[1]))

    @property
    def pixel_size(self) -> tuple[float, float]:
        """(x, y) pixel size in CRS units (metres for projected CRSs), both positive."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def pixel_area_m2(self) -> float:
        """Area of one pixel; only meaningful for a metric CRS."""
        sx, sy = self.pixel_size
        return sx * sy

    def has(self, *roles: str) -> bool:
        return all(r in self.bands for r in roles)


@dataclass(frozen=True)
class Hotspot:
    """One georeferenced fire (or smoke) detection from any source.

    ``lon``/``lat``: centre, WGS84. ``x``/``y``: centre in ``crs`` (the scene's or a local
    UTM zone). ``footprint`` is WGS84; ``footprint_native`` is in ``crs``.
    ``confidence`` is 0-1 on the source's own scale mapped to a common range;
    ``confidence_class`` keeps the source's own low/nominal/high meaning.
    ``frp_mw`` is fire radiative power in MW where the source gives one.
    ``uncertainty_m`` is a 1-sigma horizontal position uncertainty in metres.
    """

    source: str  # "sentinel2", "landsat", "firms", "drone", "field", "file", "demo"
    sensor: str
    algorithm: str
    time: datetime
    lon: float
    lat: float
    confidence: float
    confidence_class: ConfidenceClass
    footprint: Polygon
    crs: str = "EPSG:4326"
    x: float | None = None
    y: float | None = None
    footprint_native: Polygon | None = None
    pixel_count: int = 1
    frp_mw: float | None = None
    uncertainty_m: float | None = None
    scene_id: str | None = None
    kind: Literal["fire", "smoke"] = "fire"
    algorithm_version: str = "1"
    attributes: Mapping[str, float | int | str | None] = field(default_factory=dict)
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", utc(self.time))
        if not (-180.0 <= self.lon <= 180.0 and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"hotspot outside WGS84 range: lon={self.lon} lat={self.lat}")
        if not 0.0 <= self.confidence <= 1.0 or math.isnan(self.confidence):
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")

    @property
    def natural_key(self) -> tuple[str, str, str, str, float, float]:
        """(source, sensor, algorithm, ISO time, lon, lat) rounded to ~1 m: the dedup key."""
        return (
            self.source,
            self.sensor,
            self.algorithm,
            self.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            round(self.lon, 5),
            round(self.lat, 5),
        )

    def with_flags(self, *flags: str) -> Hotspot:
        from dataclasses import replace

        return replace(self, flags=tuple(dict.fromkeys((*self.flags, *flags))))


@dataclass(frozen=True)
class Box:
    """A pixel box in image coordinates: x to the right, y down, pixels, x1<x2, y1<y2."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)


@dataclass(frozen=True)
class Detection:
    """One object found by the image detector, in pixel space (no georeference yet)."""

    class_id: int
    class_name: str  # "fire" | "smoke"
    score: float  # detector confidence 0-1
    box: Box
    image: str | None = None  # file the detection came from, if any


@dataclass(frozen=True)
class AOI:
    """An area of interest: a WGS84 polygon (or multipolygon) with a name."""

    geometry: BaseGeometry
    name: str = "aoi"

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat), WGS84."""
        minx, miny, maxx, maxy = self.geometry.bounds
        return (float(minx), float(miny), float(maxx), float(maxy))
