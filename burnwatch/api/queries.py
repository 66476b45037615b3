"""Filtered, paged reads for the API (parameterised SQLAlchemy only, never string SQL).

Bounding boxes are WGS84 ``(min_lon, min_lat, max_lon, max_lat)``; times are aware UTC,
``start`` inclusive and ``end`` exclusive; confidences 0-1.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import orjson
import shapely
from shapely.geometry import mapping
from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    ScalarSelect,
    Select,
    and_,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased, defer

from burnwatch.errors import InputError
from burnwatch.incidents.exports import incident_properties
from burnwatch.store.models import Case, HotspotRow, Incident

BBox = tuple[float, float, float, float]
MAX_LIMIT = 5000
#: Rows per database read when an export walks every matching row.
EXPORT_PAGE = 1000
OUT_OF_CALENDAR = "is out of range: in UTC it falls outside years 1-9999"


def parse_bbox(text: str | None) -> BBox | None:
    """``"minlon,minlat,maxlon,maxlat"`` (WGS84 degrees) -> tuple; InputError if malformed."""
    if text is None or not text.strip():
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(f"bbox {text!r}: expected minlon,minlat,maxlon,maxlat") from exc
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InputError(f"bbox {text!r}: not an ordered WGS84 box")
    return (x0, y0, x1, y1)


def parse_interval(text: str | None) -> tuple[datetime | None, datetime | None]:
    """OGC ``datetime``: an instant, ``start/end``, ``../end`` or ``start/..`` (ISO 8601)."""
    from burnwatch.types import utc

    if not text:
        return None, None

    def one(part: str) -> datetime | None:
        part = part.strip()
        if part in ("", ".."):
            return None
        try:
            value = datetime.fromisoformat(part.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"datetime {part!r} is not ISO 8601") from exc
        try:
            return utc(value)
        except OverflowError as exc:
            raise InputError(f"datetime {part!r} {OUT_OF_CALENDAR}") from exc

    if "/" in text:
        a, b = text.split("/", 1)
        return one(a), one(b)
    t = one(text)
    return t, t


@dataclass(frozen=True)
class Filters:
    bbox: BBox | None = None
    start: datetime | None = None
    end: datetime | None = None
    province: str | None = None
    source: str | None = None
    status: str | None = None  # case state
    min_confidence: float | None = None
    incident_id: int | None = None


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def lat_span(session: Session) -> float:
    """The largest latitude extent of any incident (degrees; one index lookup)."""
    span = session.scalar(select(func.max(Incident.max_lat - Incident.min_lat)))
    return float(span or 0.0)


def incident_where(f: Filters, span: float | None = None, by_time: bool = False) -> list[ColumnElement[bool]]:
    """WHERE clauses on ``incidents`` alone for active incidents matching ``f``. With
    ``span`` (:func:`lat_span`) the bbox test also bounds ``min_lat`` from below, so the
    B-tree range on ``ix_incidents_bbox`` is tight instead of half the table. ``by_time``
    writes the status test as an expression (``status || ''``) so that SQLite walks the
    ``last_seen`` index instead of reading every active incident and sorting them (what a
    walk through all matches, page after page, needs; like ``lat + 0`` in :func:`hotspot_stmt`)."""
    status = Incident.status.concat("") if by_time else Incident.status
    where: list[ColumnElement[bool]] = [status == "active"]
    if f.bbox is not None:
        x0, y0, x1, y1 = f.bbox
        where += [
            Incident.max_lon >= x0,
            Incident.min_lon <= x1,
            Incident.max_lat >= y0,
            Incident.min_lat <= y1,
        ]
        if span is not None:
            where.append(Incident.min_lat >= y0 - span - 1e-9)
    if f.start is not None:
        where.append(Incident.last_seen >= f.start)
    if f.end is not None:
        where.append(Incident.first_seen < f.end)
    if f.province is not None:
        where.append(Incident.province == _nfc(f.province))
    if f.min_confidence is not None:
        where.append(Incident.confidence >= f.min_confidence)
    if f.status is not None:  # the state of the incident's latest case
        latest = aliased(Case)
        where.append(exists().where(latest.id == _latest_case_id(), latest.state == f.status))
    if f.source is not None:
        where.append(exists().where(HotspotRow.incident_id == Incident.id, HotspotRow.source == f.source))
    if f.incident_id is not None:
        where.append(Incident.id == f.incident_id)
    return where


def _latest_case_id() -> ScalarSelect[Any]:
    return (
        select(func.max(Case.id)).where(Case.incident_id == Incident.id).correlate(Incident).scalar_subquery()
    )


def incident_stmt(f: Filters, span: float | None = None, by_time: bool = False) -> Select[Any]:
    """Active incidents matching ``f`` with their latest case (outer join)."""
    stmt = select(Incident, Case).outerjoin(Case, Case.id == _latest_case_id())
    return cast("Select[Any]", stmt.where(*incident_where(f, span, by_time)))


def count_incidents(session: Session, f: Filters, span: float | None = None) -> int:
    """Number of active incidents matching ``f`` (no join: one range scan)."""
    return int(session.scalar(select(func.count(Incident.id)).where(*incident_where(f, span))) or 0)


def incidents(
    session: Session, f: Filters, limit: int = 1000, offset: int = 0
) -> tuple[list[tuple[Incident, Case | None]], int]:
    """(ORM rows with their latest case, number matched) for one page, newest first."""
    span = lat_span(session) if f.bbox is not None else None
    total = count_incidents(session, f, span)
    rows = session.execute(
        incident_stmt(f, span).order_by(Incident.last_seen.desc(), Incident.id).limit(limit).offset(offset)
    )
    return [(r[0], r[1]) for r in rows], total


def incident_pages(
    sessions: Callable[[], Session], f: Filters, size: int | None = None
) -> Iterator[list[tuple[Incident, Case | None]]]:
    """Every active incident matching ``f`` with its latest case, newest first, in pages of
    ``size`` (default :data:`EXPORT_PAGE`): keyset pagination on (last_seen, id), each page
    read in its own short session (no transaction stays open while a page is sent; memory
    holds one page)."""
    size = size or EXPORT_PAGE
    after: tuple[datetime, int] | None = None
    while True:
        with sessions() as session:
            stmt = incident_stmt(f, by_time=True)
            if after is not None:
                stmt = stmt.where(_after(Incident.last_seen, Incident.id, after))
            rows = session.execute(stmt.order_by(Incident.last_seen.desc(), Incident.id).limit(size)).all()
        if not rows:
            return
        yield [(r[0], r[1]) for r in rows]
        after = (rows[-1][0].last_seen, rows[-1][0].id)


def hotspot_pages(
    sessions: Callable[[], Session], f: Filters, size: int | None = None
) -> Iterator[list[HotspotRow]]:
    """Every hotspot matching ``f``, newest first, in pages of ``size`` (keyset pagination
    on (time, id), one short session per page, like :func:`incident_pages`)."""
    size = size or EXPORT_PAGE
    after: tuple[datetime, int] | None = None
    while True:
        with sessions() as session:
            stmt = hotspot_stmt(f, bbox_index=False)  # walk the time index, never sort a box
            if after is not None:
                stmt = stmt.where(_after(HotspotRow.time, HotspotRow.id, after))
            rows = list(session.scalars(stmt.order_by(HotspotRow.time.desc(), HotspotRow.id).limit(size)))
        if not rows:
            return
        yield rows
        after = (rows[-1].time, rows[-1].id)


def _after(time: Any, row_id: Any, last: tuple[datetime, int]) -> ColumnElement[bool]:
    """Rows after ``last`` in (time descending, id ascending) order. ``time <= t`` on its own
    lets the time index start the walk at ``t`` instead of scanning from the newest row."""
    return and_(time <= last[0], or_(time < last[0], row_id > last[1]))


INCIDENT_COLUMNS = (
    "id", "status", "province", "province_code", "commune", "commune_code", "first_seen", "last_seen",
    "confidence", "hotspot_count", "source_counts", "static_source", "lon", "lat",
)  # fmt: skip


class _CaseRef(NamedTuple):
    id: int
    state: str


def incident_features(
    session: Session, f: Filters, limit: int = 1000, offset: int = 0, count: bool = True
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of incidents as GeoJSON features for :func:`feature_collection` (newest
    first) and the number matched (None when ``count`` is False).

    The map's and the OGC API's fast path: the page's ids sorted from a covering index,
    plain columns instead of ORM objects (times formatted by the database), the hull
    geometries read as WKB and written as GeoJSON text by GEOS in one vectorised call, the
    latest case of each incident by two correlated index lookups. Same content as :func:`incident_feature`.
    """
    span = lat_span(session) if f.bbox is not None else None
    total = count_incidents(session, f, span) if count else None
    postgis = session.get_bind().dialect.name == "postgresql"
    wkb = func.ST_AsBinary(Incident.geom) if postgis else type_coerce(Incident.geom, LargeBinary)
    # the page's ids first: sorted from the covering index before any table row is read
    page = (
        select(Incident.id)
        .where(*incident_where(f, span))
        .order_by(Incident.last_seen.desc(), Incident.id)
        .limit(limit)
        .offset(offset)
    )
    columns = [
        _iso_sql(getattr(Incident, c), postgis).label(c)
        if c in ("first_seen", "last_seen")
        else getattr(Incident, c)
        for c in INCIDENT_COLUMNS
    ]
    latest = _latest_case_id()
    state = select(Case.state).where(Case.id == latest).scalar_subquery()
    stmt = (
        select(*columns, wkb.label("wkb"), latest.label("case_id"), state.label("case_state"))
        .where(Incident.id.in_(page.scalar_subquery()))
        .order_by(Incident.last_seen.desc(), Incident.id)
    )
    rows = session.execute(stmt).all()
    geometries = shapely.to_geojson(shapely.from_wkb([bytes(r.wkb) for r in rows]))
    out = []
    for r, geometry in zip(rows, geometries, strict=True):
        props = incident_properties(r, None if r.case_id is None else _CaseRef(r.case_id, r.case_state))
        props["source_counts"] = dict(r.source_counts or {})
        out.append(
            {"type": "Feature", "id": r.id, "geometry": orjson.Fragment(geometry), "properties": props}
        )
    return out, total


