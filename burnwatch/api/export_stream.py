"""Exports of every matching incident or hotspot, however many, in bounded memory.

Rows come from the database one page at a time (:func:`burnwatch.api.queries.incident_pages`,
:func:`~burnwatch.api.queries.hotspot_pages`). CSV, GeoJSON and KML are written page by page
straight into the response; a GeoPackage (an SQLite file, which cannot be streamed) is built
page by page in a temporary file and sent when complete. The content is that of
:mod:`burnwatch.incidents.exports` (same columns, properties, placemark names and descriptions;
``tests/test_api_core.py`` compares them), which writes whole lists at once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from burnwatch.incidents.exports import hotspot_summary, incident_properties, iso_time, row_to_hotspot
from burnwatch.store.models import Case, HotspotRow, Incident

IncidentPage = list[tuple[Incident, Case | None]]
#: GeoPackage column types, fixed so that every page appends to the same fields (a column
#: that is empty on the first page would otherwise become text).
INCIDENT_DTYPES = {"case_id": "Int64", "confidence": "float64", "lon": "float64", "lat": "float64"}
HOTSPOT_DTYPES = {
    "lon": "float64", "lat": "float64", "confidence": "float64", "frp_mw": "float64",
    "uncertainty_m": "float64", "x": "float64", "y": "float64", "pixel_count": "int64",
}  # fmt: skip
KML_POLYGON_STYLE = "640000ff"  # red, alpha 100 (aabbggrr), as the library export
KML_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n'
    "<Document>\n<name>{name}</name>\n"
    f'<Style id="incident"><PolyStyle><color>{KML_POLYGON_STYLE}</color></PolyStyle></Style>\n'
)
KML_TAIL = "</Document>\n</kml>\n"


# --- incidents ------------------------------------------------------------------------------


def incident_chunks(fmt: str, pages: Iterable[IncidentPage]) -> Iterator[str]:
    """The export as text chunks (one per page) for ``fmt`` csv, geojson or kml."""
    if fmt == "csv":
        rows = ([{**incident_properties(i, c), "wkt": i.geom.wkt} for i, c in page] for page in pages)
        return csv_chunks(rows, empty=["incident_id", "wkt"])
    if fmt == "geojson":
        return geojson_chunks({}, ([_incident_feature(i, c) for i, c in page] for page in pages))
    return kml_chunks("burnwatch incidents", ([_incident_placemark(i, c) for i, c in page] for page in pages))


def _incident_feature(inc: Incident, case: Case | None) -> dict[str, Any]:
    props = incident_properties(inc, case)
    return {"type": "Feature", "id": inc.id, "geometry": mapping(inc.geom), "properties": props}


def _incident_placemark(inc: Incident, case: Case | None) -> str:
    p = incident_properties(inc, case)
    where = ", ".join(x for x in (p["commune"], p["province"]) if x)
    name = f"Incident {inc.id}" + (f" — {where}" if where else "")
    desc = "\n".join(f"{k}: {v}" for k, v in p.items() if v is not None)
    geom = inc.geom
    if geom.geom_type == "Polygon":
        return placemark(name, desc, _polygon(geom), style="incident")
    return placemark(name, desc, _point(inc.lon, inc.lat))


def write_incidents_gpkg(pages: Iterable[IncidentPage], path: Path) -> Path:
    """Layer ``incidents`` (hull polygons + properties), appended one page at a time."""
    import geopandas as gpd

    mode = "w"
    for page in pages:
        props = [incident_properties(i, c) for i, c in page]
        frame = gpd.GeoDataFrame(props, geometry=[i.geom for i, _ in page], crs="EPSG:4326")
        frame.astype(INCIDENT_DTYPES).to_file(path, layer="incidents", driver="GPKG", mode=mode)
        mode = "a"
    if mode == "w":
        empty = gpd.GeoDataFrame({"incident_id": []}, geometry=[], crs="EPSG:4326")
        empty.to_file(path, layer="incidents", driver="GPKG")
    return path


# --- hotspots -------------------------------------------------------------------------------


def hotspot_chunks(fmt: str, pages: Iterable[list[HotspotRow]]) -> Iterator[str]:
    """The export as text chunks (one per page) for ``fmt`` csv, geojson (the shared hotspot
    schema of :mod:`burnwatch.publish.vector`) or kml."""
    from burnwatch.publish.vector import SCHEMA_VERSION

    if fmt == "csv":
        rows = ([{**hotspot_summary(r), "wkt": r.footprint.wkt} for r in page] for page in pages)
        return csv_chunks(rows, empty=["incident_id", "wkt"])
    if fmt == "geojson":
        head = {"burnwatch:schema": SCHEMA_VERSION}
        return geojson_chunks(head, ([_hotspot_feature(r) for r in page] for page in pages))
    return kml_chunks("burnwatch hotspots", ([_hotspot_placemark(r) for r in page] for page in pages))


def _hotspot_feature(r: HotspotRow) -> dict[str, Any]:
    from burnwatch.publish.vector import hotspot_properties

    hs = row_to_hotspot(r)
    return {"type": "Feature", "geometry": mapping(hs.footprint), "properties": hotspot_properties(hs)}


def _hotspot_placemark(r: HotspotRow) -> str:
    desc = "\n".join(f"{k}: {v}" for k, v in hotspot_summary(r).items() if v not in (None, ""))
    return placemark(f"{r.source} {r.sensor} {iso_time(r.time)}", desc, _point(r.lon, r.lat))


def write_hotspots_gpkg(pages: Iterable[list[HotspotRow]], path: Path) -> Path:
    """Layers ``hotspots`` (footprints) and ``hotspot_points`` in the shared hotspot schema,
    appended one page at a time."""
    from burnwatch.publish.vector import hotspots_to_frame

    mode = "w"
    for page in pages:
        hotspots = [row_to_hotspot(r) for r in page]
        for layer, points in (("hotspots", False), ("hotspot_points", True)):
            frame = hotspots_to_frame(hotspots, points=points).astype(HOTSPOT_DTYPES)
            frame.to_file(path, layer=layer, driver="GPKG", mode=mode)
        mode = "a"
    if mode == "w":
        for layer, points in (("hotspots", False), ("hotspot_points", True)):
            hotspots_to_frame([], points=points).to_file(path, layer=layer, driver="GPKG")
    return path


# --- formats --------------------------------------------------------------------------------


def csv_chunks(pages: Iterable[list[dict[str, Any]]], empty: list[str]) -> Iterator[str]:
    """CSV (the ``csv`` module's dialect, as the library export), one chunk per page: the
    header is the first row's keys, or ``empty`` when there is no row at all."""
    buf = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    for rows in pages:
        if not rows:
            continue
        if writer is None:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
            writer.writeheader()
        writer.writerows(rows)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if writer is None:
        csv.writer(buf).writerow(empty)
        yield buf.getvalue()


def geojson_chunks(members: dict[str, Any], pages: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """An RFC 7946 FeatureCollection (with extra top-level ``members``), one chunk per page."""
    yield json.dumps({"type": "FeatureCollection", **members}, ensure_ascii=False)[:-1] + ', "features": ['
    sep = ""
    for features in pages:
        if features:
            yield sep + ", ".join(json.dumps(f, ensure_ascii=False) for f in features)
            sep = ", "
    yield "]}"


def kml_chunks(name: str, pages: Iterable[list[str]]) -> Iterator[str]:
    """A KML document of placemarks, one chunk per page."""
    yield KML_HEAD.format(name=escape(name))
    for placemarks in pages:
        yield "".join(placemarks)
    yield KML_TAIL


def placemark(name: str, description: str, geometry: str, style: str | None = None) -> str:
    style_url = f"<styleUrl>#{style}</styleUrl>" if style else ""
    return (
        f"<Placemark><name>{escape(name)}</name><description>{escape(description)}</description>"
        f"{style_url}{geometry}</Placemark>\n"
    )


def _coords(points: Iterable[tuple[float, ...]]) -> str:
    return " ".join(f"{p[0]},{p[1]},0.0" for p in points)


def _polygon(geom: BaseGeometry) -> str:
    ring = _coords(geom.exterior.coords)
    return (
        "<Polygon><outerBoundaryIs><LinearRing>"
        f"<coordinates>{ring}</coordinates>"
        "</LinearRing></outerBoundaryIs></Polygon>"
    )


def _point(lon: float, lat: float) -> str:
    return f"<Point><coordinates>{_coords([(lon, lat)])}</coordinates></Point>"
