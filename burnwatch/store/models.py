"""ORM models (SQLAlchemy 2 declarative, typed). The schema itself is created by the Alembic
migrations in :mod:`burnwatch.store.migrations`; these classes must match them.

Coordinates: ``lon``/``lat`` and every ``geom``/``footprint`` are WGS84 (EPSG:4326).
Times are aware UTC. Distances are metres.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from burnwatch.store.coltypes import GeometryType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Scan(Base):
    """One run that produced hotspots: a satellite scan, a FIRMS file, a drone flight."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # scan | firms | flight | file
    source: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(512), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of inputs+parameters
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    software_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input_hashes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    hotspot_count: Mapped[int] = mapped_column(Integer, default=0)


class HotspotRow(Base):
    """Every detection from every source. ``key_lon``/``key_lat`` = round(deg, 5) * 1e5."""

    __tablename__ = "hotspots"
    __table_args__ = (
        UniqueConstraint(
            "source", "sensor", "algorithm", "time", "key_lon", "key_lat", name="uq_hotspots_natural_key"
        ),
        Index("ix_hotspots_lat_lon", "lat", "lon"),
        Index("ix_hotspots_time_lat_lon", "time", "lat", "lon"),  # newest-first pages of a box
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"), index=True, nullable=True)
    source: Mapped[str] = mapped_column(String(32))
    sensor: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(64))
    algorithm_version: Mapped[str] = mapped_column(String(32), default="1")
    kind: Mapped[str] = mapped_column(String(8), default="fire")
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    key_lon: Mapped[int] = mapped_column(Integer)
    key_lat: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    confidence_class: Mapped[str] = mapped_column(String(8))
    pixel_count: Mapped[int] = mapped_column(Integer, default=1)
    frp_mw: Mapped[float | None] = mapped_column(Float, nullable=True)
    uncertainty_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    scene_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    crs: Mapped[str] = mapped_column(String(64), default="EPSG:4326")
    x: Mapped[float | None] = mapped_column(Float, nullable=True)
    y: Mapped[float | None] = mapped_column(Float, nullable=True)
    geom: Mapped[BaseGeometry] = mapped_column(GeometryType("POINT"))
    footprint: Mapped[BaseGeometry] = mapped_column(GeometryType("GEOMETRY"))
    footprint_native_wkt: Mapped[str | None] = mapped_column(Text, nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True, nullable=True)
    static_source_id: Mapped[int | None] = mapped_column(
        ForeignKey("static_sources.id"), index=True, nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class Incident(Base):
    """One burning event: a space-time cluster of hotspots from any number of sources."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_bbox", "min_lat", "max_lat", "min_lon", "max_lon"),
        Index("ix_incidents_active_bbox", "status", "min_lat", "max_lat", "min_lon", "max_lon", "last_seen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active | merged
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    geom: Mapped[BaseGeometry] = mapped_column(GeometryType("GEOMETRY"))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    hotspot_count: Mapped[int] = mapped_column(Integer, default=0)
    source_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    province: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    province_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    commune: Mapped[str | None] = mapped_column(String(128), nullable=True)
    commune_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    static_source: Mapped[bool] = mapped_column(Boolean, default=False)
    static_source_id: Mapped[int | None] = mapped_column(ForeignKey("static_sources.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin|analyst|drone_operator|inspector|public
    province: Mapped[str | None] = mapped_column(String(128), nullable=True)  # None = all provinces
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    # in every session cookie issued to the user; logout moves it on, ending them all (0009)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StaticSource(Base):
    """A confirmed static heat source (kiln, factory, landfill): an exclusion zone."""

    __tablename__ = "static_sources"
    __table_args__ = (Index("ix_static_sources_bbox", "min_lat", "max_lat", "min_lon", "max_lon"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(32))  # kiln | factory | landfill | other
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float] = mapped_column(Float)
    geom: Mapped[BaseGeometry] = mapped_column(GeometryType("GEOMETRY"))
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    origin: Mapped[str] = mapped_column(String(512), default="")  # "case:12" or a file path
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class Case(Base):
    """The enforcement case for one incident."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    state: Mapped[str] = mapped_column(String(24), default="new", index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # last history sequence number
    head_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class CaseEvent(Base):
    """A state transition (who, when, why). Part of the case's hash chain."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_case_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_state: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text, default="")
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class CaseNote(Base):
    __tablename__ = "case_notes"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_notes_case_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Evidence(Base):
    """An uploaded evidence file, content-addressed by sha256 under ``data_dir/evidence``."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_evidence_case_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(512))  # relative to settings.data_dir
    size_bytes: Mapped[int] = mapped_column(Integer)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditLog(Base):
    """Append-only, hash-chained log of every write (triggers forbid UPDATE and DELETE)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
