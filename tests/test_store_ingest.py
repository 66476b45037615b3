# ruff: noqa: F811  (pytest fixtures imported from dbfixtures)
"""Store + ingest on SQLite and PostGIS: migrations, idempotency, atomicity, clustering."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dbfixtures import _fast_password_hashing, db_url, make_hotspot, pg_database, sqlite_template  # noqa: F401
from sqlalchemy import func, select, text

from burnwatch.incidents.clustering import ClusterParams
from burnwatch.store import db
from burnwatch.store.chain import verify_audit
from burnwatch.store.ingest import ScanRecord, ingest_hotspots
from burnwatch.store.models import AuditLog, Case, HotspotRow, Incident, Scan

PARAMS = ClusterParams(distance_m=1000.0, window=timedelta(hours=24))
REC = ScanRecord(
    kind="scan",
    source="sentinel2",
    label="S2 tile 48QWJ",
    parameters={"k": 1},
    software_versions={"burnwatch": "0.1.0"},
    input_hashes={"B12.tif": "ab" * 32},
)


def counts(url: str) -> dict[str, int]:
    with db.session_scope(url) as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Scan, HotspotRow, Incident, Case, AuditLog)
        }


def batch():  # type: ignore[no-untyped-def]
    # two burns 5 km apart near Hưng Yên; the first has three pixels 30 m apart
    return [
        make_hotspot(106.05, 20.80),
        make_hotspot(106.0503, 20.80),
        make_hotspot(106.0506, 20.80),
        make_hotspot(106.10, 20.80, confidence=0.4),
    ]


def test_migration_is_at_head(db_url: str) -> None:
    assert db.current_revision(db_url) == db.head_revision()
    assert db.upgrade(db_url) == db.head_revision()  # upgrading again is a no-op


def test_migrations_match_the_models(db_url: str) -> None:
    """Alembic autogenerate finds nothing to do: every model (store, schedule, web app) has
    the tables, columns and indexes the migrations create, and no migration left one out."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import burnwatch.api.models
    import burnwatch.schedule.models  # noqa: F401  (register their tables on Base)
    from burnwatch.store.models import Base

    def ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        # Made by the migrations only, on purpose: PostGIS's own table, the GiST indexes the
        # migrations add on PostgreSQL (SQLite has none), and the expression index on the
        # incidents' latitude span (0004), which SQLAlchemy cannot declare portably.
        if type_ == "table" and name == "spatial_ref_sys":
            return False
        return not (type_ == "index" and name and (name.startswith("gix_") or name == "ix_incidents_lat_span"))

    with warnings.catch_warnings():  # SQLite: expression indexes are not reflected (warning)
        warnings.simplefilter("ignore")
        with db.get_engine(db_url).connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"include_object": ours})
            diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == []


def test_ingest_twice_changes_nothing(db_url: str) -> None:
    with db.session_scope(db_url) as s:
        r1 = ingest_hotspots(s, batch(), REC, params=PARAMS)
    assert (r1.added, r1.skipped_duplicates, r1.incidents_created) == (4, 0, 2)
    before = counts(db_url)
    with db.session_scope(db_url) as s:
        r2 = ingest_hotspots(s, batch(), REC, params=PARAMS)
    assert (r2.added, r2.skipped_duplicates, r2.incidents_created, r2.incidents_updated) == (0, 4, 0, 0)
    assert counts(db_url) == before
    with db.session_scope(db_url) as s:
        inc = s.scalars(select(Incident).order_by(Incident.id)).first()
        assert inc is not None and inc.hotspot_count == 3 and inc.source_counts == {"sentinel2": 3}
        h = s.scalars(select(HotspotRow)).first()
        assert h is not None and h.attributes["note"] == "Hưng Yên" and h.time.tzinfo is not None


