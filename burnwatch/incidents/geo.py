"""Small metric helpers: a local UTM zone per location (WGS84 <-> metres)."""

from __future__ import annotations

from functools import lru_cache

from pyproj import Transformer
from shapely import ops
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


def project(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """WGS84 geometry -> the metric CRS ``epsg``."""
    return ops.transform(to_metric(epsg).transform, geom)


def unproject(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """Geometry in the metric CRS ``epsg`` -> WGS84."""
    return ops.transform(from_metric(epsg).transform, geom)


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