def _iso_sql(column: Any, postgis: bool) -> ColumnElement[str]:
    """A UTC timestamp column formatted by the database as ``YYYY-MM-DDTHH:MM:SSZ`` (what
    :func:`iso_utc` writes) instead of parsed into datetimes and formatted again."""
    if postgis:
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    return func.strftime("%Y-%m-%dT%H:%M:%SZ", column)


def feature_collection(features: list[dict[str, Any]], **members: Any) -> bytes:
    """A GeoJSON FeatureCollection body (UTF-8 JSON) from features plus top-level members."""
    return orjson.dumps({"type": "FeatureCollection", **members, "features": features})


def hotspot_stmt(f: Filters, bbox_index: bool = True) -> Select[Any]:
    """Hotspots matching ``f``. ``bbox_index=False`` writes the bbox test as ``lat + 0``
    so no (lat, lon) index can answer it (SQLite then walks the time index instead)."""
    stmt: Select[Any] = select(HotspotRow)
    if f.bbox is not None:
        x0, y0, x1, y1 = f.bbox
        lat = HotspotRow.lat if bbox_index else HotspotRow.lat + 0
        stmt = stmt.where(lat.between(y0, y1), HotspotRow.lon.between(x0, x1))
    if f.start is not None:
        stmt = stmt.where(HotspotRow.time >= f.start)
    if f.end is not None:
        stmt = stmt.where(HotspotRow.time < f.end)
    if f.source is not None:
        stmt = stmt.where(HotspotRow.source == f.source)
    if f.min_confidence is not None:
        stmt = stmt.where(HotspotRow.confidence >= f.min_confidence)
    if f.incident_id is not None:
        stmt = stmt.where(HotspotRow.incident_id == f.incident_id)
    if f.province is not None or f.status is not None:
        stmt = stmt.join(Incident, HotspotRow.incident_id == Incident.id)
        if f.province is not None:
            stmt = stmt.where(Incident.province == _nfc(f.province))
        if f.status is not None:
            stmt = stmt.where(exists().where(Case.incident_id == Incident.id, Case.state == f.status))
    return stmt


