"""Incidents: filtered GeoJSON, one incident with its sources/photos/case history, exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from burnwatch.api import queries
from burnwatch.api.auth import CASE_ROLES, STAFF, Principal, allow, db_session, principal, province_scope
from burnwatch.api.routes.common import (
    Offset,
    RowId,
    check_format,
    export_file,
    file_response,
    filter_params,
    first_read,
    scoped,
    streamed,
)
from burnwatch.errors import NotFoundError
from burnwatch.store.models import Case, Incident

router = APIRouter(tags=["incidents"])


@router.get("/api/incidents", dependencies=[allow(*STAFF)], response_model=None)
def list_incidents(
    f: Annotated[queries.Filters, Depends(filter_params)],
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 1000,
    offset: Offset = 0,
) -> Response:
    """Active incidents as a GeoJSON FeatureCollection (hull polygons, WGS84), newest first."""
    features, total = queries.incident_features(db, scoped(f, p), limit, offset)
    body = queries.feature_collection(features, numberMatched=total, numberReturned=len(features))
    return Response(body, media_type="application/geo+json")


@router.get("/api/incidents/export.{fmt}", dependencies=[allow(*CASE_ROLES)], response_model=None)
def export_incidents(
    fmt: str,
    request: Request,
    f: Annotated[queries.Filters, Depends(filter_params)],
    p: Annotated[Principal, Depends(principal)],
) -> Response:
    """Every matching incident (newest first) as GeoJSON, GeoPackage, CSV or KML: read from
    the database a page at a time, CSV/GeoJSON/KML streamed as written."""
    from burnwatch.api.export_stream import incident_chunks, write_incidents_gpkg

    check_format(fmt)
    pages = first_read(queries.incident_pages(request.app.state.sessions, scoped(f, p)))
    if fmt != "gpkg":
        return streamed(fmt, "incidents", incident_chunks(fmt, pages))
    path, task = export_file(fmt, "incidents")
    write_incidents_gpkg(pages, path)
    return file_response(path, fmt, task)


def load_incident(db: Session, p: Principal, incident_id: int) -> Incident:
    """The incident if it exists and is in the caller's province scope (404 otherwise, so
    out-of-scope ids are not revealed)."""
    inc = db.get(Incident, incident_id)
    scope = province_scope(p, None)
    if inc is None or (scope is not None and inc.province != scope):
        raise NotFoundError(f"no incident {incident_id}")
    return inc


def history_rows(db: Session, case_id: int) -> list[dict[str, Any]]:
    from burnwatch.incidents.cases import history
    from burnwatch.store.models import CaseEvent, CaseNote, Evidence

    out: list[dict[str, Any]] = []
    for row in history(db, case_id):
        item: dict[str, Any] = {"seq": row.seq, "at": queries.iso_utc(row.at)}
        if isinstance(row, CaseEvent):
            item.update(
                type="event",
                actor=row.actor,
                from_state=row.from_state,
                to_state=row.to_state,
                reason=row.reason,
                assignee=row.assignee,
            )
        elif isinstance(row, CaseNote):
            item.update(type="note", actor=row.author, text=row.text)
        elif isinstance(row, Evidence):
            item.update(
                type="evidence",
                actor=row.uploaded_by,
                evidence_id=row.id,
                filename=row.filename,
                lon=row.lon,
                lat=row.lat,
                distance_m=row.distance_m,
                taken_at=queries.iso_utc(row.taken_at),
                url=f"/api/evidence/{row.id}/file",
            )
        out.append(item)
    return out


#: Member hotspots listed with one incident (the newest; the rest are counted).
INCIDENT_HOTSPOTS = queries.MAX_LIMIT


def member_hotspots(db: Session, incident_id: int) -> dict[str, Any]:
    """``hotspots`` (the newest :data:`INCIDENT_HOTSPOTS`), ``hotspots_total`` (all members)
    and ``hotspots_truncated`` (whether the list stops short of the total)."""
    f = queries.Filters(incident_id=incident_id)
    rows, _ = queries.hotspots(db, f, INCIDENT_HOTSPOTS, 0, count=False)
    total = len(rows)
    if total >= INCIDENT_HOTSPOTS:  # a full list: count the rest
        total = int(db.scalar(select(func.count()).select_from(queries.hotspot_stmt(f).subquery())) or 0)
    return {
        "hotspots": [queries.hotspot_properties(r) for r in rows],
        "hotspots_total": total,
        "hotspots_truncated": total > len(rows),
    }


@router.get("/api/incidents/{incident_id}", dependencies=[allow(*STAFF)])
def get_incident(
    incident_id: RowId,
    request: Request,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> dict[str, Any]:
    """One incident: its feature, member hotspots (sources), case and case history."""
    inc = load_incident(db, p, incident_id)
    case = db.scalars(select(Case).where(Case.incident_id == inc.id).order_by(Case.id.desc())).first()
    out = queries.incident_feature(inc, case)
    out.update(member_hotspots(db, inc.id))
    out["case"] = None
    if case is not None:
        from burnwatch.store.models import User

        assignee = db.get(User, case.assignee_id) if case.assignee_id else None
        out["case"] = {
            "id": case.id,
            "state": case.state,
            "assignee": assignee.username if assignee else None,
            "due_at": queries.iso_utc(case.due_at),
            "history": history_rows(db, case.id),
        }
    return out
