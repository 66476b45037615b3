"""Job state on SQLite and PostGIS: unique passes, backoff, give-up, stale jobs, reprocessing,
and the notification outbox (migration 0002)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dbfixtures import db_url, pg_database, sqlite_template  # noqa: F401
from sqlalchemy.exc import IntegrityError

from burnwatch.schedule import jobs
from burnwatch.schedule.config import Notify, Retry
from burnwatch.schedule.models import ScheduleJob, ScheduleNotification
from burnwatch.schedule.passes import Pass

UTC = timezone.utc
T0 = datetime(2025, 11, 8, 12, tzinfo=UTC)


def _pass(day: int, area: str = "a") -> Pass:
    start = datetime(2025, 11, day, tzinfo=UTC)
    return Pass(
        area,
        "sentinel2",
        f"sentinel2-l1c:2025-11-{day:02d}",
        start + timedelta(hours=3),
        start,
        start + timedelta(days=1),
    )


def test_job_lifecycle(db_url: str) -> None:  # noqa: F811
    from burnwatch.store.db import session_factory

    retry = Retry(max_attempts=3, backoff_minutes=10, factor=3, stale_running_hours=2)
    with session_factory(db_url)() as s:
        assert len(jobs.ensure_jobs(s, [_pass(3), _pass(4), _pass(3, "b")])) == 3
        assert jobs.ensure_jobs(s, [_pass(3), _pass(5)])[0].pass_id == "sentinel2-l1c:2025-11-05"
        due = jobs.due_jobs(s, T0)
        assert [(j.area, j.pass_id[-5:]) for j in due] == [
            ("a", "11-03"),
            ("b", "11-03"),
            ("a", "11-04"),
            ("a", "11-05"),
        ]
        assert [j.area for j in jobs.due_jobs(s, T0, areas=["b"])] == ["b"]

        job = due[0]
        for attempt, delay in ((1, 10), (2, 30)):
            jobs.start_job(s, job, T0)
            assert jobs.fail_job(s, job, T0, f"boom {attempt}", retry)
            assert (job.status, job.attempts, job.next_attempt_at) == (
                "failed",
                attempt,
                T0 + timedelta(minutes=delay),
            )
        assert job not in jobs.due_jobs(s, T0 + timedelta(minutes=29))
        assert job in jobs.due_jobs(s, T0 + timedelta(minutes=30))
        jobs.start_job(s, job, T0)
        assert not jobs.fail_job(s, job, T0, "boom 3", retry)  # gave up
        assert job.next_attempt_at is None and job not in jobs.due_jobs(s, T0 + timedelta(days=30))
        assert jobs.retry_failed(s, T0) == 1 and job.status == "pending" and job.attempts == 0

        stuck = due[1]
        jobs.start_job(s, stuck, T0)
        assert jobs.requeue_stale(s, T0 + timedelta(hours=1), retry) == []
        assert jobs.requeue_stale(s, T0 + timedelta(hours=3), retry) == [stuck]
        assert stuck in jobs.due_jobs(s, T0 + timedelta(hours=3)) and "interrupted" in (
            stuck.last_error or ""
        )

        for j in jobs.due_jobs(s, T0 + timedelta(hours=3)):
            jobs.start_job(s, j, T0)
            jobs.finish_job(s, j, T0, scenes=1, hotspots=2, added=2, incidents_new=1, scan_id=None)
        again = jobs.request_reprocess(
            s, datetime(2025, 11, 4, tzinfo=UTC), datetime(2025, 11, 5, tzinfo=UTC)
        )
        assert [(j.pass_id[-5:], j.generation, j.details["reprocess_of"]) for j in again] == [
            ("11-04", 1, due[2].id)
        ]
        assert jobs.status_counts(s) == {("a", "sentinel2", "done"): 3, ("a", "sentinel2", "pending"): 1,
                                         ("b", "sentinel2", "done"): 1}  # fmt: skip
        assert jobs.last_run(s) == T0

        s.add(ScheduleJob(area="a", source="sentinel2", pass_id="sentinel2-l1c:2025-11-04", generation=1,
                          pass_time=T0, window_start=T0, window_end=T0, status="pending", attempts=0,
                          software_version="x", scenes=0, hotspots=0, hotspots_added=0, incidents_new=0,
                          details={}))  # fmt: skip
        with pytest.raises(IntegrityError):
            s.commit()


def test_outbox_is_unique_per_target(db_url: str) -> None:  # noqa: F811
    from burnwatch.schedule import notify
    from burnwatch.store.db import session_factory

    targets = Notify(webhooks=["http://127.0.0.1:9/hook"], digest_hour=None)
    with session_factory(db_url)() as s:
        (job,) = jobs.ensure_jobs(s, [_pass(3)])
        jobs.start_job(s, job, T0)
        first = notify.queue_failure(s, targets, job, "boom", None)
        s.commit()
        assert len(first) == 1 and notify.queue_failure(s, targets, job, "boom", None) == []
        result = notify.deliver_pending(s, targets, T0)  # nothing listens on port 9
        assert (result.sent, result.failed) == (0, 1)
        row = s.query(ScheduleNotification).one()
        assert (row.status, row.attempts, row.kind) == ("pending", 1, "job_failed") and row.last_error
        assert notify.queue_digests(s, targets, T0) == []  # digests switched off


def test_a_job_is_claimed_once(db_url: str) -> None:  # noqa: F811
    from burnwatch.store.db import session_factory

    with session_factory(db_url)() as s1, session_factory(db_url)() as s2:
        (job,) = jobs.ensure_jobs(s1, [_pass(3)])
        (same,) = jobs.due_jobs(s2, T0)  # both schedulers read it as pending
        s2.commit()
        assert jobs.start_job(s1, job, T0)
        assert not jobs.start_job(s2, same, T0)  # the second one skips it
        assert (same.status, same.attempts) == ("running", 1)
        assert jobs._insert_once(s2, jobs._new_job(_pass(3))) is False  # UNIQUE race tolerated
        s2.commit()


def test_two_schedulers_on_one_database_run_each_job_once(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    import threading
    import time
    from collections import Counter

    from schedhelpers import FakeProviders

    from burnwatch.config import load_settings
    from burnwatch.schedule.config import schedule_from_dict
    from burnwatch.schedule.runner import Scheduler
    from burnwatch.schedule.scanning import PassOutput

    scanned: list[str] = []

    def scanner(schedule: object, p: Pass, *rest: object) -> PassOutput:
        scanned.append(p.pass_id)
        time.sleep(0.1)
        if p.pass_id.endswith("T06"):
            raise RuntimeError("provider down")  # a job_failed webhook message per failed job
        return PassOutput(hotspots=[])

    with FakeProviders() as fp:
        doc = {
            "watch_areas": [{"name": "hy", "bbox": [105.8, 20.8, 106.4, 21.3]}],
            "sources": {"firms": {"every_hours": 6}},
            "max_lookback_days": 2,
            "notify": {"webhooks": [fp.url + "/hook"], "digest_hour": None},
            "out_dir": str(tmp_path / "scans"),
        }
        schedule = schedule_from_dict(doc, tmp_path / "s.yaml")
        settings = load_settings(cache_dir=tmp_path / "cache")
        schedulers = [Scheduler(schedule, settings=settings, database_url=db_url, scanner=scanner) for _ in "AB"]
        barrier, crashes = threading.Barrier(2), []

        def cycle(s: Scheduler) -> None:
            barrier.wait()
            try:
                s.run_once(datetime(2025, 11, 10, 12, tzinfo=UTC))
            except Exception as exc:  # what the race used to do
                crashes.append(exc)

        threads = [threading.Thread(target=cycle, args=(s,)) for s in schedulers]
        [t.start() for t in threads]
        [t.join(60) for t in threads]
        posts = fp.hook_messages()
    assert crashes == []
    assert scanned and all(n == 1 for n in Counter(scanned).values()), Counter(scanned)
    failed = sorted(m["pass_id"] for m in posts)
    assert failed == sorted(p for p in scanned if p.endswith("T06"))  # each message POSTed once
    with schedulers[0].session() as s:
        assert {j.status for j in s.query(ScheduleJob)} == {"done", "failed"}
        assert s.query(ScheduleNotification).filter_by(status="sent").count() == len(failed)


def test_a_redirected_webhook_is_not_delivered(db_url: str) -> None:  # noqa: F811
    from fakeserver import FakeServer, Reply

    from burnwatch.schedule import notify
    from burnwatch.store.db import session_factory

    server = FakeServer()
    server.add("POST", "/hook", Reply.json({}, 301, {"Location": "/elsewhere"}))
    server.add("GET", "/elsewhere", Reply.json({"ok": True}))
    with server, session_factory(db_url)() as s:
        targets = Notify(webhooks=[server.url + "/hook"], digest_hour=None)
        (job,) = jobs.ensure_jobs(s, [_pass(3)])
        notify.queue_failure(s, targets, job, "boom", None)
        s.commit()
        result = notify.deliver_pending(s, targets, T0)
        assert (result.sent, result.failed) == (0, 1)
        assert "301 redirect to /elsewhere" in result.errors[0]
        assert s.query(ScheduleNotification).one().status == "pending"
        assert server.count("GET", "/elsewhere") == 0
