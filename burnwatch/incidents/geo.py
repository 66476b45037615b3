"""Small metric helpers: a local UTM zone per location (WGS84 <-> metres)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 / UTM zone containing (lon, lat) (e.g. 32648 for Hanoi)."""
    zone = min(60, max(1, int((lon + 180.0) // 6.0) + 1))
    return (32600 if lat >= 0 else 32700) + zone


@lru_cache(maxsize=32)
def to_metric(epsg: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


@lru_cache(maxsize=32)
def from_metric(epsg: int) -> Transformer:
    return Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)


def _apply(tr: Transformer, geom: BaseGeometry) -> BaseGeometry:
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def project(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """WGS84 geometry -> the metric CRS ``epsg``."""
    return _apply(to_metric(epsg), geom)


def unproject(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """Geometry in the metric CRS ``epsg`` -> WGS84."""
    return _apply(from_metric(epsg), geom)


def distance_m(a: BaseGeometry, b: BaseGeometry) -> float:
    """Shortest distance in metres between two WGS84 geometries (0 when they touch),
    measured in the UTM zone of ``b``'s centroid."""
    c = b.centroid
    epsg = utm_epsg(c.x, c.y)
    return float(project(a, epsg).distance(project(b, epsg)))


def degree_margin(distance: float, lat: float) -> tuple[float, float]:
    """(dlon, dlat) in degrees that surely cover ``distance`` metres around latitude ``lat``."""
    import math

    dlat = distance / 110_574.0 * 1.01
    coslat = max(0.01, math.cos(math.radians(min(89.0, abs(lat) + dlat))))
    return distance / (111_320.0 * coslat) * 1.01, dlat
