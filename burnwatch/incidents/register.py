"""The static heat-source register: kilns, factories, landfills confirmed by inspectors.

Each entry is an exclusion zone (a WGS84 polygon: a circle of ``radius_m`` around a point,
buffered in the local UTM zone, or a polygon from a file). Hotspots ingested later that
fall inside a zone are FLAGGED ``static_source`` and linked to the zone — never dropped —
and their incident is marked ``static_source``. Entries come from cases closed as
"static source" (:func:`burnwatch.incidents.cases.transition`) or from a file
(:func:`load_register`).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from burnwatch.errors import CorruptFileError, InputError
from burnwatch.incidents.geo import project, unproject, utm_epsg
from burnwatch.store.chain import audit
from burnwatch.store.models import StaticSource

log = logging.getLogger(__name__)

KINDS = ("kiln", "factory", "landfill", "power_plant", "other")
DEFAULT_RADIUS_M = 250.0


def circle(lon: float, lat: float, radius_m: float) -> BaseGeometry:
    """A WGS84 polygon approximating a circle of ``radius_m`` metres around (lon, lat)."""
    epsg = utm_epsg(lon, lat)
    return unproject(project(Point(lon, lat), epsg).buffer(radius_m, 32), epsg)


def add_static_zone(
    session: Session,
    name: str,
    kind: str,
    geometry: BaseGeometry,
    *,
    radius_m: float = 0.0,
    origin: str = "",
    actor: str = "system",
) -> StaticSource:
    """Add one exclusion zone (WGS84 polygon). Returns the existing row if identical."""
    if kind not in KINDS:
        raise InputError(f"static source kind {kind!r} is not one of {', '.join(KINDS)}", path=origin or None)
    centre = geometry.representative_point() if geometry.geom_type != "Point" else geometry
    if geometry.geom_type == "Point":
        geometry = circle(geometry.x, geometry.y, radius_m or DEFAULT_RADIUS_M)
        radius_m = radius_m or DEFAULT_RADIUS_M
    minx, miny, maxx, maxy = geometry.bounds
    existing = session.scalars(
        select(StaticSource).where(
            StaticSource.name == name,
            StaticSource.kind == kind,
            StaticSource.min_lon == minx,
            StaticSource.min_lat == miny,
        )
    ).first()
    if existing is not None:
        return existing
    row = StaticSource(
        name=name,
        kind=kind,
        lon=float(centre.x),
        lat=float(centre.y),
        radius_m=float(radius_m),
        geom=geometry,
        min_lon=minx,
        min_lat=miny,
        max_lon=maxx,
        max_lat=maxy,
        origin=origin,
        active=True,
    )
    session.add(row)
    session.flush()
    audit(session, actor, "static_source.add", "static_sources", row.id, name=name, kind=kind, origin=origin)
    return row


def add_static_source(
    session: Session,
    name: str,
    kind: str,
    lon: float,
    lat: float,
    radius_m: float = DEFAULT_RADIUS_M,
    *,
    origin: str = "",
    actor: str = "system",
) -> StaticSource:
    """Add a point static source with a circular exclusion zone of ``radius_m`` metres."""
    return add_static_zone(
        session, name, kind, Point(lon, lat), radius_m=radius_m, origin=origin, actor=actor
    )


def match_static(session: Session, lon: float, lat: float) -> StaticSource | None:
    """The active exclusion zone containing (lon, lat) WGS84, if any (bbox index, then exact)."""
    candidates = session.scalars(
        select(StaticSource).where(
            StaticSource.active.is_(True),
            StaticSource.min_lon <= lon,
            StaticSource.max_lon >= lon,
            StaticSource.min_lat <= lat,
            StaticSource.max_lat >= lat,
        )
    ).all()
    point = Point(lon, lat)
    for zone in candidates:
        if zone.geom.covers(point):
            return zone
    return None


class ZoneIndex:
    """The active exclusion zones held in memory with an STR-tree, for matching a batch."""

    def __init__(self, zones: list[StaticSource]) -> None:
        from shapely import STRtree

        self.zones = zones
        self._tree = STRtree([z.geom for z in zones]) if zones else None

    @classmethod
    def load(cls, session: Session) -> ZoneIndex:
        return cls(list(session.scalars(select(StaticSource).where(StaticSource.active.is_(True)))))

    def match(self, lon: float, lat: float) -> StaticSource | None:
        """The zone covering (lon, lat) WGS84 (lowest id when several), else None."""
        if self._tree is None:
            return None
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        return self.zones[int(min(hits))] if len(hits) else None


def load_register(
    session: Session,
    path: str | Path,
    *,
    name_field: str = "name",
    kind_field: str = "kind",
    radius_m: float = DEFAULT_RADIUS_M,
    actor: str = "system",
) -> int:
    """Load static sources from CSV (``lon,lat,name,kind[,radius_m]``) or a vector file
    (points buffered by ``radius_m`` or a ``radius_m`` field; polygons as they are).
    Returns the number of entries in the file; loading twice adds nothing."""
    path = Path(path)
    if not path.exists():
        raise InputError("static source register not found", path=path)
    count = 0
    if path.suffix.lower() in (".csv", ".txt"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for lineno, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    lon, lat = float(row["lon"]), float(row["lat"])
                    r = float(row.get("radius_m") or radius_m)
                    add_static_source(
                        session,
                        row.get(name_field) or f"{path.name}:{lineno}",
                        (row.get(kind_field) or "other"),
                        lon,
                        lat,
                        r,
                        origin=str(path),
                        actor=actor,
                    )
                except (KeyError, ValueError, TypeError) as exc:
                    raise InputError(f"row {lineno}: {exc}", path=path) from exc
                count += 1
        return count
    import pyogrio

    try:
        frame = pyogrio.read_dataframe(path)
    except Exception as exc:
        raise CorruptFileError(f"cannot read static source register: {exc}", path=path) from exc
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    for idx, row in frame.iterrows():
        geom = shape(row.geometry) if row.geometry is not None else None
        if geom is None or geom.is_empty:
            continue
        name = str(row.get(name_field) or f"{path.name}:{idx}")
        kind = str(row.get(kind_field) or "other")
        r = float(row.get("radius_m") or radius_m) if "radius_m" in frame.columns else radius_m
        add_static_zone(session, name, kind, geom, radius_m=r, origin=str(path), actor=actor)
        count += 1
    log.info("%s: %d static sources", path, count)
    return count
