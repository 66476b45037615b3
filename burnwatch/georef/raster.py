"""Raster georeferencing: pixel <-> CRS <-> WGS84, and fire pixels -> :class:`Hotspot`.

Conventions (rasterio's): ``transform @ (col, row)`` gives the *corner* of a pixel in the
scene CRS; the centre of pixel (row, col) is ``transform @ (col + 0.5, row + 0.5)``. All
WGS84 coordinates are (lon, lat) order (pyproj ``always_xy=True``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from affine import Affine
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from burnwatch.errors import CRSError
from burnwatch.types import ConfidenceClass, Hotspot, Scene

if TYPE_CHECKING:
    from pyproj import Transformer

    from burnwatch.detect.spectral import FireResult

#: Hotspot.confidence for each class: the class mid-points on a 0-1 scale.
CLASS_CONFIDENCE: dict[int, tuple[ConfidenceClass, float]] = {
    1: ("low", 0.3),
    2: ("nominal", 0.6),
    3: ("high", 0.9),
}


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)
    except ProjCRSError as exc:
        raise CRSError(f"cannot transform between {src!r} and {dst!r}: {exc}") from exc


def pixel_centre(transform: Affine, row: float, col: float) -> tuple[float, float]:
    """(x, y) in the transform's CRS of the centre of pixel (row, col); fractional ok."""
    x, y = transform @ (col + 0.5, row + 0.5)
    return float(x), float(y)


def xy_to_pixel(transform: Affine, x: float, y: float) -> tuple[int, int]:
    """(row, col) of the pixel containing CRS point (x, y) (floor of the inverse transform)."""
    col, row = ~transform @ (x, y)
    return math.floor(row), math.floor(col)


def xy_to_lonlat(crs: str, x: float, y: float) -> tuple[float, float]:
    """CRS (x, y) -> WGS84 (lon, lat)."""
    lon, lat = _transformer(crs, "EPSG:4326").transform(x, y)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise CRSError(f"point ({x}, {y}) in {crs} has no WGS84 position")
    return float(lon), float(lat)


def lonlat_to_xy(crs: str, lon: float, lat: float) -> tuple[float, float]:
    """WGS84 (lon, lat) -> CRS (x, y)."""
    x, y = _transformer("EPSG:4326", crs).transform(lon, lat)
    return float(x), float(y)


def to_wgs84(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """A shapely geometry from ``crs`` to WGS84 (lon, lat)."""
    import shapely

    tf = _transformer(crs, "EPSG:4326")

    def project(xy: np.ndarray) -> np.ndarray:
        lon, lat = tf.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, project)


@lru_cache(maxsize=64)
def _metres_per_unit(crs: str) -> float | None:
    """Metres per horizontal unit of a projected CRS (1.0 for metres); None if geographic."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        parsed = CRS.from_user_input(crs)
    except ProjCRSError as exc:
        raise CRSError(f"unknown CRS {crs!r}: {exc}") from exc
    if parsed.is_geographic:
        return None
    axes = parsed.axis_info
    factor = axes[0].unit_conversion_factor if axes else 1.0
    return float(factor) if factor and math.isfinite(factor) else 1.0


@lru_cache(maxsize=1)
def _wgs84_geod() -> Any:
    from pyproj import Geod

    return Geod(ellps="WGS84")


def pixel_size_m(transform: Affine, crs: str, row: float, col: float) -> tuple[float, float]:
    """Ground (x, y) size in metres of pixel (row, col) (fractional ok).

    Projected CRSs: the grid size converted from the CRS unit (metres, US feet...). Geographic
    CRSs (degrees): the geodesic lengths (WGS84) across the pixel's middle, west-east and
    north-south, so the size shrinks with cos(latitude) as it should.
    """
    unit = _metres_per_unit(crs)
    if unit is not None:
        return abs(transform.a) * unit, abs(transform.e) * unit
    geod = _wgs84_geod()

    def across(a: tuple[float, float], b: tuple[float, float]) -> float:
        lon1, lat1 = xy_to_lonlat(crs, *(transform @ a))
        lon2, lat2 = xy_to_lonlat(crs, *(transform @ b))
        return float(geod.inv(lon1, lat1, lon2, lat2)[2])

    width = across((col, row + 0.5), (col + 1.0, row + 0.5))
    height = across((col + 0.5, row), (col + 0.5, row + 1.0))
    return width, height


def pixel_polygon(transform: Affine, row: int, col: int) -> Polygon:
    """The square of pixel (row, col) in the transform's CRS."""
    corners = [transform @ (col + dc, row + dr) for dr, dc in ((0, 0), (0, 1), (1, 1), (1, 0))]
    return Polygon(corners)


