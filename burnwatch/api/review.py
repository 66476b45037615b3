"""Analysts' verdicts on detections, and their export as a detector evaluation list.

A verdict says whether one stored detection (a :class:`~burnwatch.store.models.HotspotRow`,
usually from a drone flight) is a real fire/smoke. :func:`verdicts_for_eval` lists them
with the photo, class and pixel box (``x1, y1, x2, y2`` in the original photo's pixels,
origin top-left) so the detector's evaluation can count reviewed true and false
positives per image, YOLO-style.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from burnwatch.api.models import ReviewVerdict
from burnwatch.errors import NotFoundError
from burnwatch.store.chain import audit
from burnwatch.store.models import HotspotRow, now_utc


def set_verdict(
    session: Session, hotspot_id: int, reviewer: str, verdict: bool, comment: str = ""
) -> ReviewVerdict:
    """Record (or replace) ``reviewer``'s verdict on a detection."""
    if session.get(HotspotRow, hotspot_id) is None:
        raise NotFoundError(f"no detection {hotspot_id}")
    row = session.scalars(
        select(ReviewVerdict).where(
            ReviewVerdict.hotspot_id == hotspot_id, ReviewVerdict.reviewer == reviewer
        )
    ).first()
    if row is None:
        row = ReviewVerdict(hotspot_id=hotspot_id, reviewer=reviewer)
        session.add(row)
    row.verdict = bool(verdict)
    row.comment = comment
    row.at = now_utc()
    session.flush()
    audit(session, reviewer, "review.verdict", "hotspots", hotspot_id, verdict=bool(verdict))
    return row


def verdicts_for_eval(session: Session) -> list[dict[str, Any]]:
    """Every verdict with what an evaluation needs: image, class, pixel box, true/false."""
    out: list[dict[str, Any]] = []
    stmt = (
        select(ReviewVerdict, HotspotRow)
        .join(HotspotRow, ReviewVerdict.hotspot_id == HotspotRow.id)
        .order_by(ReviewVerdict.id)
    )
    for v, h in session.execute(stmt).all():
        a = h.attributes or {}
        box = [a.get(k) for k in ("box_x1", "box_y1", "box_x2", "box_y2")]
        out.append(
            {
                "hotspot_id": h.id,
                "source": h.source,
                "flight_id": a.get("flight_id"),
                "image": a.get("photo") or h.scene_id,
                "image_sha256": a.get("photo_sha256"),
                "class": h.kind,
                "score": a.get("score", h.confidence),
                "box_xyxy": box if all(b is not None for b in box) else None,
                "verdict": "true_positive" if v.verdict else "false_positive",
                "reviewer": v.reviewer,
                "at": v.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "comment": v.comment,
            }
        )
    return out