def test_natural_key_is_unique_in_the_database(db_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from burnwatch.store.ingest import _row

    with db.session_scope(db_url) as s:
        ingest_hotspots(s, batch()[:1], REC, params=PARAMS)
    with pytest.raises(IntegrityError), db.session_scope(db_url) as s:
        s.add(_row(batch()[0], 1))
        s.flush()


def test_crash_mid_ingest_leaves_database_unchanged(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with db.session_scope(db_url) as s:
        ingest_hotspots(s, batch()[:2], REC, params=PARAMS)
    before = counts(db_url)

    import burnwatch.incidents.clustering as clustering

    real = clustering.refresh_incident
    calls = {"n": 0}

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed mid-ingest")
        return real(*args, **kwargs)

    monkeypatch.setattr(clustering, "refresh_incident", boom)
    other = ScanRecord(kind="firms", source="firms", label="crash.csv", input_hashes={"crash.csv": "cd" * 32})
    with pytest.raises(RuntimeError, match="killed"), db.session_scope(db_url) as s:
        ingest_hotspots(s, [*batch(), make_hotspot(106.3, 20.9)], other, params=PARAMS)
    assert calls["n"] == 2
    assert counts(db_url) == before  # nothing lost, nothing half-written
    monkeypatch.setattr(clustering, "refresh_incident", real)
    with db.session_scope(db_url) as s:
        r = ingest_hotspots(s, [*batch(), make_hotspot(106.3, 20.9)], other, params=PARAMS)
    assert (r.added, r.skipped_duplicates) == (3, 2)


def test_incremental_join_and_merge(db_url: str) -> None:
    with db.session_scope(db_url) as s:
        a = ingest_hotspots(s, [make_hotspot(106.05, 20.80)], REC, params=PARAMS)
        b = ingest_hotspots(
            s,
            [make_hotspot(106.0665, 20.80, time="2024-03-01T10:00:00")],
            ScanRecord(kind="scan", source="sentinel2", label="b"),
            params=PARAMS,
        )
    assert a.incidents_created == 1 and b.incidents_created == 1  # 1.7 km apart: two incidents
    # a FIRMS MODIS pixel between them, within 1 km of both, the next day: merges them
    bridge = make_hotspot(
        106.058,
        20.80,
        time="2024-03-02T03:00:00",
        source="firms",
        sensor="MODIS Aqua",
        algorithm="MOD14",
        confidence=0.6,
        size_m=1000,
    )
    with db.session_scope(db_url) as s:
        r = ingest_hotspots(s, [bridge], ScanRecord(kind="firms", source="firms", label="c"), params=PARAMS)
    assert (r.incidents_created, r.incidents_updated, r.incidents_merged) == (0, 1, 1)
    with db.session_scope(db_url) as s:
        active = s.scalars(select(Incident).where(Incident.status == "active")).all()
        merged = s.scalars(select(Incident).where(Incident.status == "merged")).all()
        assert len(active) == 1 and len(merged) == 1 and merged[0].merged_into_id == active[0].id
        inc = active[0]
        assert inc.hotspot_count == 3 and inc.source_counts == {"firms": 1, "sentinel2": 2}
        # noisy-OR over two independent sensors: 1 - (1-0.7)(1-0.6) = 0.88
        assert inc.confidence == pytest.approx(0.88)
        assert inc.first_seen.hour == 3 and inc.last_seen.day == 2
        assert inc.geom.contains(inc.geom.centroid)
        # the absorbed incident's untouched case was closed as a duplicate
        states = sorted(c.state for c in s.scalars(select(Case)))
        assert states == ["closed", "new"]


def test_time_window_separates_incidents(db_url: str) -> None:
    with db.session_scope(db_url) as s:
        ingest_hotspots(
            s,
            [
                make_hotspot(106.05, 20.80, time="2024-03-01T03:00:00"),
                make_hotspot(106.05, 20.80, time="2024-03-03T03:00:00"),
            ],
            REC,
            params=PARAMS,
        )
        assert s.scalar(select(func.count()).select_from(Incident)) == 2


def test_drone_confirmation_raises_confidence(db_url: str) -> None:
    with db.session_scope(db_url) as s:
        ingest_hotspots(s, [make_hotspot(106.05, 20.80, confidence=0.4)], REC, params=PARAMS)
        conf0 = s.scalars(select(Incident)).one().confidence
        drone = make_hotspot(
            106.0502,
            20.8001,
            time="2024-03-01T05:00:00",
            source="drone",
            sensor="FC300S",
            algorithm="yolo",
            confidence=0.5,
            size_m=5,
        )
        ingest_hotspots(s, [drone], ScanRecord(kind="flight", source="drone", label="f1"), params=PARAMS)
        conf1 = s.scalars(select(Incident)).one().confidence
    assert conf0 == pytest.approx(0.4) and conf1 >= 0.9


def test_audit_log_is_append_only_and_chained(db_url: str) -> None:
    with db.session_scope(db_url) as s:
        ingest_hotspots(s, batch(), REC, params=PARAMS)
        assert verify_audit(s) == []
    engine = db.get_engine(db_url)
    for sql in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    with db.session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) >= 1


def test_neighbour_search_uses_an_index(db_url: str) -> None:
    """The clustering candidate query is an index range scan, not a full table scan."""
    from burnwatch.incidents.clustering import candidates_stmt

    with db.session_scope(db_url) as s:
        ingest_hotspots(s, batch(), REC, params=PARAMS)
        row = s.scalars(select(HotspotRow)).first()
        assert row is not None
        stmt = candidates_stmt(row, PARAMS)
        dialect = s.get_bind().dialect
        compiled = stmt.compile(dialect=dialect)
        cursor = s.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if dialect.name == "sqlite":
            # the plan does not depend on the values; any of the right count will do
            cursor.execute(f"EXPLAIN QUERY PLAN {compiled}", [0] * len(compiled.positiontup or ()))
            plan = " ".join(str(r[-1]) for r in cursor.fetchall())
            assert "USING INDEX" in plan and "ix_hotspots_" in plan, plan
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {compiled}", compiled.params)
            plan = " ".join(str(r[0]) for r in cursor.fetchall())
            assert "Index" in plan, plan


def test_merge_moves_a_worked_case_to_the_survivor(db_url: str) -> None:
    from burnwatch.incidents import cases
    from burnwatch.store.users import add_user

    with db.session_scope(db_url) as s:
        ingest_hotspots(s, [make_hotspot(106.05, 20.80)], REC, params=PARAMS)
        ingest_hotspots(
            s, [make_hotspot(106.0665, 20.80)], ScanRecord(kind="scan", source="s2", label="b"), params=PARAMS
        )
        add_user(s, "lan", "analyst", "correct horse")
        add_user(s, "minh", "inspector", "battery staple")
        worked = s.scalars(select(Case).order_by(Case.id.desc())).first()  # the second incident's case
        assert worked is not None
        cases.assign(s, worked.id, "minh", actor="lan", reason="go")
        worked_id, old_incident = worked.id, worked.incident_id
    bridge = make_hotspot(
        106.058,
        20.80,
        time="2024-03-01T12:00:00",
        source="firms",
        sensor="MODIS Aqua",
        algorithm="MOD14",
        size_m=1000,
    )
    with db.session_scope(db_url) as s:
        ingest_hotspots(s, [bridge], ScanRecord(kind="firms", source="firms", label="c"), params=PARAMS)
        case = s.get(Case, worked_id)
        assert case is not None and case.state == "assigned" and case.incident_id != old_incident
        assert s.get(Incident, case.incident_id).status == "active"  # type: ignore[union-attr]
        assert "merged into incident" in cases.history(s, worked_id)[-1].text  # type: ignore[union-attr]
        assert cases.verify_all(s) == []


def test_concurrent_ingests_queue_and_deduplicate(db_url: str) -> None:
    """Two processes' worth of sessions ingesting the same batch at once: one adds, the other
    finds duplicates; neither fails, nothing is doubled."""
    import threading

    results, errors = [], []

    def work() -> None:
        try:
            with db.session_scope(db_url) as s:
                results.append(ingest_hotspots(s, batch(), REC, params=PARAMS))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(r.added for r in results) == [0, 4]
    assert counts(db_url)["hotspots"] == 4 and counts(db_url)["incidents"] == 2
