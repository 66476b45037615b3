"""Read-side queries shared by the CLI, exports, reports and the web app.

Spatial filters use the indexed lat/lon and bounding-box columns on every backend
(plus the GIST-indexed geometry on PostGIS through ``bbox`` candidate filtering).
Times are aware UTC; ``start`` is inclusive and ``end`` exclusive.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from burnwatch.store.models import Case, HotspotRow, Incident, User


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def incidents(
    session: Session,
    *,
    province: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    include_merged: bool = False,
) -> list[Incident]:
    """Incidents active in [start, end) (overlapping first/last seen), optionally in a
    province (NFC name) or intersecting a WGS84 bbox (min_lon, min_lat, max_lon, max_lat)."""
    stmt: Select[tuple[Incident]] = select(Incident)
    if not include_merged:
        stmt = stmt.where(Incident.status == "active")
    if province is not None:
        stmt = stmt.where(Incident.province == _nfc(province))
    if start is not None:
        stmt = stmt.where(Incident.last_seen >= start)
    if end is not None:
        stmt = stmt.where(Incident.first_seen < end)
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        stmt = stmt.where(
            Incident.max_lon >= x0, Incident.min_lon <= x1, Incident.max_lat >= y0, Incident.min_lat <= y1
        )
    return list(session.scalars(stmt.order_by(Incident.first_seen, Incident.id)))


def hotspots(
    session: Session,
    *,
    incident_ids: Sequence[int] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    province: str | None = None,
) -> list[HotspotRow]:
    """Hotspot rows filtered by incident, time, bbox or the province of their incident."""
    stmt: Select[tuple[HotspotRow]] = select(HotspotRow)
    if incident_ids is not None:
        stmt = stmt.where(HotspotRow.incident_id.in_(list(incident_ids)))
    if start is not None:
        stmt = stmt.where(HotspotRow.time >= start)
    if end is not None:
        stmt = stmt.where(HotspotRow.time < end)
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        stmt = stmt.where(HotspotRow.lat.between(y0, y1), HotspotRow.lon.between(x0, x1))
    if province is not None:
        stmt = stmt.join(Incident, HotspotRow.incident_id == Incident.id).where(
            Incident.province == _nfc(province)
        )
    return list(session.scalars(stmt.order_by(HotspotRow.time, HotspotRow.id)))


def source_counts(rows: Sequence[HotspotRow]) -> dict[str, int]:
    """Hotspots per source ("firms", "sentinel2", "drone", ...)."""
    return dict(sorted(Counter(r.source for r in rows).items()))


@dataclass(frozen=True)
class CaseView:
    case: Case
    incident: Incident
    assignee: str | None


def cases(
    session: Session,
    *,
    state: str | None = None,
    province: str | None = None,
    assignee: str | None = None,
    open_only: bool = False,
) -> list[CaseView]:
    stmt = (
        select(Case, Incident, User.username)
        .join(Incident, Case.incident_id == Incident.id)
        .outerjoin(User, Case.assignee_id == User.id)
    )
    if state is not None:
        stmt = stmt.where(Case.state == state)
    if open_only:
        stmt = stmt.where(Case.state != "closed")
    if province is not None:
        stmt = stmt.where(Incident.province == _nfc(province))
    if assignee is not None:
        stmt = stmt.where(User.username == assignee)
    rows = session.execute(stmt.order_by(Case.id)).all()
    return [CaseView(case=r[0], incident=r[1], assignee=r[2]) for r in rows]


def case_for_incident(session: Session, incident_id: int) -> Case | None:
    """The most recent case attached to an incident."""
    return session.scalars(
        select(Case).where(Case.incident_id == incident_id).order_by(Case.id.desc())
    ).first()


def provinces_summary(session: Session, incident_ids: Sequence[int] | None = None) -> dict[str, int]:
    """Active incidents per province ("(outside boundaries)" when unattributed)."""
    stmt = select(Incident.province).where(Incident.status == "active")
    if incident_ids is not None:
        stmt = stmt.where(Incident.id.in_(list(incident_ids)))
    counts = Counter(p or "(outside boundaries)" for p in session.scalars(stmt))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def incident_ids_of_scan(session: Session, scan_id: int | None) -> set[int]:
    """The live (merge-resolved) incidents holding hotspots of one scan."""
    from burnwatch.incidents.clustering import resolve_incident

    if scan_id is None:
        return set()
    ids = session.scalars(select(HotspotRow.incident_id).where(HotspotRow.scan_id == scan_id).distinct())
    return {resolve_incident(session, i) for i in ids if i is not None}
