"""Notifications: webhook (JSON POST) and e-mail (SMTP), through a database outbox.

Messages are *queued* as :class:`~burnwatch.schedule.models.ScheduleNotification` rows (one
per target, unique by kind + key + target, so the same news is never queued twice) and
*delivered* by :func:`deliver_pending`. A delivery that fails (server down, HTTP 500, SMTP
error) stays ``pending`` with its error and is tried again on the next run: reported, not lost.

Kinds:

* ``incidents``: new burning incidents found by one job (webhook JSON + e-mail).
* ``job_failed``: a scan attempt failed (with whether and when it will be retried).
* ``digest``: once a day at ``digest_hour`` (local time, ``timezone``), one message per
  province: the incidents seen in the 24 hours before.

Webhook body: ``{"type": kind, "subject": ..., ...payload}`` as UTF-8 JSON. Coordinates are
WGS84 degrees; times ISO 8601 UTC.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from burnwatch.schedule.config import Notify, Smtp
from burnwatch.schedule.models import ScheduleJob, ScheduleNotification
from burnwatch.store.models import HotspotRow, Incident
from burnwatch.types import utc

log = logging.getLogger(__name__)

UNATTRIBUTED = "(no province)"


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def incident_summary(inc: Incident) -> dict[str, Any]:
    return {
        "id": inc.id,
        "lon": round(inc.lon, 6),
        "lat": round(inc.lat, 6),
        "province": inc.province,
        "commune": inc.commune,
        "first_seen": utc(inc.first_seen).isoformat(),
        "last_seen": utc(inc.last_seen).isoformat(),
        "hotspots": inc.hotspot_count,
        "confidence": round(inc.confidence, 3),
        "sources": dict(inc.source_counts or {}),
    }


def _queue(
    session: Session, notify: Notify, kind: str, key: str, subject: str, payload: dict[str, Any]
) -> list[ScheduleNotification]:
    targets = [("webhook", url) for url in notify.webhooks] + [("email", addr) for addr in notify.emails]
    if not targets:
        return []
    existing = set(
        session.scalars(
            select(ScheduleNotification.target).where(
                ScheduleNotification.kind == kind, ScheduleNotification.key == key
            )
        )
    )
    rows = []
    for channel, target in targets:
        if target in existing:
            continue
        row = ScheduleNotification(
            kind=kind,
            key=key,
            channel=channel,
            target=target,
            subject=subject[:500],
            payload=json.loads(json.dumps(payload, default=str)),
            status="pending",
            attempts=0,
        )
        session.add(row)
        rows.append(row)
    return rows


def queue_incidents(
    session: Session, notify: Notify, job: ScheduleJob, incidents: list[Incident]
) -> list[ScheduleNotification]:
    """Queue 'new incidents' messages for one job (not committed: the caller's transaction)."""
    if not incidents:
        return []
    provinces = sorted({i.province or UNATTRIBUTED for i in incidents})
    subject = f"[burnwatch] {len(incidents)} new burning incident(s) in {', '.join(provinces)}"
    payload = {
        "area": job.area,
        "source": job.source,
        "pass_id": job.pass_id,
        "pass_time": utc(job.pass_time).isoformat(),
        "generation": job.generation,
        "incidents": [incident_summary(i) for i in incidents],
    }
    return _queue(session, notify, "incidents", f"job:{job.id}", subject, payload)


def queue_failure(
    session: Session, notify: Notify, job: ScheduleJob, error: str, next_attempt: datetime | None
) -> list[ScheduleNotification]:
    when = f"retry at {utc(next_attempt):%Y-%m-%d %H:%M} UTC" if next_attempt else "no more retries"
    subject = f"[burnwatch] scan failed: {job.area} {job.pass_id} (attempt {job.attempts}, {when})"
    payload = {
        "area": job.area,
        "source": job.source,
        "pass_id": job.pass_id,
        "attempt": job.attempts,
        "error": error,
        "next_attempt_at": utc(next_attempt).isoformat() if next_attempt else None,
    }
    return _queue(session, notify, "job_failed", f"job:{job.id}:attempt:{job.attempts}", subject, payload)


def digest_window(since: datetime, until: datetime) -> ColumnElement[bool]:
    """Incidents of the digest ``[since, until)``: seen in it, or given hotspots by a scheduler
    job that finished in it. A night pass is ingested hours after its digest was queued (the
    FIRMS latency); its incidents then come in the next digest instead of none."""
    ingested = (
        select(HotspotRow.incident_id)
        .join(ScheduleJob, ScheduleJob.scan_id == HotspotRow.scan_id)
        .where(ScheduleJob.finished_at >= since, ScheduleJob.finished_at < until)
    )
    return or_(
        and_(Incident.last_seen >= since, Incident.last_seen < until),
        Incident.id.in_(ingested),
    )


def queue_digests(
    session: Session, notify: Notify, now: datetime, provinces: Sequence[str] = ()
) -> list[ScheduleNotification]:
    """Once the local digest hour has come, queue today's digest for every province with
    incidents in the past 24 h (and every province in ``provinces``, even with none)."""
    from zoneinfo import ZoneInfo

    if notify.digest_hour is None:
        return []
    tz = ZoneInfo(notify.timezone)
    local = utc(now).astimezone(tz)
    cut = local.replace(hour=notify.digest_hour, minute=0, second=0, microsecond=0)
    if local < cut:
        return []
    since, until = (cut - timedelta(days=1)).astimezone(utc(now).tzinfo), cut.astimezone(utc(now).tzinfo)
    incidents = session.scalars(
        select(Incident)
        .where(Incident.status == "active", digest_window(since, until))
        .order_by(Incident.province, Incident.first_seen)
    )
    by_province: dict[str, list[Incident]] = defaultdict(list)
    for name in provinces:
        by_province[name] = []
    for inc in incidents:
        by_province[inc.province or UNATTRIBUTED].append(inc)
    rows = []
    for province, items in sorted(by_province.items()):
        subject = f"[burnwatch] daily digest {cut:%Y-%m-%d} {province}: {len(items)} incident(s)"
        payload = {
            "province": province,
            "date": cut.date().isoformat(),
            "since": since.isoformat(),
            "until": until.isoformat(),
            "count": len(items),
            "hotspots": sum(i.hotspot_count for i in items),
            "incidents": [incident_summary(i) for i in items],
        }
        rows += _queue(session, notify, "digest", f"digest:{cut:%Y-%m-%d}:{province}", subject, payload)
    return rows


def _body_text(row: ScheduleNotification) -> str:
    p = row.payload
    lines = [row.subject, ""]
    for inc in p.get("incidents", []):
        where = ", ".join(x for x in (inc.get("commune"), inc.get("province")) if x) or "unattributed"
        lines.append(
            f"- incident {inc['id']}: {inc['lat']:.5f} N, {inc['lon']:.5f} E ({where}); "
            f"{inc['hotspots']} hotspot(s), confidence {inc['confidence']:.2f}, "
            f"first seen {inc['first_seen']}, last seen {inc['last_seen']}"
        )
    if "error" in p:
        lines.append(f"error: {p['error']}")
    lines += ["", "-- burnwatch", "", json.dumps(p, ensure_ascii=False, indent=1)]
    return "\n".join(lines)


def send_webhook(url: str, body: dict[str, Any], timeout_s: float) -> None:
    """POST ``body`` as JSON; raise on a network error or a non-2xx answer. A redirect is a
    failed delivery (following it would turn the POST into a GET that carries no message)."""
    import requests

    response = requests.post(
        url, json=body, timeout=timeout_s, headers={"User-Agent": "burnwatch"}, allow_redirects=False
    )
    if 300 <= response.status_code < 400:
        where = response.headers.get("Location", "(no Location header)")
        raise RuntimeError(f"HTTP {response.status_code} redirect to {where}: not delivered (fix the URL)")
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")


def send_email(smtp: Smtp, to: str, subject: str, text: str) -> None:
    """Send a plain-text UTF-8 message with :mod:`smtplib` (STARTTLS/login when configured)."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
        client.ehlo()
        if smtp.starttls:
            client.starttls()
            client.ehlo()
        if smtp.username:
            password = os.environ.get(smtp.password_env or "", "")
            if not password:
                raise RuntimeError(f"SMTP password missing: set {smtp.password_env or 'password_env'}")
            client.login(smtp.username, password)
        client.send_message(msg)


#: a message left ``sending`` (its process died mid-delivery) is tried again after this long
STALE_SENDING = timedelta(hours=1)


def claim_message(session: Session, row: ScheduleNotification, now: datetime) -> bool:
    """Atomically mark ``row`` ``sending`` (only if still ``pending``) and count the attempt;
    False when another scheduler took it first. Committed before anything is sent."""
    claimed = session.execute(
        update(ScheduleNotification)
        .where(ScheduleNotification.id == row.id, ScheduleNotification.status == "pending")
        .values(status="sending", attempts=ScheduleNotification.attempts + 1, sent_at=utc(now))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(row)
    session.commit()  # hold no transaction (SQLite write lock) while the work runs
    return bool(getattr(claimed, "rowcount", 0) == 1)


def requeue_stale_sending(session: Session, now: datetime) -> None:
    """Messages left ``sending`` by a process that died go back to ``pending``."""
    session.execute(
        update(ScheduleNotification)
        .where(
            ScheduleNotification.status == "sending",
            ScheduleNotification.sent_at < utc(now) - STALE_SENDING,
        )
        .values(status="pending", sent_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _send(row: ScheduleNotification, notify: Notify) -> None:
    if row.channel == "webhook":
        body = {"type": row.kind, "subject": row.subject, **row.payload}
        send_webhook(row.target, body, notify.timeout_s)
    elif notify.smtp is None:
        raise RuntimeError("no smtp section in the schedule")
    else:
        send_email(notify.smtp, row.target, row.subject, _body_text(row))


def deliver_pending(session: Session, notify: Notify, now: datetime) -> Delivery:
    """Try every pending message once (each claimed first, so two schedulers never send the
    same one); commit each outcome."""
    result = Delivery()
    requeue_stale_sending(session, now)
    ids = list(
        session.scalars(
            select(ScheduleNotification.id)
            .where(ScheduleNotification.status == "pending")
            .order_by(ScheduleNotification.id)
        )
    )
    session.commit()  # no transaction (SQLite write lock) is held while sending
    for row_id in ids:
        row = session.get(ScheduleNotification, row_id)
        if row is None or not claim_message(session, row, now):
            continue
        try:
            _send(row, notify)
        except Exception as exc:  # any delivery problem: keep the message, try next run
            row.status, row.sent_at = "pending", None
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            result.failed += 1
            result.errors.append(f"{row.channel} {row.target}: {row.last_error}")
            log.error("notification %d (%s to %s) failed: %s", row.id, row.kind, row.target, row.last_error)
        else:
            row.status, row.sent_at, row.last_error = "sent", utc(now), None
            result.sent += 1
        session.commit()
    return result
