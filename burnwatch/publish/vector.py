"""Hotspot vector I/O: the one file schema every producer writes and the database reads.

* ``.geojson``: an RFC 7946 FeatureCollection in WGS84 (lon, lat order, no ``crs`` member),
  one Feature per hotspot with its footprint polygon as geometry.
* ``.gpkg``: a GeoPackage with layer ``hotspots`` (footprint polygons) and layer
  ``hotspot_points`` (centres), both EPSG:4326, same attribute columns.

:func:`read_hotspots` returns exactly what :func:`write_hotspots` was given (times to the
second, coordinates as float64), so a scan, a FIRMS import or a drone flight can be stored
as a file and ingested later without loss.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
from shapely import wkt
from shapely.geometry import Point, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from burnwatch.errors import CorruptFileError, InputError
from burnwatch.types import Hotspot

if TYPE_CHECKING:
    import geopandas as gpd

SCHEMA_VERSION = 1

#: Attribute columns, in order, written for every hotspot.
COLUMNS: tuple[str, ...] = (
    "source",
    "sensor",
    "algorithm",
    "algorithm_version",
    "kind",
    "time",
    "lon",
    "lat",
    "confidence",
    "confidence_class",
    "pixel_count",
    "frp_mw",
    "uncertainty_m",
    "scene_id",
    "crs",
    "x",
    "y",
    "footprint_native_wkt",
    "flags",
    "attributes",
)


def _as_polygon(geom: BaseGeometry, where: str) -> Polygon:
    if isinstance(geom, Polygon):
        return geom
    # A footprint that came back as a MultiPolygon with one part (GPKG promotes types).
    parts = getattr(geom, "geoms", None)
    if parts is not None and len(parts) == 1 and isinstance(parts[0], Polygon):
        return parts[0]
    raise InputError(f"footprint is a {geom.geom_type}, expected a Polygon", path=where)


def hotspot_properties(hs: Hotspot) -> dict[str, Any]:
    """The flat attribute record of one hotspot (JSON-safe; ``attributes`` as JSON text)."""
    return {
        "source": hs.source,
        "sensor": hs.sensor,
        "algorithm": hs.algorithm,
        "algorithm_version": hs.algorithm_version,
        "kind": hs.kind,
        "time": hs.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lon": hs.lon,
        "lat": hs.lat,
        "confidence": hs.confidence,
        "confidence_class": hs.confidence_class,
        "pixel_count": hs.pixel_count,
        "frp_mw": hs.frp_mw,
        "uncertainty_m": hs.uncertainty_m,
        "scene_id": hs.scene_id,
        "crs": hs.crs,
        "x": hs.x,
        "y": hs.y,
        "footprint_native_wkt": hs.footprint_native.wkt if hs.footprint_native is not None else None,
        "flags": ";".join(hs.flags),
        "attributes": json.dumps(dict(hs.attributes), ensure_ascii=False, sort_keys=True),
    }


def _none_if_nan(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def hotspot_from_properties(props: Mapping[str, Any], footprint: BaseGeometry, where: str) -> Hotspot:
    """Inverse of :func:`hotspot_properties`; ``where`` names the file for error messages."""
    try:
        native = _none_if_nan(props.get("footprint_native_wkt"))
        flags = _none_if_nan(props.get("flags")) or ""
        attributes = _none_if_nan(props.get("attributes")) or "{}"
        frp, unc = _none_if_nan(props.get("frp_mw")), _none_if_nan(props.get("uncertainty_m"))
        x, y = _none_if_nan(props.get("x")), _none_if_nan(props.get("y"))
        return Hotspot(
            source=str(props["source"]),
            sensor=str(props["sensor"]),
            algorithm=str(props["algorithm"]),
            algorithm_version=str(props.get("algorithm_version") or "1"),
            kind=props.get("kind") or "fire",
            time=datetime.fromisoformat(str(props["time"]).replace("Z", "+00:00")),
            lon=float(props["lon"]),
            lat=float(props["lat"]),
            confidence=float(props["confidence"]),
            confidence_class=props["confidence_class"],
            footprint=_as_polygon(footprint, where),
            crs=str(props.get("crs") or "EPSG:4326"),
            x=float(x) if x is not None else None,
            y=float(y) if y is not None else None,
            footprint_native=_as_polygon(wkt.loads(native), where) if native else None,
            pixel_count=int(props.get("pixel_count") or 1),
            frp_mw=float(frp) if frp is not None else None,
            uncertainty_m=float(unc) if unc is not None else None,
            scene_id=_none_if_nan(props.get("scene_id")),
            attributes=json.loads(attributes),
            flags=tuple(f for f in str(flags).split(";") if f),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"not a burnwatch hotspot record ({exc!r})", path=where) from exc


def hotspots_to_frame(hotspots: Sequence[Hotspot], *, points: bool = False) -> gpd.GeoDataFrame:
    """Hotspots as a GeoDataFrame in EPSG:4326 (footprints, or centres with ``points=True``)."""
    import geopandas as gpd

    records = [hotspot_properties(h) for h in hotspots]
    geoms = [Point(h.lon, h.lat) if points else h.footprint for h in hotspots]
    frame = gpd.GeoDataFrame(records, columns=list(COLUMNS), geometry=geoms, crs="EPSG:4326")
    return frame


def write_hotspots(hotspots: Sequence[Hotspot], path: Path) -> Path:
    """Write hotspots to ``path`` (``.geojson`` or ``.gpkg``); returns the path.

    An existing file is replaced atomically (written beside it, then renamed), so a reader
    never sees half a file and an empty scan still produces a valid, empty layer.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{suffix}")
    if suffix in (".geojson", ".json"):
        collection = {
            "type": "FeatureCollection",
            "burnwatch:schema": SCHEMA_VERSION,
            "features": [
                {
                    "type": "Feature",
                    # RFC 7946 §3.1.6: exterior rings counterclockwise
                    "geometry": mapping(shapely.orient_polygons(h.footprint)),
                    "properties": hotspot_properties(h),
                }
                for h in hotspots
            ],
        }
        tmp.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    elif suffix == ".gpkg":
        tmp.unlink(missing_ok=True)
        hotspots_to_frame(hotspots).to_file(tmp, layer="hotspots", driver="GPKG")
        hotspots_to_frame(hotspots, points=True).to_file(tmp, layer="hotspot_points", driver="GPKG")
    else:
        raise InputError("unsupported hotspot file type (use .geojson or .gpkg)", path=path)
    tmp.replace(path)
    return path


def read_hotspots(path: Path) -> list[Hotspot]:
    """Read hotspots written by :func:`write_hotspots` (GeoJSON or GeoPackage)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptFileError(f"not valid GeoJSON ({exc})", path=path) from exc
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            raise InputError("not a GeoJSON FeatureCollection", path=path)
        out = []
        for i, feature in enumerate(data.get("features", [])):
            where = f"{path}#feature{i}"
            try:
                geom = shape(feature["geometry"])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise InputError(f"feature {i} has no valid geometry", path=path) from exc
            out.append(hotspot_from_properties(feature.get("properties") or {}, geom, where))
        return out
    if suffix == ".gpkg":
        import pyogrio

        try:
            frame = pyogrio.read_dataframe(path, layer="hotspots")
        except Exception as exc:  # pyogrio raises several DataSourceError subclasses
            raise CorruptFileError(f"cannot read layer 'hotspots' ({exc})", path=path) from exc
        return [
            hotspot_from_properties(row._asdict(), row.geometry, f"{path}#row{i}")
            for i, row in enumerate(frame.itertuples(index=False))
        ]
    raise InputError("unsupported hotspot file type (use .geojson or .gpkg)", path=path)
