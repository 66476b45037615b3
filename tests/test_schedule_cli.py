"""``burnwatch schedule once|status|check|run`` and ``burnwatch reprocess --local`` end to end
against the local provider servers (settings from BURNWATCH_* variables)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from schedhelpers import CLIENT_ID, MAP_KEY, SECRET, FakeProviders
from sqlalchemy import select

from burnwatch.cli.main import cli

UTC = timezone.utc
SCHEDULE = """
max_lookback_days: 4
out_dir: scans
watch_areas:
  - name: delta
    bbox: [106.05, 20.70, 106.08, 20.73]
sources:
  sentinel2: {collection: sentinel2-l1c}
  firms: {every_hours: 24, latency_hours: 3}
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProviders]:
    from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient

    from burnwatch.config import get_settings

    with FakeProviders() as providers:
        values = {
            "SH_CLIENT_ID": CLIENT_ID,
            "SH_CLIENT_SECRET": SECRET,
            "SH_BASE_URL": providers.url,
            "SH_TOKEN_URL": providers.url + "/oauth/token",
            "FIRMS_MAP_KEY": MAP_KEY,
            "FIRMS_BASE_URL": providers.url,
            "CACHE_DIR": str(tmp_path / "cache"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "HTTP_RETRIES": "0",
        }
        for key, value in values.items():
            monkeypatch.setenv(f"BURNWATCH_{key}", value)
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        get_settings.cache_clear()
        SentinelHubDownloadClient.clear_cache()
        yield providers
        get_settings.cache_clear()
        SentinelHubDownloadClient.clear_cache()


def test_schedule_once_status_check(tmp_path: Path, env: FakeProviders) -> None:
    env.passes = [("S2_a", "2025-11-08T03:35:00Z", 5.0)]
    env.process_failures = {"2025-11-08": 1}
    path = tmp_path / "schedule.yaml"
    path.write_text(SCHEDULE, encoding="utf-8")
    runner = CliRunner()

    out = runner.invoke(cli, ["schedule", "check", "--schedule", str(path)])
    assert out.exit_code == 0, out.output
    assert "delta: sentinel2, firms; bbox 106.0500,20.7000,106.0800,20.7300" in out.output

    out = runner.invoke(cli, ["schedule", "once", "--schedule", str(path), "--now", "2025-11-08T12:00:00Z"])
    assert out.exit_code == 0, out.output
    assert "3 done, 1 failed" in out.output  # FIRMS 5-7 Nov slots done; the S2 pass got an HTTP 500
    assert "failed delta sentinel2-l1c:2025-11-08 gen 0 try 1: " in out.output

    out = runner.invoke(cli, ["schedule", "status", "--failed"])
    assert out.exit_code == 0, out.output
    assert "delta                    sentinel2  failed   1" in out.output and "HTTP 500" in out.output

    out = runner.invoke(cli, ["schedule", "once", "--schedule", str(path), "--now", "2025-11-08T13:00:00Z"])
    assert (
        "1 done, 0 failed" in out.output and "done   delta sentinel2-l1c:2025-11-08 gen 0 try 2" in out.output
    )

    out = runner.invoke(
        cli, ["schedule", "once", "--schedule", str(path), "--now", "2025-11-08T14:00:00Z",
              "--reprocess", "2025-11-01", "2025-11-30"],
    )  # fmt: skip
    assert "queued 4 pass(es) for reprocessing" in out.output and "4 done, 0 failed" in out.output

    bad = tmp_path / "bad.yaml"
    bad.write_text(SCHEDULE.replace("every_hours: 24", "every_hours: 7"), encoding="utf-8")
    out = runner.invoke(cli, ["schedule", "check", "--schedule", str(bad)])
    assert out.exit_code == 2 and f"Error: {bad}: sources.firms.every_hours" in out.output


def test_run_forever_with_fake_clock_and_stop_event(tmp_path: Path, env: FakeProviders) -> None:
    import yaml

    from burnwatch.config import get_settings
    from burnwatch.schedule.config import schedule_from_dict
    from burnwatch.schedule.models import ScheduleJob
    from burnwatch.schedule.passes import FakeClock
    from burnwatch.schedule.runner import Scheduler

    doc = yaml.safe_load(SCHEDULE)
    doc["poll_minutes"] = 360
    doc["sources"] = {"firms": doc["sources"]["firms"]}
    sched = Scheduler(schedule_from_dict(doc, tmp_path / "s.yaml"), settings=get_settings())
    clock = FakeClock(datetime(2025, 11, 8, 2, tzinfo=UTC))  # 7 Nov slot complete at 03:00
    reports = sched.run_forever(clock, threading.Event(), max_cycles=3)
    assert [len(r.outcomes) for r in reports] == [2, 1, 0]  # 5, 6 Nov (4-day look-back), then 7 Nov
    assert clock.sleeps == [21600.0, 21600.0] and clock.now() == datetime(2025, 11, 8, 14, tzinfo=UTC)
    with sched.session() as session:
        ids = list(session.scalars(select(ScheduleJob.pass_id).order_by(ScheduleJob.pass_time)))
    assert ids == [f"VIIRS_SNPP_NRT:2025-11-0{d}T00" for d in range(5, 8)]

    stop = threading.Event()
    stop.set()
    assert sched.run_forever(clock, stop, max_cycles=5) == []  # a set stop event ends the service


def test_schedule_once_exits_3_only_when_a_job_failed_for_good(tmp_path: Path, env: FakeProviders) -> None:
    env.passes = [("S2_a", "2025-11-08T03:35:00Z", 5.0)]
    env.process_failures = {"2025-11-08": 2}
    path = tmp_path / "schedule.yaml"
    path.write_text(SCHEDULE + "retry: {max_attempts: 2, backoff_minutes: 15}\n", encoding="utf-8")
    runner = CliRunner()

    def once(now: str, *extra: str) -> tuple[int, str]:
        out = runner.invoke(cli, ["schedule", "once", "--schedule", str(path), "--now", now, *extra])
        return out.exit_code, out.output

    code, output = once("2025-11-08T12:00:00Z")  # first failure: retried next run, not final
    assert code == 0 and "3 done, 1 failed" in output and "gave up" not in output
    code, output = once("2025-11-08T13:00:00Z")  # second and last attempt fails: cron must see it
    assert code == 3, output
    assert "try 2: " in output and "(gave up: no attempt left)" in output
    assert "error: 1 job(s) failed for good" in output
    code, output = once("2025-11-08T14:00:00Z")  # nothing failed in this run
    assert code == 0 and "0 done, 0 failed" in output
    code, output = once("2025-11-08T15:00:00Z", "--retry-failed")
    assert code == 0 and "1 done, 0 failed" in output


def test_reprocess_local_splits_by_date_and_ingests_once(tmp_path: Path, env: FakeProviders) -> None:
    from burnwatch.publish.vector import read_hotspots
    from burnwatch.store.db import session_scope
    from burnwatch.store.models import HotspotRow

    env.passes = [
        ("S2_aug", "2025-08-30T03:35:00Z", 5.0),  # before the season
        ("S2_a", "2025-11-08T03:35:00Z", 5.0),
        ("S2_b", "2025-11-08T03:36:00Z", 7.0),  # same day: one task
        ("S2_c", "2026-01-12T03:35:00Z", 80.0),  # too cloudy
        ("S2_d", "2026-02-02T03:35:00Z", 15.0),
    ]
    args = ["reprocess", "--season", "2025-2026", "--aoi", "106.05,20.70,106.08,20.73", "--local",
            "--out", str(tmp_path / "re")]  # fmt: skip
    runner = CliRunner()
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert "2 task(s): sentinel2 2025-09-01..2026-04-30" in out.output
    assert "2 task(s) done, 0 failed" in out.output
    assert sorted(env.process_days) == ["2025-11-08", "2026-02-02"]
    stored = read_hotspots(tmp_path / "re" / "hotspots.geojson")
    with session_scope(f"sqlite:///{tmp_path / 'db.sqlite'}") as session:
        rows = list(session.scalars(select(HotspotRow)))
    assert len(rows) == len(stored) > 0, out.output
    assert {(r.scene_id or "")[:24] for r in rows} == {"sentinel2-l1c:2025-11-08", "sentinel2-l1c:2026-02-02"}
    out = runner.invoke(cli, args)  # again: nothing new is stored
    assert f"database: 0 new, {len(stored)} already stored" in out.output

    out = runner.invoke(
        cli, ["reprocess", "--season", "2025-2027", "--aoi", "1,1,2,2", "--out", str(tmp_path)]
    )
    assert out.exit_code == 2 and "consecutive years" in out.output


def test_season_range_and_firms_plan() -> None:
    from shapely.geometry import box

    from burnwatch.config import load_settings
    from burnwatch.scale.reprocess import plan_tasks, season_range
    from burnwatch.types import AOI

    start, end = season_range("2025-2026")
    assert (start, end) == (datetime(2025, 9, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
    tasks = plan_tasks("firms", AOI(box(106, 20, 107, 21)), start, end, settings=load_settings())
    assert len(tasks) == 25 and tasks[0].start == start and tasks[-1].end == end  # 242 days / 10
    assert all(b.start - a.start == timedelta(days=10) for a, b in itertools.pairwise(tasks))
    assert len({t.key for t in tasks}) == 25


def test_schedule_run_service_stops_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "schedule.toml"
    path.write_text(
        '[[watch_areas]]\nname = "delta"\nbbox = [106.05, 20.70, 106.08, 20.73]\n'
        '[sources.firms]\n[season]\nstart = "06-01"\nend = "06-02"\n',  # out of season: no network
        encoding="utf-8",
    )
    env = {**os.environ, "BURNWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "burnwatch"), "schedule", "run", "--schedule", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "burnwatch scheduler:" in first and "every 15 min" in first
        time.sleep(1.0)  # let the first cycle run
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=30)[0]
    finally:
        proc.kill()
    assert proc.returncode == 0, rest
    assert "stopping after the current cycle" in rest
    assert "cycle" in rest and "0 pass(es)" in rest  # the service logged its (empty) cycle


def test_schedule_once_database_error_is_one_line(
    tmp_path: Path, env: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    from burnwatch.config import get_settings

    monkeypatch.setenv("BURNWATCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/burnwatch_absent")
    get_settings.cache_clear()
    path = tmp_path / "schedule.yaml"
    path.write_text(SCHEDULE, encoding="utf-8")
    out = CliRunner().invoke(cli, ["schedule", "once", "--schedule", str(path), "--now", "2025-11-08T12:00:00Z"])
    assert out.exit_code == 2, (out.output, out.exception)
    assert "Error: database: OperationalError: " in out.output and "Traceback" not in out.output