def count_hotspots(session: Session, f: Filters) -> int:
    return int(session.scalar(select(func.count()).select_from(hotspot_stmt(f).subquery())) or 0)


def hotspots(
    session: Session,
    f: Filters,
    limit: int = 1000,
    offset: int = 0,
    count: bool = True,
    geometry: bool = True,
) -> tuple[list[HotspotRow], int | None]:
    """(rows, number matched or None when ``count`` is False) for one page, newest first.
    ``geometry=False`` skips loading (and decoding) the point/footprint geometries."""
    stmt = hotspot_stmt(f)
    if not geometry:
        stmt = stmt.options(defer(HotspotRow.geom), defer(HotspotRow.footprint), defer(HotspotRow.attributes))
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0) if count else None
    rows = list(
        session.scalars(stmt.order_by(HotspotRow.time.desc(), HotspotRow.id).limit(limit).offset(offset))
    )
    return rows, total


POINT_COLUMNS = (
    "id", "incident_id", "scan_id", "source", "sensor", "algorithm", "kind", "time", "lon", "lat",
    "confidence", "confidence_class", "frp_mw", "uncertainty_m", "scene_id", "flags",
)  # fmt: skip


def hotspot_points(session: Session, f: Filters, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
    """One page of hotspots as GeoJSON point features, newest first, reading only the
    columns the features need (no ORM objects, no geometry decoding: the map's fast path)."""
    postgis = session.get_bind().dialect.name == "postgresql"
    cols = [
        _iso_sql(HotspotRow.time, postgis) if c == "time" else getattr(HotspotRow, c) for c in POINT_COLUMNS
    ]
    by_time = not postgis and _newest_first_is_cheaper(session, f, limit + offset)
    stmt = (
        hotspot_stmt(f, bbox_index=not by_time)
        .with_only_columns(*cols)
        .order_by(HotspotRow.time.desc(), HotspotRow.id)
    )
    out = []
    for row in session.execute(stmt.limit(limit).offset(offset)):
        props = dict(zip(POINT_COLUMNS, row, strict=True))
        props["hotspot_id"] = props.pop("id")
        props["flags"] = list(props["flags"] or [])
        out.append(
            {
                "type": "Feature",
                "id": props["hotspot_id"],
                "geometry": {"type": "Point", "coordinates": [props["lon"], props["lat"]]},
                "properties": props,
            }
        )
    return out


#: Cost of reading and sorting one hotspot row from the (lat, lon) index path, in units of
#: testing one ``(time, lat, lon)`` index entry on the newest-first walk. Measured on the 1M-row
#: benchmark (``scripts/profile_bbox_pages.py calibrate``, SQLite, 75 boxes of 0.1-2°): the walk
#: wins for every box above ~5,600-6,000 matches for a 1,000-row page, i.e. c ≈ 28-32; both
#: plans cost about the same over that range, so the threshold need not be exact (docs/api.md).
ROW_VS_INDEX_ENTRY_COST = 25.0


def _newest_first_is_cheaper(session: Session, f: Filters, rows: int) -> bool:
    """SQLite's planner always answers a bbox page from the (lat, lon) index: it reads every
    hotspot in the box and sorts them, which is slow for a big box (115,000 hotspots in a 1°
    box of the 1M-row benchmark: 270 ms). Walking the ``(time, lat, lon)`` index newest first
    and stopping at the page's last row tests about ``total * rows / matches`` index entries
    instead. That is cheaper when ``matches² * c > total * rows``
    (:data:`ROW_VS_INDEX_ENTRY_COST`); the matches are counted from the covering (lat, lon)
    index only up to that threshold. (PostgreSQL's planner makes this choice itself from its
    column statistics.)"""
    if f.bbox is None or f.incident_id is not None:
        return False
    total = int(session.scalar(select(func.max(HotspotRow.id))) or 0)
    threshold = int((total * rows / ROW_VS_INDEX_ENTRY_COST) ** 0.5) + 1
    x0, y0, x1, y1 = f.bbox
    probe = (
        select(HotspotRow.id)
        .where(HotspotRow.lat.between(y0, y1), HotspotRow.lon.between(x0, x1))
        .limit(threshold)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(probe)) or 0) >= threshold


