"""Scheduler acceptance: a fake clock drives due scans against local Sentinel Hub / FIRMS
servers; downtime is caught up exactly; a pass failing twice then succeeding is one job;
webhook and SMTP servers receive the expected messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from schedhelpers import FakeProviders, SmtpSink
from sqlalchemy import select

from burnwatch.schedule.config import load_schedule
from burnwatch.schedule.models import ScheduleJob, ScheduleNotification
from burnwatch.schedule.passes import FakeClock
from burnwatch.schedule.runner import Scheduler
from burnwatch.store.models import HotspotRow, Incident

AOI_BOX = (106.05, 20.70, 106.08, 20.73)  # ~3 x 3 km, 158 x 168 px at 20 m (UTM 48N)
PROVINCE = "Hưng Yên"
UTC = timezone.utc


@pytest.fixture(autouse=True)
def _fresh_sentinelhub(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the local token URL is http://
    SentinelHubDownloadClient.clear_cache()
    yield
    SentinelHubDownloadClient.clear_cache()


@pytest.fixture
def providers() -> Iterator[FakeProviders]:
    with FakeProviders() as p:
        yield p


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _boundaries(tmp_path: Path) -> Path:
    w, s, e, n = AOI_BOX
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": PROVINCE, "code": "33"},
             "geometry": {"type": "Polygon", "coordinates": [ring]}},
        ],
    }  # fmt: skip
    path = tmp_path / "provinces.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _schedule(tmp_path: Path, providers: FakeProviders, smtp: SmtpSink, **overrides: Any) -> Path:
    _boundaries(tmp_path)
    doc: dict[str, Any] = {
        "boundaries": {"path": "provinces.geojson", "name_field": "name"},
        "max_lookback_days": 10,
        "out_dir": "scans",
        "min_confidence": "nominal",
        "watch_areas": [{"name": "hung-yen", "provinces": [PROVINCE]}],
        "sources": {
            "sentinel2": {"collection": "sentinel2-l1c", "max_cloud": 60, "resolution_m": 20},
            "firms": {"product": "VIIRS_SNPP_NRT", "every_hours": 24, "latency_hours": 3},
        },
        "notify": {
            "webhooks": [providers.url + "/hook"],
            "emails": ["inspectors@example.org"],
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "burnwatch@example.org"},
            "digest_hour": 7,
        },
        "retry": {"max_attempts": 5, "backoff_minutes": 30, "factor": 2},
    }
    doc.update(overrides)
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _scheduler(tmp_path: Path, providers: FakeProviders, smtp: SmtpSink, **overrides: Any) -> Scheduler:
    schedule = load_schedule(_schedule(tmp_path, providers, smtp, **overrides))
    return Scheduler(
        schedule, settings=providers.settings(tmp_path), database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )


def _jobs(s: Scheduler) -> list[ScheduleJob]:
    with s.session() as session:
        return list(session.scalars(select(ScheduleJob).order_by(ScheduleJob.id)))


def _done_ids(s: Scheduler, source: str) -> set[str]:
    return {j.pass_id for j in _jobs(s) if j.source == source and j.status == "done"}


def test_fake_clock_runs_due_scans_and_catches_up_downtime_exactly(
    tmp_path: Path, providers: FakeProviders, smtp: SmtpSink
) -> None:
    providers.passes = [
        ("S2_oct20", "2025-10-20T03:35:00Z", 5.0),  # older than the look-back at the first run
        ("S2_nov03", "2025-11-03T03:35:00Z", 10.0),
        ("S2_nov05", "2025-11-05T03:35:00Z", 90.0),  # too cloudy: no pass
        ("S2_nov08", "2025-11-08T03:35:00Z", 5.0),
        ("S2_nov12", "2025-11-12T03:35:00Z", 20.0),
        ("S2_nov14", "2025-11-14T03:35:00Z", 1.0),
        ("S2_nov20", "2025-11-20T03:35:00Z", 1.0),  # after the second run
    ]
    providers.firms_rows = [
        (106.061, 20.712, datetime(2025, 11, 2, 6, 10, tzinfo=UTC)),
        (106.071, 20.721, datetime(2025, 11, 13, 6, 20, tzinfo=UTC)),
        (107.5, 21.5, datetime(2025, 11, 13, 6, 20, tzinfo=UTC)),  # outside the watch area
    ]
    sched = _scheduler(tmp_path, providers, smtp)
    clock = FakeClock(datetime(2025, 11, 10, 12, 0, tzinfo=UTC))

    first = sched.run_once(clock.now())
    assert not first.errors and not first.failed
    assert _done_ids(sched, "sentinel2") == {"sentinel2-l1c:2025-11-03", "sentinel2-l1c:2025-11-08"}
    # 24 h FIRMS slots from the first midnight inside the look-back to the last complete one
    assert _done_ids(sched, "firms") == {f"VIIRS_SNPP_NRT:2025-11-{d:02d}T00" for d in range(1, 10)}
    assert sorted(providers.process_days) == ["2025-11-03", "2025-11-08"]

    # Same time again: nothing is scanned twice.
    again = sched.run_once(clock.now())
    assert again.jobs_created == 0 and again.outcomes == []

    # Six days of downtime, then one run catches up exactly what was missed.
    clock.advance(timedelta(days=5, hours=18))  # 2025-11-16T06:00Z
    second = sched.run_once(clock.now())
    assert not second.errors and not second.failed
    assert {o.pass_id for o in second.outcomes if o.source == "sentinel2"} == {
        "sentinel2-l1c:2025-11-12",
        "sentinel2-l1c:2025-11-14",
    }
    assert {o.pass_id for o in second.outcomes if o.source == "firms"} == {
        f"VIIRS_SNPP_NRT:2025-11-{d:02d}T00" for d in range(10, 16)
    }
    assert sorted(providers.process_days) == ["2025-11-03", "2025-11-08", "2025-11-12", "2025-11-14"]
    jobs = _jobs(sched)
    assert len(jobs) == len({(j.area, j.source, j.pass_id, j.generation) for j in jobs}) == 4 + 15
    assert all(j.status == "done" and j.attempts == 1 and j.software_version for j in jobs)

    # What was stored: satellite hotspots of 4 passes plus the 2 FIRMS hotspots in the area.
    with sched.session() as session:
        rows = list(session.scalars(select(HotspotRow)))
        incidents = list(session.scalars(select(Incident)))
    assert {r.source for r in rows} == {"sentinel2", "firms"}
    assert sum(r.source == "firms" for r in rows) == 2
    assert sum(j.hotspots_added for j in jobs) == len(rows)
    assert incidents and all(i.province == PROVINCE for i in incidents)
    scan_files = sorted((tmp_path / "scans" / "hung-yen").glob("*/*/hotspots.geojson"))
    assert len(scan_files) == 19

    # Notifications: one webhook + one e-mail per job that found new incidents, plus digests.
    hooks = providers.hook_messages()
    new_incident_msgs = [m for m in hooks if m["type"] == "incidents"]
    jobs_with_news = [j for j in jobs if j.incidents_new]
    assert len(new_incident_msgs) == len(jobs_with_news) > 0
    assert sum(len(m["incidents"]) for m in new_incident_msgs) == len(incidents)
    first_msg = new_incident_msgs[0]
    inc = first_msg["incidents"][0]
    assert first_msg["area"] == "hung-yen" and inc["province"] == PROVINCE
    assert AOI_BOX[0] <= inc["lon"] <= AOI_BOX[2] and AOI_BOX[1] <= inc["lat"] <= AOI_BOX[3]
    mails = smtp.messages
    incident_mails = [m for m in mails if "new burning incident" in str(m["Subject"])]
    assert len(incident_mails) == len(jobs_with_news)
    assert all(m["To"] == "inspectors@example.org" and m["From"] == "burnwatch@example.org" for m in mails)
    body = incident_mails[0].get_content()
    assert PROVINCE in str(incident_mails[0]["Subject"]) and f"incident {inc['id']}" in body
    # one digest per run-day for the province (19:00 and 13:00 local > digest hour 7)
    digests = [m for m in hooks if m["type"] == "digest"]
    assert [(d["province"], d["date"]) for d in digests] == [
        (PROVINCE, "2025-11-10"),
        (PROVINCE, "2025-11-16"),
    ]
    assert len([m for m in mails if "daily digest" in str(m["Subject"])]) == 2


def test_downtime_longer_than_lookback_and_season_window(
    tmp_path: Path, providers: FakeProviders, smtp: SmtpSink
) -> None:
    providers.passes = [
        ("S2_apr25", "2026-04-25T03:35:00Z", 5.0),
        ("S2_apr29", "2026-04-29T03:35:00Z", 5.0),
        ("S2_may03", "2026-05-03T03:35:00Z", 5.0),  # out of season
        ("S2_sep02", "2026-09-02T03:35:00Z", 5.0),
    ]
    sched = _scheduler(
        tmp_path, providers, smtp, max_lookback_days=3,
        sources={"sentinel2": {"collection": "sentinel2-l1c"}}, notify={},
    )  # fmt: skip
    # 2 May: the season ended on 30 April; look back 3 days but not past the season's end.
    report = sched.run_once(datetime(2026, 5, 2, 1, tzinfo=UTC))
    assert {o.pass_id for o in report.outcomes} == {"sentinel2-l1c:2026-04-29"}  # 25 Apr is too old
    assert sched.run_once(datetime(2026, 5, 4, 12, tzinfo=UTC)).outcomes == []  # out of season
    report = sched.run_once(datetime(2026, 9, 3, 12, tzinfo=UTC))
    assert {o.pass_id for o in report.outcomes} == {"sentinel2-l1c:2026-09-02"}
    assert report.window is not None and report.window[0] == datetime(2026, 9, 1, tzinfo=UTC)


def test_pass_failing_twice_then_succeeding_is_recorded_once(
    tmp_path: Path, providers: FakeProviders, smtp: SmtpSink
) -> None:
    providers.passes = [("S2_nov08", "2025-11-08T03:35:00Z", 5.0)]
    providers.process_failures = {"2025-11-08": 2}
    sched = _scheduler(tmp_path, providers, smtp, sources={"sentinel2": {"collection": "sentinel2-l1c"}})
    t = datetime(2025, 11, 8, 12, tzinfo=UTC)

    r1 = sched.run_once(t)
    assert [o.status for o in r1.outcomes] == ["failed"] and "HTTP 500" in (r1.outcomes[0].error or "")
    (job,) = _jobs(sched)
    assert (job.status, job.attempts, job.next_attempt_at) == ("failed", 1, t + timedelta(minutes=30))
    assert sched.run_once(t + timedelta(minutes=20)).outcomes == []  # backoff not over yet
    r2 = sched.run_once(t + timedelta(minutes=31))
    assert [o.status for o in r2.outcomes] == ["failed"]
    (job,) = _jobs(sched)
    assert job.next_attempt_at == t + timedelta(minutes=31 + 60)  # exponential: 30, 60, ...
    r3 = sched.run_once(t + timedelta(minutes=92))
    assert [o.status for o in r3.outcomes] == ["done"]
    (job,) = _jobs(sched)
    assert (job.status, job.attempts, job.last_error, job.next_attempt_at) == ("done", 3, None, None)
    assert job.hotspots == job.hotspots_added > 0
    with sched.session() as session:
        assert session.query(HotspotRow).count() == job.hotspots
    failures = [m for m in providers.hook_messages() if m["type"] == "job_failed"]
    assert [(m["pass_id"], m["attempt"]) for m in failures] == [
        ("sentinel2-l1c:2025-11-08", 1),
        ("sentinel2-l1c:2025-11-08", 2),
    ]
    assert failures[0]["next_attempt_at"] == (t + timedelta(minutes=30)).isoformat()
    assert len([m for m in smtp.messages if "scan failed" in str(m["Subject"])]) == 2
    assert sched.run_once(t + timedelta(days=1)).outcomes == []  # done stays done


def test_undelivered_notifications_are_retried_not_lost(
    tmp_path: Path, providers: FakeProviders, smtp: SmtpSink
) -> None:
    providers.passes = [("S2_nov08", "2025-11-08T03:35:00Z", 5.0)]
    providers.hook_status = [500, 500]  # webhook down during the first run (2 messages)
    sched = _scheduler(tmp_path, providers, smtp, sources={"sentinel2": {"collection": "sentinel2-l1c"}})
    r1 = sched.run_once(datetime(2025, 11, 8, 12, tzinfo=UTC))
    assert r1.notifications.failed >= 1 and r1.notifications.sent >= 1  # e-mails went, webhooks did not
    with sched.session() as session:
        pending = list(
            session.scalars(select(ScheduleNotification).where(ScheduleNotification.status == "pending"))
        )
    assert pending and all(p.channel == "webhook" and "HTTP 500" in (p.last_error or "") for p in pending)
    r2 = sched.run_once(datetime(2025, 11, 8, 12, 15, tzinfo=UTC))
    assert r2.notifications.failed == 0 and r2.notifications.sent == len(pending)
    with sched.session() as session:
        statuses = set(session.scalars(select(ScheduleNotification.status)))
    assert statuses == {"sent"}
    # each message reached the server twice: refused (HTTP 500) once, then accepted once
    assert [m["type"] for m in providers.hook_messages()] == ["incidents", "digest", "incidents", "digest"]
    assert sched.run_once(datetime(2025, 11, 8, 12, 30, tzinfo=UTC)).notifications.sent == 0


def test_reprocess_creates_a_new_generation(tmp_path: Path, providers: FakeProviders, smtp: SmtpSink) -> None:
    from burnwatch.schedule.jobs import request_reprocess

    providers.passes = [("S2_nov08", "2025-11-08T03:35:00Z", 5.0)]
    sched = _scheduler(
        tmp_path, providers, smtp, sources={"sentinel2": {"collection": "sentinel2-l1c"}}, notify={}
    )
    t = datetime(2025, 11, 8, 12, tzinfo=UTC)
    assert [o.generation for o in sched.run_once(t).outcomes] == [0]
    with sched.session() as session:
        new = request_reprocess(
            session, datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 11, 30, tzinfo=UTC)
        )
    assert [(j.pass_id, j.generation) for j in new] == [("sentinel2-l1c:2025-11-08", 1)]
    out = sched.run_once(t + timedelta(hours=1)).outcomes
    assert [(o.generation, o.status, o.added) for o in out] == [(1, "done", 0)]  # same detector: no new rows
    assert (tmp_path / "scans/hung-yen/sentinel2/sentinel2-l1c_2025-11-08/gen-1/hotspots.geojson").exists()
    # the UNIQUE key refuses a second generation-0 row for the same pass
    from sqlalchemy.exc import IntegrityError

    with sched.session() as session:
        dup = ScheduleJob(area="hung-yen", source="sentinel2", pass_id="sentinel2-l1c:2025-11-08", generation=0,
                          pass_time=t, window_start=t, window_end=t, status="pending", attempts=0,
                          software_version="x", scenes=0, hotspots=0, hotspots_added=0, incidents_new=0,
                          details={})  # fmt: skip
        session.add(dup)
        with pytest.raises(IntegrityError):
            session.commit()


def test_satellite_hotspots_are_clipped_to_the_watch_area(tmp_path: Path, providers: FakeProviders) -> None:
    from shapely.geometry import Point, Polygon, box

    from burnwatch.schedule.config import schedule_from_dict
    from burnwatch.schedule.passes import Pass
    from burnwatch.schedule.scanning import scan_pass
    from burnwatch.types import AOI

    providers.passes = [("S2_nov08", "2025-11-08T03:35:00Z", 5.0)]
    w, s, e, n = AOI_BOX
    triangle = Polygon([(w, s), (e, s), (w, n)])
    doc = {"watch_areas": [{"name": "tri", "bbox": list(AOI_BOX)}], "sources": {"sentinel2": {}}}
    sched = schedule_from_dict(doc, tmp_path / "s.yaml")
    day = datetime(2025, 11, 8, tzinfo=UTC)
    p = Pass("tri", "sentinel2", "sentinel2-l1c:2025-11-08", day, day, day + timedelta(days=1))
    settings = providers.settings(tmp_path)
    whole = scan_pass(sched, p, AOI(box(*AOI_BOX), "box"), tmp_path / "box", settings).hotspots
    part = scan_pass(sched, p, AOI(triangle, "tri"), tmp_path / "tri", settings).hotspots
    assert all(triangle.contains(Point(h.lon, h.lat)) for h in part)
    assert {h.natural_key for h in part} == {
        h.natural_key for h in whole if triangle.contains(Point(h.lon, h.lat))
    }
    assert len(part) < len(whole)


def test_night_pass_incidents_reach_a_digest(tmp_path: Path, providers: FakeProviders, smtp: SmtpSink) -> None:
    lon, lat = (AOI_BOX[0] + AOI_BOX[2]) / 2, (AOI_BOX[1] + AOI_BOX[3]) / 2
    providers.firms_rows = [(lon, lat, datetime(2025, 11, 8, 20, 0, tzinfo=UTC))]  # slot 18-24 UTC
    s = _scheduler(
        tmp_path, providers, smtp, max_lookback_days=2,
        sources={"firms": {"product": "VIIRS_SNPP_NRT", "every_hours": 6, "latency_hours": 3}},
    )  # fmt: skip
    # 07:30 local: the 9 Nov digest is queued before the 18-24 UTC slot is due (03:00 UTC)
    for hour in (0.5, 3.5, 24.5):
        s.run_once(datetime(2025, 11, 9, tzinfo=UTC) + timedelta(hours=hour))
    digests = {d["date"]: d for d in providers.hook_messages() if d["type"] == "digest"}
    assert sorted(digests) == ["2025-11-09", "2025-11-10"]
    found = [i["last_seen"] for d in digests.values() for i in d["incidents"]]
    assert found == ["2025-11-08T20:00:00+00:00"], digests
