"""Tables of the scheduler, on the store's declarative ``Base`` (migration ``0002``).

* ``schedule_jobs``: one row per (watch area, source, pass id, generation). The UNIQUE key
  means a pass is scanned once; reprocessing creates a row with the next ``generation``.
* ``schedule_notifications``: an outbox. A message is queued in the same transaction as the
  result it reports and delivered afterwards; failed deliveries stay ``pending`` and are
  retried by the next run, so nothing is lost when a webhook or mail server is down.

Times are aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from burnwatch.store.coltypes import UTCDateTime
from burnwatch.store.models import Base, now_utc

JOB_STATUSES = ("pending", "running", "done", "failed")


class ScheduleJob(Base):
    """The scan of one pass (satellite acquisition day or FIRMS time slot) over one watch area."""

    __tablename__ = "schedule_jobs"
    __table_args__ = (
        UniqueConstraint("area", "source", "pass_id", "generation", name="uq_schedule_jobs_pass"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area: Mapped[str] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(String(32))
    pass_id: Mapped[str] = mapped_column(String(256))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    pass_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    software_version: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    scenes: Mapped[int] = mapped_column(Integer, default=0)
    hotspots: Mapped[int] = mapped_column(Integer, default=0)
    hotspots_added: Mapped[int] = mapped_column(Integer, default=0)
    incidents_new: Mapped[int] = mapped_column(Integer, default=0)
    scan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class ScheduleNotification(Base):
    """One message to one target (webhook URL or e-mail address); an outbox row."""

    __tablename__ = "schedule_notifications"
    __table_args__ = (UniqueConstraint("kind", "key", "target", name="uq_schedule_notifications_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # incidents | digest | job_failed
    key: Mapped[str] = mapped_column(String(256))  # what it is about, e.g. "job:12:attempt:2"
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email
    target: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(512), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending | sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
