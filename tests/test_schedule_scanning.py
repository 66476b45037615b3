"""Scanning FIRMS passes (``burnwatch.schedule.scanning.scan_pass``) against a local FIRMS server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from fakeserver import FakeServer, Reply

from burnwatch.config import Settings, load_settings
from burnwatch.publish.vector import read_hotspots
from burnwatch.schedule.config import Schedule, schedule_from_dict
from burnwatch.schedule.passes import Pass
from burnwatch.schedule.scanning import scan_pass
from burnwatch.sources.base import parse_aoi

HEADER = ("latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,"
          "confidence,version,bright_ti5,frp,daynight,type")
AOI = parse_aoi("106.0,20.6,106.2,20.8")
DAY = datetime(2025, 11, 8, tzinfo=timezone.utc)


def _row(lat: float, hhmm: str, kind: int) -> str:
    return f"{lat},106.1,345.2,0.39,0.36,2025-11-08,{hhmm},N,VIIRS,n,2.0,290.1,4.2,D,{kind}"


def _setup(tmp_path: Path, server: FakeServer) -> tuple[Schedule, Settings]:
    schedule = schedule_from_dict(
        {"watch_areas": [{"name": "box", "bbox": list(AOI.bbox)}], "out_dir": str(tmp_path / "scans"),
         "sources": {"firms": {"product": "VIIRS_SNPP_SP", "every_hours": 6, "latency_hours": 3}}}
    )  # fmt: skip
    settings = load_settings(firms_map_key="k", firms_base_url=server.url, cache_dir=tmp_path / "cache",
                             http_retries=0)  # fmt: skip
    return schedule, settings


def _slot(hour: int) -> Pass:
    start = DAY + timedelta(hours=hour)
    return Pass("box", "firms", f"VIIRS_SNPP_SP:{start:%Y-%m-%dT%H}", start, start, start + timedelta(hours=6))


def test_firms_static_types_are_written_aside_and_not_handed_to_ingest(tmp_path: Path) -> None:
    csv = "\n".join([HEADER, _row(20.7, "0130", 0), _row(20.71, "0140", 2), _row(20.72, "0150", 3)]) + "\n"
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text(csv))
        schedule, settings = _setup(tmp_path, server)
        out = scan_pass(schedule, _slot(0), AOI, tmp_path / "scans", settings)
    assert [h.lat for h in out.hotspots] == [20.7]
    aside = read_hotspots(Path(out.outputs["suppressed_geojson"]))
    assert [h.attributes["firms_type"] for h in aside] == [2, 3]
    assert all("suppressed" in h.flags for h in aside)
    assert [h.lat for h in read_hotspots(Path(out.outputs["hotspots_geojson"]))] == [20.7]


def test_slots_of_one_day_share_one_firms_call_within_a_cycle(tmp_path: Path) -> None:
    from burnwatch.errors import SourceError
    from burnwatch.schedule.scanning import firms_calls_shared

    csv = "\n".join([HEADER, _row(20.7, "0130", 0), _row(20.71, "0730", 0), _row(20.72, "1930", 0)]) + "\n"
    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text(csv))
        schedule, settings = _setup(tmp_path, server)
        with firms_calls_shared():
            got = [scan_pass(schedule, _slot(h), AOI, tmp_path / "scans", settings).hotspots for h in (0, 6, 12, 18)]
        assert server.count("GET", "/api/area/csv/") == 1
        assert [[h.lat for h in hs] for hs in got] == [[20.7], [20.71], [], [20.72]]
        with firms_calls_shared():  # a new cycle asks again
            scan_pass(schedule, _slot(0), AOI, tmp_path / "scans", settings)
        assert server.count("GET", "/api/area/csv/") == 2

    with FakeServer() as failing:  # FIRMS down: one failed call per cycle, not one per slot
        failing.add("GET", "/api/area/csv/", Reply.text("oops", 500))
        schedule, settings = _setup(tmp_path, failing)
        errors = []
        with firms_calls_shared():
            for h in (0, 6, 12, 18):
                try:
                    scan_pass(schedule, _slot(h), AOI, tmp_path / "scans", settings)
                except SourceError as exc:
                    errors.append(exc)
        assert len(errors) == 4 and failing.count("GET", "/api/area/csv/") == 1


def test_a_scheduler_cycle_makes_one_firms_call_per_day(tmp_path: Path) -> None:
    from burnwatch.schedule.runner import Scheduler

    with FakeServer() as server:
        server.add("GET", "/api/area/csv/", Reply.text(HEADER + "\n"))
        schedule, settings = _setup(tmp_path, server)
        sched = Scheduler(schedule, settings=settings, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
        report = sched.run_once(datetime(2025, 11, 10, 4, tzinfo=timezone.utc))
        days = {o.pass_id[:-3] for o in report.outcomes}
        assert len(report.done) == len(report.outcomes) > len(days) > 1
        assert server.count("GET", "/api/area/csv/") == len(days)
