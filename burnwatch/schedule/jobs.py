"""Job state in the database: create, pick, start, finish, fail (with backoff), reprocess.

Life of a job: ``pending`` -> ``running`` -> ``done``; a failed attempt goes back to
``failed`` with ``next_attempt_at = now + backoff`` and is picked again once that time has
come; after ``max_attempts`` it stays ``failed`` with no next attempt (listed by
``burnwatch schedule status``, re-queued by ``--retry-failed``). A job left ``running`` by a
process that died is re-queued after ``stale_running_hours``. Every function commits its
own change, so the state on disk is always the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from burnwatch import __version__
from burnwatch.schedule.config import Retry
from burnwatch.schedule.models import ScheduleJob
from burnwatch.schedule.passes import Pass
from burnwatch.types import utc

log = logging.getLogger(__name__)


def ensure_jobs(session: Session, passes: Iterable[Pass]) -> list[ScheduleJob]:
    """Insert a ``pending`` job for every pass that has none yet (any generation); return the new ones."""
    passes = list(passes)
    if not passes:
        return []
    existing = {
        (a, s, p)
        for a, s, p in session.execute(
            select(ScheduleJob.area, ScheduleJob.source, ScheduleJob.pass_id).where(
                ScheduleJob.pass_id.in_({p.pass_id for p in passes})
            )
        )
    }
    new = []
    for p in passes:
        key = (p.area, p.source, p.pass_id)
        if key in existing:
            continue
        existing.add(key)
        job = _new_job(p)
        if _insert_once(session, job):
            new.append(job)
    session.commit()
    return new


def _insert_once(session: Session, job: ScheduleJob) -> bool:
    """Insert ``job`` in a savepoint; False when another scheduler inserted the same pass first
    (the UNIQUE key): two schedulers on one database never stop each other."""
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        log.info("job %s %s %s: already created by another scheduler", job.area, job.source, job.pass_id)
        return False
    return True


def _new_job(p: Pass) -> ScheduleJob:
    return _pending_job(
        p.area,
        p.source,
        p.pass_id,
        0,
        (p.time, p.start, p.end),
        {"cloud_cover": p.cloud_cover} if p.cloud_cover is not None else {},
    )


def _pending_job(
    area: str,
    source: str,
    pass_id: str,
    generation: int,
    times: tuple[datetime, datetime, datetime],
    details: dict[str, object],
) -> ScheduleJob:
    """A fresh job (nothing attempted, no counts) for one pass; ``times`` = pass, window start, end."""
    pass_time, window_start, window_end = times
    return ScheduleJob(
        area=area,
        source=source,
        pass_id=pass_id,
        generation=generation,
        pass_time=pass_time,
        window_start=window_start,
        window_end=window_end,
        status="pending",
        attempts=0,
        software_version=__version__,
        scenes=0,
        hotspots=0,
        hotspots_added=0,
        incidents_new=0,
        details=details,
    )


def requeue_stale(session: Session, now: datetime, retry: Retry) -> list[ScheduleJob]:
    """Jobs stuck in ``running`` (their process died) become failed attempts, retried at once."""
    limit = utc(now) - timedelta(hours=retry.stale_running_hours)
    stale = list(
        session.scalars(
            select(ScheduleJob).where(ScheduleJob.status == "running", ScheduleJob.started_at < limit)
        )
    )
    for job in stale:
        job.status = "failed"
        job.last_error = f"interrupted: still running after {retry.stale_running_hours:g} h"
        job.next_attempt_at = utc(now) if job.attempts < retry.max_attempts else None
        log.warning("job %d %s %s: %s", job.id, job.area, job.pass_id, job.last_error)
    session.commit()
    return stale


def due_jobs(session: Session, now: datetime, areas: Sequence[str] | None = None) -> list[ScheduleJob]:
    """Pending jobs and failed jobs whose retry time has come, oldest pass first."""
    stmt = select(ScheduleJob).where(
        or_(
            ScheduleJob.status == "pending",
            and_(
                ScheduleJob.status == "failed",
                ScheduleJob.next_attempt_at.is_not(None),
                ScheduleJob.next_attempt_at <= utc(now),
            ),
        )
    )
    if areas is not None:
        stmt = stmt.where(ScheduleJob.area.in_(list(areas)))
    return list(session.scalars(stmt.order_by(ScheduleJob.pass_time, ScheduleJob.id)))


def start_job(session: Session, job: ScheduleJob, now: datetime) -> bool:
    """Claim ``job`` atomically: ``running`` only if it is still in the state it was read in
    (same status and attempts). False when another scheduler claimed it first: skip it."""
    claimed = session.execute(
        update(ScheduleJob)
        .where(
            ScheduleJob.id == job.id,
            ScheduleJob.status == job.status,
            ScheduleJob.attempts == job.attempts,
        )
        .values(
            status="running",
            attempts=ScheduleJob.attempts + 1,
            started_at=utc(now),
            finished_at=None,
            next_attempt_at=None,
            software_version=__version__,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(job)
    session.commit()  # hold no transaction (SQLite write lock) while the work runs
    return bool(getattr(claimed, "rowcount", 0) == 1)


def finish_job(
    session: Session,
    job: ScheduleJob,
    now: datetime,
    *,
    scenes: int,
    hotspots: int,
    added: int,
    incidents_new: int,
    scan_id: int | None,
    details: dict[str, object] | None = None,
    commit: bool = True,
) -> None:
    job.status = "done"
    job.finished_at = utc(now)
    job.last_error = None
    job.next_attempt_at = None
    job.scenes, job.hotspots, job.hotspots_added = scenes, hotspots, added
    job.incidents_new, job.scan_id = incidents_new, scan_id
    job.details = {**(job.details or {}), **(details or {})}
    if commit:
        session.commit()


def fail_job(session: Session, job: ScheduleJob, now: datetime, error: str, retry: Retry) -> bool:
    """Record a failed attempt; return True when another attempt is scheduled."""
    job.status = "failed"
    job.finished_at = utc(now)
    job.last_error = error[:4000]
    again = job.attempts < retry.max_attempts
    job.next_attempt_at = utc(now) + retry.delay(job.attempts) if again else None
    session.commit()
    return again


def retry_failed(session: Session, now: datetime) -> int:
    """Re-queue every job that gave up (``failed`` with no next attempt); attempts restart."""
    jobs = list(
        session.scalars(
            select(ScheduleJob).where(ScheduleJob.status == "failed", ScheduleJob.next_attempt_at.is_(None))
        )
    )
    for job in jobs:
        job.status, job.attempts, job.next_attempt_at = "pending", 0, utc(now)
    session.commit()
    return len(jobs)


def request_reprocess(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    areas: Sequence[str] | None = None,
    sources: Sequence[str] | None = None,
) -> list[ScheduleJob]:
    """Queue a new generation of every *done* pass in ``[start, end)``: the explicit way to
    scan a pass again (e.g. after a detector update). Returns the new jobs."""
    latest = (
        select(
            ScheduleJob.area,
            ScheduleJob.source,
            ScheduleJob.pass_id,
            func.max(ScheduleJob.generation).label("gen"),
        )
        .where(ScheduleJob.pass_time >= utc(start), ScheduleJob.pass_time < utc(end))
        .group_by(ScheduleJob.area, ScheduleJob.source, ScheduleJob.pass_id)
        .subquery()
    )
    stmt = select(ScheduleJob).join(
        latest,
        and_(
            ScheduleJob.area == latest.c.area,
            ScheduleJob.source == latest.c.source,
            ScheduleJob.pass_id == latest.c.pass_id,
            ScheduleJob.generation == latest.c.gen,
        ),
    )
    new = []
    for old in session.scalars(stmt):
        if old.status != "done":
            continue  # pending/running/failed passes are still to be scanned anyway
        if (areas and old.area not in areas) or (sources and old.source not in sources):
            continue
        job = _pending_job(
            old.area,
            old.source,
            old.pass_id,
            old.generation + 1,
            (old.pass_time, old.window_start, old.window_end),
            {"reprocess_of": old.id},
        )
        session.add(job)
        new.append(job)
    session.commit()
    return new


def last_run(session: Session) -> datetime | None:
    """When the last job finished (any status), or None."""
    return session.scalar(select(func.max(ScheduleJob.finished_at)))


def status_counts(session: Session) -> dict[tuple[str, str, str], int]:
    """(area, source, status) -> number of jobs."""
    rows = session.execute(
        select(ScheduleJob.area, ScheduleJob.source, ScheduleJob.status, func.count()).group_by(
            ScheduleJob.area, ScheduleJob.source, ScheduleJob.status
        )
    )
    return {(a, s, st): int(n) for a, s, st, n in rows}