def _footprint(transform: Affine, cluster: np.ndarray, r0: int, c0: int) -> Polygon:
    """Union of the squares of the True pixels of ``cluster`` (offset r0, c0), one Polygon.

    Pixels joined only at a corner (8-connectivity) give a MultiPolygon; those are merged by
    a 1 mm mitred buffer, and the convex hull is the last resort.
    """
    from rasterio.features import shapes

    local = transform @ Affine.translation(c0, r0)
    parts = [
        Polygon(geom["coordinates"][0], geom["coordinates"][1:])
        for geom, value in shapes(cluster.astype(np.uint8), mask=cluster, transform=local)
        if value == 1
    ]
    geom = unary_union(parts)
    if isinstance(geom, MultiPolygon):
        geom = geom.buffer(0.001, join_style="mitre")
    if isinstance(geom, MultiPolygon):
        geom = geom.convex_hull
    if not isinstance(geom, Polygon):
        raise ValueError("fire cluster footprint is not a polygon")
    return geom


def fire_hotspots(
    scene: Scene, result: FireResult, min_class: int = 1, *, max_hotspots: int | None = None
) -> list[Hotspot]:
    """Group fire pixels (class >= ``min_class``) into hotspots, 8-connectivity.

    Each cluster becomes one :class:`Hotspot` with ``pixel_count``, a centre weighted by the
    pixel confidence classes, the footprint (union of pixel squares) in the scene CRS and in
    WGS84, ``confidence_class`` = the highest class in the cluster and ``confidence`` from
    :data:`CLASS_CONFIDENCE` (low 0.3, nominal 0.6, high 0.9). ``uncertainty_m`` is the
    1-sigma position error of a uniform sub-pixel location, pixel size / sqrt(6) (no
    geolocation error budget added), with the pixel size in metres on the ground at the
    hotspot (:func:`pixel_size_m`: also for scenes in degrees or feet). Clusters are ordered
    by (row, col) of their first pixel.
    """
    from scipy import ndimage

    if result.confidence.shape != scene.shape:
        raise ValueError(
            f"scene {scene.scene_id}: result shape {result.confidence.shape} != scene {scene.shape}"
        )
    mask = result.confidence >= min_class
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    hotspots: list[Hotspot] = []
    for index, slices in enumerate(ndimage.find_objects(labels), start=1):
        if slices is None:
            continue
        cluster = labels[slices] == index
        classes = np.where(cluster, result.confidence[slices], 0).astype(np.float64)
        rows, cols = np.nonzero(cluster)
        weights = classes[rows, cols]
        r0, c0 = slices[0].start, slices[1].start
        row_c = float(np.average(rows, weights=weights)) + r0
        col_c = float(np.average(cols, weights=weights)) + c0
        x, y = pixel_centre(scene.transform, row_c, col_c)
        px, py = pixel_size_m(scene.transform, scene.crs, row_c, col_c)
        lon, lat = xy_to_lonlat(scene.crs, x, y)
        native = _footprint(scene.transform, cluster, r0, c0)
        footprint = to_wgs84(native, scene.crs)
        top = int(weights.max())
        klass, conf = CLASS_CONFIDENCE[top]
        hotspots.append(
            Hotspot(
                source=scene.source,
                sensor=scene.sensor,
                algorithm=result.algorithm,
                algorithm_version=result.algorithm_version,
                time=scene.time,
                lon=lon,
                lat=lat,
                confidence=conf,
                confidence_class=klass,
                footprint=footprint if isinstance(footprint, Polygon) else footprint.convex_hull,
                crs=scene.crs,
                x=x,
                y=y,
                footprint_native=native,
                pixel_count=int(rows.size),
                uncertainty_m=math.hypot(px, py) / math.sqrt(12.0),
                scene_id=scene.scene_id,
                kind="fire",
                attributes={
                    "row": round(row_c, 2),
                    "col": round(col_c, 2),
                    "pixel_size_m": round(px, 3),
                    "tests_run": ",".join(result.tests_run),
                },
            )
        )
        if max_hotspots is not None and len(hotspots) >= max_hotspots:
            break
    return hotspots