def iso_utc(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else None


def incident_feature(inc: Incident, case: Case | None) -> dict[str, Any]:
    props = incident_properties(inc, case)
    props["source_counts"] = dict(inc.source_counts or {})
    return {"type": "Feature", "id": inc.id, "geometry": mapping(inc.geom), "properties": props}


def hotspot_properties(r: HotspotRow) -> dict[str, Any]:
    return {
        "hotspot_id": r.id,
        "incident_id": r.incident_id,
        "scan_id": r.scan_id,
        "source": r.source,
        "sensor": r.sensor,
        "algorithm": r.algorithm,
        "kind": r.kind,
        "time": iso_utc(r.time),
        "lon": r.lon,
        "lat": r.lat,
        "confidence": r.confidence,
        "confidence_class": r.confidence_class,
        "frp_mw": r.frp_mw,
        "uncertainty_m": r.uncertainty_m,
        "scene_id": r.scene_id,
        "flags": list(r.flags or []),
    }


def hotspot_feature(r: HotspotRow, footprint: bool = False) -> dict[str, Any]:
    geom = mapping(r.footprint) if footprint else {"type": "Point", "coordinates": [r.lon, r.lat]}
    return {"type": "Feature", "id": r.id, "geometry": geom, "properties": hotspot_properties(r)}
