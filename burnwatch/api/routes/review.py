"""Analysts' review page API: detections to judge, verdicts, the evaluation export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from burnwatch.api import queries
from burnwatch.api.auth import REVIEW_ROLES, Principal, allow, db_session, principal
from burnwatch.api.models import FlightJob, ReviewVerdict
from burnwatch.api.review import set_verdict, verdicts_for_eval
from burnwatch.api.routes.common import RowId
from burnwatch.api.routes.flights import thumbnail_url
from burnwatch.store.models import HotspotRow

router = APIRouter(tags=["review"])


class VerdictIn(BaseModel):
    verdict: bool
    comment: str = Field(default="", max_length=2000)


@router.get("/api/review/detections", dependencies=[allow(*REVIEW_ROLES)])
def detections(
    request: Request,
    db: Annotated[Session, Depends(db_session)],
    source: Annotated[str, Query(max_length=32)] = "drone",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Detections of ``source`` (newest first) with their thumbnail and current verdicts."""
    rows = list(
        db.scalars(
            select(HotspotRow).where(HotspotRow.source == source).order_by(HotspotRow.id.desc()).limit(limit)
        )
    )
    verdicts: dict[int, list[dict[str, Any]]] = {}
    if rows:
        for v in db.scalars(select(ReviewVerdict).where(ReviewVerdict.hotspot_id.in_([r.id for r in rows]))):
            verdicts.setdefault(v.hotspot_id, []).append({"reviewer": v.reviewer, "verdict": v.verdict})
    flight_ids = {str((r.attributes or {}).get("flight_id")) for r in rows}
    jobs = {
        j.flight_id: j.id
        for j in db.scalars(
            select(FlightJob).where(FlightJob.flight_id.in_(flight_ids), FlightJob.status == "done")
        )
    }
    out = []
    for r in rows:
        a = r.attributes or {}
        job_id = jobs.get(str(a.get("flight_id")))
        thumb = None
        if job_id and a.get("photo"):
            thumb = thumbnail_url(job_id, request.app.state.jobs.job_dir(job_id) / "out", str(a["photo"]))
        box = [a.get(k) for k in ("box_x1", "box_y1", "box_x2", "box_y2")]
        out.append(
            {
                **queries.hotspot_properties(r),
                "photo": a.get("photo"),
                "thumbnail": thumb,
                "box": box if all(b is not None for b in box) else None,
                "verdicts": verdicts.get(r.id, []),
            }
        )
    return out


@router.post("/api/review/{hotspot_id}", dependencies=[allow(*REVIEW_ROLES)])
def mark(
    hotspot_id: RowId,
    body: VerdictIn,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> dict[str, Any]:
    """Mark a detection true (a real fire/smoke) or false."""
    v = set_verdict(db, hotspot_id, p.username, body.verdict, body.comment)
    return {"hotspot_id": hotspot_id, "verdict": v.verdict, "reviewer": v.reviewer}


@router.get("/api/review/verdicts.json", dependencies=[allow(*REVIEW_ROLES)])
def verdicts(db: Annotated[Session, Depends(db_session)]) -> list[dict[str, Any]]:
    """All verdicts as an evaluation list (see :func:`burnwatch.api.review.verdicts_for_eval`)."""
    return verdicts_for_eval(db)
