"""The interfaces every source implements, and the area-of-interest parser.

A *scene source* yields :class:`~burnwatch.types.Scene` objects (bands by role, CRS,
transform, UTC time); a *hotspot source* returns ready-made :class:`~burnwatch.types.Hotspot`
objects (NASA FIRMS). Both take a WGS84 :class:`~burnwatch.types.AOI` and a UTC time range.

Sources that process several items keep going when one item fails: the failure is logged
and appended to the source's ``errors`` list (a :class:`~burnwatch.errors.BurnwatchError`
naming the item), so a batch reports per-item errors instead of dying. Credential failures
(:class:`~burnwatch.errors.AuthError`) are raised at once: nothing else can succeed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from shapely.validation import make_valid

from burnwatch.errors import BurnwatchError, CRSError, EmptyAOIError, InputError
from burnwatch.types import AOI, Hotspot, Scene, utc

#: Satellite ``--source`` names of ``burnwatch scan``/``reprocess`` -> (Sentinel Hub collection,
#: default pixel size in metres: the SWIR bands' native 20 m for S2, 30 m for Landsat).
SATELLITE_SOURCES: dict[str, tuple[str, float]] = {
    "sentinel2": ("sentinel2-l1c", 20.0),
    "sentinel2-l2a": ("sentinel2-l2a", 20.0),
    "landsat": ("landsat-ot-l1", 30.0),
}

@runtime_checkable
class SceneSource(Protocol):
    """Anything that yields scenes over an AOI between two UTC times (inclusive)."""

    errors: list[BurnwatchError]

    def scenes(self, aoi: AOI, start: datetime, end: datetime) -> Iterator[Scene]: ...


@runtime_checkable
class HotspotSource(Protocol):
    """Anything that returns hotspots over an AOI between two UTC times (inclusive)."""

    def hotspots(self, aoi: AOI, start: datetime, end: datetime) -> list[Hotspot]: ...


_WGS84_NAMES = {"EPSG:4326", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84", "URN:OGC:DEF:CRS:EPSG::4326"}


def _check_lonlat(geom: BaseGeometry, where: str, path: Path | None) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise InputError(f"{where}: coordinates are not finite numbers", path=path)
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise CRSError(
            f"{where}: coordinates ({minx:g}, {miny:g}, {maxx:g}, {maxy:g}) are outside WGS84 "
            "lon/lat ranges (projected coordinates? lon/lat swapped?)",
            path=path,
        )


def _parse_bbox(text: str) -> AOI:
    parts = [p.strip() for p in text.split(",")]
    try:
        minlon, minlat, maxlon, maxlat = (float(p) for p in parts)
    except ValueError as exc:
        raise InputError(
            f"AOI {text!r} is neither 'min_lon,min_lat,max_lon,max_lat' nor an existing GeoJSON file"
        ) from exc
    geom = box(minlon, minlat, maxlon, maxlat) if minlon < maxlon and minlat < maxlat else None
    if geom is None:
        raise EmptyAOIError(
            f"AOI bbox {text!r} is empty or degenerate: need min_lon < max_lon and min_lat < max_lat"
        )
    _check_lonlat(geom, f"AOI bbox {text!r}", None)
    return AOI(geometry=geom, name="bbox")


def _geojson_geometries(doc: Any, path: Path) -> list[BaseGeometry]:
    if not isinstance(doc, dict) or "type" not in doc:
        raise InputError("not a GeoJSON object (no 'type' member)", path=path)
    kind = doc["type"]
    try:
        if kind == "FeatureCollection":
            feats = doc.get("features")
            if not isinstance(feats, list):
                raise InputError("FeatureCollection without a 'features' list", path=path)
            return [g for f in feats for g in _geojson_geometries(f, path)]
        if kind == "Feature":
            geom = doc.get("geometry")
            return [] if geom is None else [shape(geom)]
        return [shape(doc)]
    except InputError:
        raise
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InputError(f"invalid GeoJSON geometry: {exc}", path=path) from exc


def _declared_crs(doc: Any) -> str | None:
    crs = doc.get("crs") if isinstance(doc, dict) else None
    if not isinstance(crs, dict):
        return None
    name = crs.get("properties", {}).get("name")
    return str(name) if name else None


def read_aoi_file(path: Path) -> AOI:
    """Read a GeoJSON file (geometry, Feature or FeatureCollection, WGS84) as one AOI.

    All polygonal geometries are unioned; the AOI is named after the file stem.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read AOI file: {exc}", path=path) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})", path=path) from exc
    crs = _declared_crs(doc)
    if crs is not None and crs.upper().replace("::", ":") not in _WGS84_NAMES and "CRS84" not in crs.upper():
        raise CRSError(f"AOI must be WGS84 (RFC 7946), file declares crs {crs!r}", path=path)
    geoms = [g for g in _geojson_geometries(doc, path) if not g.is_empty]
    polys = [make_valid(g) if not g.is_valid else g for g in geoms]
    polys = [g for g in polys if g.area > 0]
    if not polys:
        raise EmptyAOIError("AOI file has no polygon with a non-zero area", path=path)
    geom = unary_union(polys)
    _check_lonlat(geom, "AOI", path)
    return AOI(geometry=geom, name=path.stem)


def parse_aoi(text: str) -> AOI:
    """Parse ``"min_lon,min_lat,max_lon,max_lat"`` (WGS84 degrees) or a GeoJSON file path.

    Raises :class:`EmptyAOIError` for empty/degenerate areas, :class:`CRSError` for coordinates
    outside lon/lat ranges or a non-WGS84 ``crs`` member, :class:`InputError` otherwise.
    """
    text = text.strip()
    if not text:
        raise EmptyAOIError("AOI is empty")
    path = Path(text).expanduser()
    if path.suffix.lower() in {".geojson", ".json"} or path.exists():
        if not path.exists():
            raise InputError("AOI file not found", path=path)
        return read_aoi_file(path)
    return _parse_bbox(text)


def inclusive_end(end: datetime) -> datetime:
    """``end`` as aware UTC; a date given at midnight exactly means the whole day (23:59:59.999999)."""
    end = utc(end)
    if end.hour == end.minute == end.second == end.microsecond == 0:
        return end + timedelta(days=1) - timedelta(microseconds=1)
    return end


def utm_crs_for(lon: float, lat: float) -> str:
    """The WGS84 / UTM zone CRS (``"EPSG:326zz"`` north, ``"EPSG:327zz"`` south) containing a point.

    Plain 6-degree zones (no Norway/Svalbard exceptions; irrelevant for Vietnam, zones 48-49).
    """
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise CRSError(f"point lon={lon} lat={lat} is outside WGS84 ranges")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
