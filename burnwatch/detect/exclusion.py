"""Exclusion layer of known static heat sources (brick kilns, factories, gas flares).

A user supplies a vector file (GeoJSON, GeoPackage, Shapefile: anything pyogrio reads) with a
name field. Points and lines are buffered by ``buffer_m`` metres (or by a per-feature
``radius_m`` attribute when present), in the local UTM zone; polygons are used as they are.
:func:`apply_exclusions` never drops a hotspot silently: suppressed hotspots are returned
separately, flagged ``static_source:<name>``, so a scan can report them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from burnwatch.errors import CorruptFileError, CRSError, InputError
from burnwatch.types import Hotspot

log = logging.getLogger(__name__)

DEFAULT_BUFFER_M = 150.0
FLAG_PREFIX = "static_source:"


@dataclass(frozen=True)
class ExclusionZone:
    """One static heat source area, WGS84 (lon, lat) geometry."""

    name: str
    geometry: BaseGeometry
    kind: str | None = None


def load_exclusion_zones(
    path: Path | str, name_field: str = "name", buffer_m: float = DEFAULT_BUFFER_M
) -> list[ExclusionZone]:
    """Read exclusion zones from a vector file; raise :class:`InputError` subclasses naming
    the file when it is missing, unreadable, has no/odd CRS or lacks ``name_field``."""
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise InputError("exclusion layer not found", path=path)
    if buffer_m < 0 or not math.isfinite(buffer_m):
        raise InputError(f"buffer must be a non-negative number of metres, got {buffer_m}", path=path)
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several unrelated types for bad files
        raise CorruptFileError(f"cannot read exclusion layer ({exc})", path=path) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        # e.g. a CSV without WKT/geometry: pyogrio reads it as a plain table
        raise InputError("exclusion layer has no geometries (not a vector layer?)", path=path)
    if frame.empty:
        log.warning("%s: exclusion layer has no features", path)
        return []
    if frame.crs is None:
        raise CRSError("exclusion layer has no CRS; save it with one (e.g. EPSG:4326)", path=path)
    if name_field not in frame.columns:
        fields = [c for c in frame.columns if c != "geometry"]
        raise InputError(f"exclusion layer has no {name_field!r} field (fields: {fields})", path=path)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.crs.is_geographic:
        minx, miny, maxx, maxy = frame.total_bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise CRSError(
                f"coordinates {frame.total_bounds.tolist()} are outside lon/lat range for {frame.crs}; "
                "wrong CRS declared?",
                path=path,
            )
    try:
        utm = frame.estimate_utm_crs()
        metric = frame.to_crs(utm)
    except Exception as exc:
        raise CRSError(f"cannot project exclusion layer to UTM ({exc})", path=path) from exc
    radius = metric["radius_m"] if "radius_m" in metric.columns else None
    geoms = []
    for i, geom in enumerate(metric.geometry):
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            geoms.append(geom)
        else:
            r = buffer_m
            if radius is not None and radius.iloc[i] is not None and math.isfinite(float(radius.iloc[i])):
                r = float(radius.iloc[i])
            geoms.append(geom.buffer(r, quad_segs=16))
    metric = metric.set_geometry(gpd.GeoSeries(geoms, index=metric.index, crs=utm))
    wgs = metric.to_crs("EPSG:4326")
    kinds = wgs["kind"] if "kind" in wgs.columns else None
    zones = [
        ExclusionZone(
            name=str(wgs[name_field].iloc[i]),
            geometry=wgs.geometry.iloc[i],
            kind=None if kinds is None or kinds.iloc[i] is None else str(kinds.iloc[i]),
        )
        for i in range(len(wgs))
    ]
    log.info("%s: %d exclusion zones", path, len(zones))
    return zones


def apply_exclusions(
    hotspots: Sequence[Hotspot], zones: Sequence[ExclusionZone]
) -> tuple[list[Hotspot], list[Hotspot]]:
    """Split hotspots into (kept, suppressed). A hotspot is suppressed when its WGS84
    footprint (or centre) intersects a zone; it gets the flag ``static_source:<zone name>``
    (one flag per zone hit). Order is preserved in both lists."""
    if not zones:
        return list(hotspots), []
    from shapely import STRtree

    tree = STRtree([z.geometry for z in zones])
    kept: list[Hotspot] = []
    suppressed: list[Hotspot] = []
    for h in hotspots:
        geom = h.footprint if h.footprint is not None else Point(h.lon, h.lat)
        hits = sorted(int(i) for i in tree.query(geom, predicate="intersects"))
        if not hits:
            hits = sorted(int(i) for i in tree.query(Point(h.lon, h.lat), predicate="intersects"))
        if hits:
            suppressed.append(h.with_flags(*(FLAG_PREFIX + zones[i].name for i in hits)))
        else:
            kept.append(h)
    if suppressed:
        log.info("suppressed %d of %d hotspots inside static heat sources", len(suppressed), len(hotspots))
    return kept, suppressed
