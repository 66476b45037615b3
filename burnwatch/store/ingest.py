"""Idempotent, transactional hotspot ingest.

:func:`ingest_hotspots` writes a batch of :class:`~burnwatch.types.Hotspot` (from a
satellite scan, a FIRMS file, a drone flight ...) with its provenance in ONE transaction:
the scan record, the new hotspot rows (duplicates by natural key skipped), static-source
flags, incident clustering/merging, new cases and the audit record either all commit or
none do. Re-running the same input adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from burnwatch.errors import ConflictError
from burnwatch.incidents.admin import AdminAttributor
from burnwatch.incidents.clustering import ClusterParams, cluster_hotspots
from burnwatch.incidents.register import ZoneIndex
from burnwatch.store.chain import audit, canonical_json
from burnwatch.store.models import HotspotRow, Scan
from burnwatch.types import Hotspot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanRecord:
    """Provenance of one batch: what ran, on what, with which parameters and versions."""

    kind: str  # "scan" | "firms" | "flight" | "file"
    source: str  # e.g. "sentinel2", "firms", "drone"
    label: str = ""  # a path or scene id, for people
    parameters: dict[str, Any] = field(default_factory=dict)
    software_versions: dict[str, str] = field(default_factory=dict)
    input_hashes: dict[str, str] = field(default_factory=dict)  # name -> sha256
    started_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """sha256 of kind, source, parameters and input hashes: the same run twice = one scan."""
        payload = {
            "kind": self.kind,
            "source": self.source,
            "parameters": self.parameters,
            "inputs": self.input_hashes,
        }
        return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


@dataclass(frozen=True)
class IngestResult:
    added: int
    skipped_duplicates: int
    incidents_created: int
    incidents_updated: int
    incidents_merged: int = 0
    flagged_static: int = 0
    scan_id: int | None = None


def key_of(h: Hotspot) -> tuple[str, str, str, datetime, int, int]:
    """Natural key as stored: (source, sensor, algorithm, time, lon*1e5, lat*1e5) rounded."""
    return (
        h.source,
        h.sensor,
        h.algorithm,
        h.time.replace(microsecond=0),
        round(h.lon * 1e5),
        round(h.lat * 1e5),
    )


def _row(h: Hotspot, scan_id: int) -> HotspotRow:
    from shapely.geometry import Point

    k = key_of(h)
    return HotspotRow(
        scan_id=scan_id,
        source=h.source,
        sensor=h.sensor,
        algorithm=h.algorithm,
        algorithm_version=h.algorithm_version,
        kind=h.kind,
        time=k[3],
        lon=h.lon,
        lat=h.lat,
        key_lon=k[4],
        key_lat=k[5],
        confidence=h.confidence,
        confidence_class=h.confidence_class,
        pixel_count=h.pixel_count,
        frp_mw=h.frp_mw,
        uncertainty_m=h.uncertainty_m,
        scene_id=h.scene_id,
        crs=h.crs,
        x=h.x,
        y=h.y,
        geom=Point(h.lon, h.lat),
        footprint=h.footprint,
        footprint_native_wkt=h.footprint_native.wkt if h.footprint_native is not None else None,
        attributes=json.loads(json.dumps(dict(h.attributes), default=str)),
        flags=list(h.flags),
    )


def _existing_keys(session: Session, keys: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    found: set[tuple[Any, ...]] = set()
    cols = (
        HotspotRow.source,
        HotspotRow.sensor,
        HotspotRow.algorithm,
        HotspotRow.time,
        HotspotRow.key_lon,
        HotspotRow.key_lat,
    )
    for i in range(0, len(keys), 200):
        chunk = keys[i : i + 200]
        times = {k[3] for k in chunk}
        stmt = select(*cols).where(HotspotRow.time.in_(times))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.where(tuple_(*cols).in_(chunk))
        found.update(tuple(r) for r in session.execute(stmt))
    return found


def _scan(session: Session, record: ScanRecord, count: int) -> Scan:
    scan = session.scalars(select(Scan).where(Scan.fingerprint == record.fingerprint)).first()
    if scan is None:
        scan = Scan(
            kind=record.kind,
            source=record.source,
            label=record.label,
            fingerprint=record.fingerprint,
            parameters=json.loads(canonical_json(record.parameters)),
            software_versions=dict(record.software_versions),
            input_hashes=dict(record.input_hashes),
            started_at=record.started_at,
            hotspot_count=count,
        )
        session.add(scan)
        session.flush()
    return scan


def ingest_hotspots(
    session: Session,
    hotspots: Sequence[Hotspot],
    provenance: ScanRecord,
    *,
    params: ClusterParams | None = None,
    attributor: AdminAttributor | None = None,
    actor: str = "system",
) -> IngestResult:
    """Store ``hotspots`` and update incidents, all in one transaction (committed here;
    rolled back, leaving the database as it was, if anything fails)."""
    params = params or ClusterParams.from_settings()
    try:
        if not session.in_transaction():
            session.connection(execution_options={"sqlite_immediate": True})
        if session.get_bind().dialect.name == "postgresql":
            # One ingest at a time: concurrent batches would each miss the other's new
            # hotspots when clustering. SQLite already serialises writers.
            session.execute(text("SELECT pg_advisory_xact_lock(724312)"))
        scan = _scan(session, provenance, len(hotspots))
        unique: dict[tuple[Any, ...], Hotspot] = {}
        for h in hotspots:
            unique.setdefault(key_of(h), h)
        existing = _existing_keys(session, list(unique))
        new_rows: list[HotspotRow] = []
        flagged = 0
        zones = ZoneIndex.load(session)
        for key, h in unique.items():
            if key in existing:
                continue
            row = _row(h, scan.id)
            zone = zones.match(h.lon, h.lat)
            if zone is not None:
                row.static_source_id = zone.id
                row.flags = [*row.flags, "static_source"] if "static_source" not in row.flags else row.flags
                flagged += 1
            session.add(row)
            new_rows.append(row)
        session.flush()
        clusters = cluster_hotspots(session, new_rows, params, attributor)
        result = IngestResult(
            added=len(new_rows),
            skipped_duplicates=len(hotspots) - len(new_rows),
            incidents_created=len(clusters.created),
            incidents_updated=len(clusters.updated),
            incidents_merged=len(clusters.merged),
            flagged_static=flagged,
            scan_id=scan.id,
        )
        if new_rows:
            audit(
                session,
                actor,
                "ingest",
                "scans",
                scan.id,
                label=provenance.label,
                added=result.added,
                created=result.incidents_created,
                updated=result.incidents_updated,
                merged=result.incidents_merged,
            )
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(
            f"{provenance.label or provenance.kind}: conflicting write during ingest, nothing was stored; "
            f"run it again ({exc.orig})"
        ) from exc
    except BaseException:
        session.rollback()
        raise
    log.info("ingested %s: %s", provenance.label or provenance.kind, result)
    return result
