"""Tables owned by the web app, on the store's declarative ``Base`` (migration ``0003``).

* :class:`FlightJob` — one uploaded drone flight and its background processing: progress,
  per-file problems (the flight report) and the scan its hotspots were ingested as.
* :class:`ReviewVerdict` — an analyst's true/false verdict on one detection (hotspot row);
  :func:`burnwatch.api.review.verdicts_for_eval` turns them into an evaluation list.
* :class:`LoginFailure` — one failed login (migration ``0007``): the login limiter counts
  these, so every server process and a restarted one see the same failures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from burnwatch.store.coltypes import UTCDateTime
from burnwatch.store.models import Base, now_utc


class FlightJob(Base):
    """A flight zip uploaded through the web app. ``status``: queued|running|done|failed."""

    __tablename__ = "flight_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex
    filename: Mapped[str] = mapped_column(String(256))
    uploaded_by: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    flight_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"), nullable=True)
    hotspots: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: last sign of life from the server process that owns the job (migration ``0008``)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReviewVerdict(Base):
    """One reviewer's verdict on one detection; marking again replaces the earlier verdict."""

    __tablename__ = "review_verdicts"
    __table_args__ = (UniqueConstraint("hotspot_id", "reviewer", name="uq_review_verdicts_hotspot_reviewer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hotspot_id: Mapped[int] = mapped_column(ForeignKey("hotspots.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[bool] = mapped_column(Boolean)  # True = a real fire/smoke
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class LoginFailure(Base):
    """A failed login of ``username`` (lower-cased) from ``client`` (IP) at ``at`` (the app
    clock, epoch seconds)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_key_at", "username", "client", "at"),
        Index("ix_login_failures_at", "at"),  # pruning expired rows (0010)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
