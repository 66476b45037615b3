"""Export incidents and hotspots as GeoJSON (RFC 7946), GeoPackage, CSV and KML.

All coordinates are WGS84 lon/lat. Text is UTF-8 throughout, so Vietnamese names keep
their diacritics (NFC) in every format. Hotspot GeoJSON/GeoPackage use the project's one
hotspot schema (:func:`burnwatch.publish.vector.write_hotspots`); the GeoPackage gets
an extra ``incidents`` layer when exported with :func:`export_incidents`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from shapely.geometry import mapping
from sqlalchemy import Row

from burnwatch.errors import InputError
from burnwatch.store.models import Case, HotspotRow, Incident
from burnwatch.types import Hotspot

FORMATS = (".geojson", ".gpkg", ".csv", ".kml")


def iso_time(value: Any) -> Any:
    """A datetime as ``YYYY-MM-DDTHH:MM:SSZ`` (stored times are UTC); anything else as is."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(value, "strftime") else value


class CaseRef(Protocol):
    """What an incident's properties need of its latest case (a :class:`Case` or a row)."""

    @property
    def id(self) -> int: ...

    @property
    def state(self) -> str: ...


def incident_properties(
    inc: Incident | Row[*tuple[Any, ...]], case: CaseRef | None = None
) -> dict[str, Any]:
    """Flat properties of an incident (ORM object, or a row with the same column names)."""
    return {
        "incident_id": inc.id,
        "status": inc.status,
        "province": inc.province,
        "province_code": inc.province_code,
        "commune": inc.commune,
        "commune_code": inc.commune_code,
        "first_seen": iso_time(inc.first_seen),
        "last_seen": iso_time(inc.last_seen),
        "confidence": round(inc.confidence, 4),
        "hotspot_count": inc.hotspot_count,
        "sources": ";".join(f"{k}:{v}" for k, v in sorted(inc.source_counts.items())),
        "static_source": bool(inc.static_source),
        "lon": round(inc.lon, 6),
        "lat": round(inc.lat, 6),
        "case_id": case.id if case else None,
        "case_state": case.state if case else None,
    }


def row_to_hotspot(row: HotspotRow) -> Hotspot:
    """Rebuild the typed :class:`Hotspot` a row was ingested from."""
    from shapely import wkt

    attrs = dict(row.attributes or {})
    attrs["incident_id"] = row.incident_id
    return Hotspot(
        source=row.source,
        sensor=row.sensor,
        algorithm=row.algorithm,
        time=row.time,
        lon=row.lon,
        lat=row.lat,
        confidence=row.confidence,
        confidence_class=row.confidence_class,  # type: ignore[arg-type]
        footprint=row.footprint,
        crs=row.crs,
        x=row.x,
        y=row.y,
        footprint_native=wkt.loads(row.footprint_native_wkt) if row.footprint_native_wkt else None,
        pixel_count=row.pixel_count,
        frp_mw=row.frp_mw,
        uncertainty_m=row.uncertainty_m,
        scene_id=row.scene_id,
        kind=row.kind,  # type: ignore[arg-type]
        algorithm_version=row.algorithm_version,
        attributes=attrs,
        flags=tuple(row.flags or ()),
    )


def _check(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"unsupported export format {suffix!r} (use {', '.join(FORMATS)})", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return suffix


def export_incidents(incidents: Sequence[Incident], path: Path, cases: dict[int, Case] | None = None) -> Path:
    """Write incidents (hull polygons + attributes) to ``path``; the suffix picks the format."""
    path = Path(path)
    suffix = _check(path)
    cases = cases or {}
    props = [incident_properties(i, cases.get(i.id)) for i in incidents]
    if suffix == ".geojson":
        fc = {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "id": p["incident_id"], "geometry": mapping(i.geom), "properties": p}
                for i, p in zip(incidents, props, strict=True)
            ],
        }
        path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    elif suffix == ".gpkg":
        import geopandas as gpd

        frame = gpd.GeoDataFrame(props, geometry=[i.geom for i in incidents], crs="EPSG:4326")
        if not props:
            frame = gpd.GeoDataFrame({"incident_id": []}, geometry=[], crs="EPSG:4326")
        frame.to_file(path, layer="incidents", driver="GPKG")
    elif suffix == ".csv":
        _write_csv(path, props, [i.geom.wkt for i in incidents])
    else:
        import simplekml

        kml = simplekml.Kml(name="burnwatch incidents")
        for inc, p in zip(incidents, props, strict=True):
            where = ", ".join(x for x in (p["commune"], p["province"]) if x)
            name = f"Incident {inc.id}" + (f" — {where}" if where else "")
            geom = inc.geom
            desc = "\n".join(f"{k}: {v}" for k, v in p.items() if v is not None)
            if geom.geom_type == "Polygon":
                poly = kml.newpolygon(name=name, description=desc, outerboundaryis=list(geom.exterior.coords))
                poly.style.polystyle.color = simplekml.Color.changealphaint(100, simplekml.Color.red)
            else:
                kml.newpoint(name=name, description=desc, coords=[(inc.lon, inc.lat)])
        kml.save(str(path))
    return path


def _write_csv(path: Path, props: list[dict[str, Any]], wkts: list[str]) -> None:
    fields = list(props[0]) if props else ["incident_id"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*fields, "wkt"])
        writer.writeheader()
        for p, w in zip(props, wkts, strict=True):
            writer.writerow({**p, "wkt": w})


def hotspot_summary(r: HotspotRow) -> dict[str, Any]:
    """The hotspot columns of the CSV and KML exports."""
    return {
        "hotspot_id": r.id,
        "incident_id": r.incident_id,
        "source": r.source,
        "sensor": r.sensor,
        "algorithm": r.algorithm,
        "time": iso_time(r.time),
        "lon": r.lon,
        "lat": r.lat,
        "confidence": r.confidence,
        "confidence_class": r.confidence_class,
        "frp_mw": r.frp_mw,
        "uncertainty_m": r.uncertainty_m,
        "kind": r.kind,
        "flags": ";".join(r.flags or []),
    }


def export_hotspots(rows: Sequence[HotspotRow], path: Path) -> Path:
    """Write hotspot rows to ``path`` (GeoJSON/GPKG in the shared hotspot schema, CSV, KML)."""
    path = Path(path)
    suffix = _check(path)
    if suffix in (".geojson", ".gpkg"):
        from burnwatch.publish.vector import write_hotspots

        return write_hotspots([row_to_hotspot(r) for r in rows], path)
    props = [hotspot_summary(r) for r in rows]
    if suffix == ".csv":
        _write_csv(path, props, [r.footprint.wkt for r in rows])
    else:
        import simplekml

        kml = simplekml.Kml(name="burnwatch hotspots")
        for r, p in zip(rows, props, strict=True):
            pt = kml.newpoint(name=f"{r.source} {r.sensor} {iso_time(r.time)}", coords=[(r.lon, r.lat)])
            pt.description = "\n".join(f"{k}: {v}" for k, v in p.items() if v not in (None, ""))
        kml.save(str(path))
    return path
