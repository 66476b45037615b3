"""Incremental space-time clustering of hotspots into incidents.

Two hotspots belong to the same incident when their centres are within ``distance_m``
metres (measured in the local UTM zone) and their times within ``window`` of each other;
incidents are the connected components of that relation (single linkage, i.e. DBSCAN
with ``min_samples=1``; Ester et al. 1996, ST-DBSCAN: Birant & Kut 2007). The clustering
is incremental: each new hotspot looks up already-clustered neighbours through the
indexed time and lat/lon columns, then

* no neighbour -> a new incident (and a new case in state ``new``),
* neighbours in one incident -> it joins that incident,
* neighbours in several incidents -> they MERGE into the oldest (lowest id); the others
  are kept with ``status='merged'`` and ``merged_into_id`` so links stay resolvable.

History is never reclustered. Incident aggregates (hull of member footprints, first/last
seen, per-source counts, combined confidence, province/commune) are recomputed from the
members of the incidents touched.

Combined confidence (documented in docs/store.md): hotspots of the same source+sensor are
not independent, so each sensor contributes its best confidence ``p_s``; independent
sensors combine by noisy-OR ``1 - Π_s (1 - p_s)``; a drone fire detection (an on-site
look) raises the incident to at least :data:`DRONE_FLOOR`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from shapely import MultiPoint, unary_union
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from burnwatch.incidents.admin import AdminAttributor
from burnwatch.incidents.geo import degree_margin, to_metric, utm_epsg
from burnwatch.store.models import Case, HotspotRow, Incident, now_utc

log = logging.getLogger(__name__)

DRONE_FLOOR = 0.9


@dataclass(frozen=True)
class ClusterParams:
    distance_m: float = 1000.0
    window: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls) -> ClusterParams:
        from burnwatch.config import get_settings

        s = get_settings()
        return cls(distance_m=s.incident_distance_m, window=timedelta(hours=s.incident_window_h))


@dataclass
class ClusterResult:
    created: set[int] = field(default_factory=set)
    updated: set[int] = field(default_factory=set)
    merged: dict[int, int] = field(default_factory=dict)  # absorbed id -> surviving id


def resolve_incident(session: Session, incident_id: int) -> int:
    """Follow ``merged_into_id`` links to the surviving incident."""
    seen = set()
    while incident_id not in seen:
        seen.add(incident_id)
        nxt = session.scalar(select(Incident.merged_into_id).where(Incident.id == incident_id))
        if nxt is None:
            return incident_id
        incident_id = nxt
    return incident_id


def candidates_stmt(row: HotspotRow, params: ClusterParams) -> Select[Any]:
    """Clustered hotspots in the time window and a lon/lat box surely covering ``distance_m``
    (served by the ``time`` and ``(lat, lon)`` B-tree indexes)."""
    dlon, dlat = degree_margin(params.distance_m, row.lat)
    return select(HotspotRow).where(
        HotspotRow.incident_id.is_not(None),
        HotspotRow.id != row.id,
        HotspotRow.time >= row.time - params.window,
        HotspotRow.time <= row.time + params.window,
        HotspotRow.lat.between(row.lat - dlat, row.lat + dlat),
        HotspotRow.lon.between(row.lon - dlon, row.lon + dlon),
    )


def neighbours(session: Session, row: HotspotRow, params: ClusterParams) -> list[HotspotRow]:
    """Clustered hotspots within ``distance_m`` and ``window`` of ``row`` (indexed candidate
    search, then exact distances in the row's UTM zone)."""
    candidates = list(session.scalars(candidates_stmt(row, params)))
    if not candidates:
        return []
    tr = to_metric(utm_epsg(row.lon, row.lat))
    x0, y0 = tr.transform(row.lon, row.lat)
    xs, ys = tr.transform(np.array([c.lon for c in candidates]), np.array([c.lat for c in candidates]))
    d = np.hypot(np.asarray(xs) - x0, np.asarray(ys) - y0)
    return [c for c, di in zip(candidates, d, strict=True) if di <= params.distance_m]


def _new_incident(session: Session, row: HotspotRow) -> Incident:
    inc = Incident(
        status="active",
        first_seen=row.time,
        last_seen=row.time,
        lon=row.lon,
        lat=row.lat,
        min_lon=row.lon,
        min_lat=row.lat,
        max_lon=row.lon,
        max_lat=row.lat,
        geom=row.footprint,
        confidence=row.confidence,
        hotspot_count=1,
        source_counts={row.source: 1},
    )
    session.add(inc)
    session.flush()
    return inc


def _merge(session: Session, survivor: int, others: Iterable[int], result: ClusterResult) -> None:
    from burnwatch.incidents.cases import close_as_merged

    for other in others:
        session.execute(
            update(HotspotRow).where(HotspotRow.incident_id == other).values(incident_id=survivor),
            execution_options={"synchronize_session": "fetch"},
        )
        inc = session.get(Incident, other)
        assert inc is not None
        inc.status = "merged"
        inc.merged_into_id = survivor
        inc.updated_at = now_utc()
        for case in session.scalars(select(Case).where(Case.incident_id == other)):
            close_as_merged(session, case, survivor, other)
        result.merged[other] = survivor
        result.created.discard(other)
        result.updated.discard(other)
        log.info("incident %d merged into %d", other, survivor)


def cluster_hotspots(
    session: Session,
    rows: Sequence[HotspotRow],
    params: ClusterParams,
    attributor: AdminAttributor | None = None,
    *,
    open_cases: bool = True,
) -> ClusterResult:
    """Attach new (flushed, unclustered) hotspot rows to incidents, oldest first."""
    from burnwatch.incidents.cases import open_case

    result = ClusterResult()
    for row in sorted(rows, key=lambda r: (r.time, r.id)):
        near = neighbours(session, row, params)
        ids = sorted({resolve_incident(session, n.incident_id) for n in near if n.incident_id is not None})
        if not ids:
            inc = _new_incident(session, row)
            row.incident_id = inc.id
            result.created.add(inc.id)
            if open_cases:
                open_case(session, inc.id)
        else:
            survivor = ids[0]
            row.incident_id = survivor
            if len(ids) > 1:
                _merge(session, survivor, ids[1:], result)
            if survivor not in result.created:
                result.updated.add(survivor)
        session.flush()
    for inc_id in sorted(result.created | result.updated):
        touched = session.get(Incident, inc_id)
        if touched is not None:
            refresh_incident(session, touched, attributor)
    return result


def combined_confidence(members: Sequence[HotspotRow]) -> float:
    """Noisy-OR over independent sensors of each sensor's best confidence; drone floor."""
    best: dict[tuple[str, str], float] = {}
    for h in members:
        key = (h.source, h.sensor)
        best[key] = max(best.get(key, 0.0), h.confidence)
    conf = 1.0 - float(np.prod([1.0 - p for p in best.values()])) if best else 0.0
    if any(h.source == "drone" and h.kind == "fire" for h in members):
        conf = max(conf, DRONE_FLOOR)
    return round(min(1.0, conf), 6)


def refresh_incident(session: Session, inc: Incident, attributor: AdminAttributor | None = None) -> None:
    """Recompute an incident's geometry and aggregates from its member hotspots."""
    members = list(session.scalars(select(HotspotRow).where(HotspotRow.incident_id == inc.id)))
    if not members:
        return
    hull = unary_union([m.footprint for m in members]).convex_hull
    if hull.is_empty or hull.area == 0.0:
        hull = MultiPoint([(m.lon, m.lat) for m in members]).convex_hull
    centre = hull.centroid if not hull.is_empty else None
    inc.geom = hull
    inc.lon = float(centre.x) if centre is not None else members[0].lon
    inc.lat = float(centre.y) if centre is not None else members[0].lat
    minx, miny, maxx, maxy = hull.bounds
    inc.min_lon, inc.min_lat, inc.max_lon, inc.max_lat = float(minx), float(miny), float(maxx), float(maxy)
    inc.first_seen = min(m.time for m in members)
    inc.last_seen = max(m.time for m in members)
    inc.hotspot_count = len(members)
    inc.source_counts = dict(sorted(Counter(m.source for m in members).items()))
    inc.confidence = combined_confidence(members)
    static = [m.static_source_id for m in members if m.static_source_id is not None]
    if static:
        inc.static_source = True
        inc.static_source_id = inc.static_source_id or static[0]
    if attributor is not None:
        province, commune = attributor.attribute(inc.lon, inc.lat)
        if province is not None:
            inc.province, inc.province_code = province.name, province.code
        if commune is not None:
            inc.commune, inc.commune_code = commune.name, commune.code
    inc.updated_at = now_utc()
    session.flush()
