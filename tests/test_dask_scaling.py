"""Scale-out acceptance: a multi-scene job on a 2-worker LocalCluster, one worker killed
mid-way, gives exactly the single-process result; one writer ingests idempotently."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from burnwatch.pipeline import ScanOptions
from burnwatch.publish.vector import read_hotspots
from burnwatch.scale.dask_jobs import DemoSceneTask, TaskResult, dask_client, run_local, run_on_dask

SIZE = 300
OPTIONS = ScanOptions(quicklook="false")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One 2-worker LocalCluster for the module (start-up is the slow part)."""
    saved = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # workers inherit it: local token URL is http://
    try:
        with dask_client(workers=2) as c:
            c.wait_for_workers(2, timeout=120)
            yield c
    finally:
        if saved is None:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = saved


def _keys(hotspots: list) -> list:  # type: ignore[type-arg]
    return sorted(h.natural_key for h in hotspots)


@pytest.mark.timeout(170)
def test_killed_worker_mid_job_gives_the_single_process_result(tmp_path: Path, client: Any) -> None:
    from burnwatch.store.db import session_scope
    from burnwatch.store.ingest import ScanRecord, ingest_hotspots
    from burnwatch.store.models import HotspotRow

    tasks = [DemoSceneTask(seed, SIZE) for seed in range(1, 9)]
    reference = run_local(tasks, tmp_path / "local", OPTIONS)
    assert not reference.errors and len(reference.results) == 8
    expected = reference.hotspots
    assert len(expected) > 8 and len(set(_keys(expected))) == len(expected)

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    written: list[str] = []

    def writer(r: TaskResult) -> None:  # the single writer, in this (client) process
        written.append(r.key)
        with session_scope(url) as session:
            ingest_hotspots(
                session, list(r.hotspots), ScanRecord("scan", "demo", label=r.key, parameters={"task": r.key})
            )

    killed: dict[str, object] = {}
    client.wait_for_workers(2, timeout=120)
    before = set(client.scheduler_info()["workers"])

    def kill_one(first: TaskResult) -> None:
        busy = {w: ks for w, ks in client.processing().items() if ks}
        victim = next(iter(busy)) if busy else first.worker
        killed["address"], killed["busy"] = victim, list(busy.get(victim, ()))
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)  # like the OOM killer or a pulled plug

    result = run_on_dask(client, tasks, tmp_path / "dask", OPTIONS, writer=writer, on_first_result=kill_one)
    after = set(client.scheduler_info()["workers"])

    assert killed["address"] in before and killed["address"] not in after  # the worker really died
    assert killed["busy"], "the killed worker had no task in progress"
    assert not result.errors
    assert list(result.results) == [t.key for t in tasks]  # every task, once, in task order
    assert sorted(written) == sorted(t.key for t in tasks)
    assert result.hotspots == expected  # same hotspots, same order: none lost, none duplicated
    with session_scope(url) as session:
        assert session.scalar(select(func.count()).select_from(HotspotRow)) == len(expected)
        again = ingest_hotspots(session, expected, ScanRecord("scan", "demo", label="again"))
    assert again.added == 0
    local_cogs = sorted(p.name for p in (tmp_path / "local" / "scenes").glob("*_fire.tif"))
    assert sorted(p.name for p in (tmp_path / "dask" / "scenes").glob("*_fire.tif")) == local_cogs


def test_scheduler_runs_satellite_tiles_on_dask_with_one_writer(
    tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime, timezone

    from schedhelpers import FakeProviders
    from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient

    from burnwatch.schedule import scanning
    from burnwatch.schedule.config import schedule_from_dict
    from burnwatch.schedule.runner import Scheduler

    monkeypatch.setattr(scanning, "MAX_SIDE_PX", 100)  # 158 x 168 px area -> 2 x 2 tiles
    doc = {
        "watch_areas": [{"name": "delta", "bbox": [106.05, 20.70, 106.08, 20.73]}],
        "sources": {"sentinel2": {"collection": "sentinel2-l1c"}},
        "out_dir": "scans",
    }
    now = datetime(2025, 11, 8, 12, tzinfo=timezone.utc)
    found = {}
    with FakeProviders(passes=[("S2_a", "2025-11-08T03:35:00Z", 5.0)]) as providers:
        for name, dask in (("local", None), ("dask", client)):
            SentinelHubDownloadClient.clear_cache()
            (tmp_path / name).mkdir()
            sched = Scheduler(
                schedule_from_dict(doc, tmp_path / name / "s.yaml"),
                settings=providers.settings(tmp_path / name),
                database_url=f"sqlite:///{tmp_path / name / 'db.sqlite'}",
                client=dask,
            )
            (outcome,) = sched.run_once(now).outcomes
            assert outcome.status == "done", outcome.error
            found[name] = read_hotspots(
                Path(sched.out_dir) / "delta/sentinel2/sentinel2-l1c_2025-11-08/hotspots.geojson"
            )
            assert outcome.added == len(found[name]) > 0
        assert sorted(providers.process_days) == ["2025-11-08"] * 8  # 4 tiles, each run both ways
    assert _keys(found["dask"]) == _keys(found["local"])


def test_task_errors_are_reported_per_task(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from burnwatch.config import load_settings
    from burnwatch.scale.dask_jobs import SentinelHubDayTask

    bad = SentinelHubDayTask(
        "sentinel2-l1c", (106.0, 20.7, 106.05, 20.75), datetime(2025, 11, 1, tzinfo=timezone.utc), 20.0, 60.0,
        settings=load_settings(sh_client_id=None, sh_client_secret=None, cache_dir=tmp_path),
    )  # fmt: skip
    good = DemoSceneTask(1, 170)
    result = run_local([good, bad, good], tmp_path, OPTIONS)
    assert list(result.results) == [good.key]  # duplicates by key run once
    assert list(result.errors) == [bad.key] and "credentials missing" in result.errors[bad.key]


def test_drone_photos_as_tasks_match_the_in_process_worker(
    tmp_path: Path, client: Any, shared_dir: Path
) -> None:
    from conftest import shared_file

    from burnwatch.flights import worker
    from burnwatch.scale.photos import DronePhotoTask, run_photos_on_dask

    folder = shared_file(shared_dir, "data/drone/dji_fc300s_brighton")
    photos = sorted(str(p) for p in folder.glob("*.JPG"))[:3]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(Path(photos[0]).read_bytes()[:5000])  # truncated: one photo's error
    paths = [*photos, str(broken)]
    tasks = [DronePhotoTask(p, str(tmp_path / "dask" / f"{Path(p).stem}.jpg")) for p in paths]
    got = run_photos_on_dask(client, tasks)

    worker.init_worker(None)
    want = {
        p: worker.process_photo(p, str(tmp_path / "local" / f"{Path(p).stem}.jpg"), 200_000_000)
        for p in paths
    }
    assert list(got) == paths
    for p in paths:
        assert (got[p].meta, got[p].detections, got[p].error_type) == (
            want[p].meta,
            want[p].detections,
            want[p].error_type,
        )
    assert got[str(broken)].error and all(got[p].error is None and got[p].thumbnail for p in photos)
    assert all(Path(t.thumb_path).exists() for t in tasks[:3])


def test_drone_ingest_on_a_dask_scheduler_matches_local_workers(tmp_path: Path, client: Any) -> None:
    """``burnwatch drone ingest --scheduler``: photos on the cluster, same flight as locally."""
    from datetime import datetime as dt

    import numpy as np
    from drone_synth import ShotSpec, offset_lonlat, orange_factory, project_markers, render, write_photo

    from burnwatch.flights import ingest_flight

    src = tmp_path / "flight"
    src.mkdir()
    lon0, lat0 = 105.85, 21.03
    markers = np.array([offset_lonlat(lon0, lat0, e, n) for e, n in ((0, 0), (10, 6), (-12, -8))])
    for i in range(3):
        lon, lat = offset_lonlat(lon0, lat0, 4.0 * i, 0.0)
        spec = ShotSpec(lon, lat, 72.0, 60.0, 0.0, -90.0, time=dt(2026, 3, 1, 9, 0, i))
        write_photo(src / f"DJI_{i:04d}.JPG", spec, render(spec, project_markers(spec, markers, 12.0), seed=i))
    (src / "cut.jpg").write_bytes((src / "DJI_0000.JPG").read_bytes()[:3000])
    seen: list[int] = []
    on_dask = ingest_flight(
        src,
        tmp_path / "dask",
        detector_factory=orange_factory,
        scheduler=client.scheduler.address,
        progress=lambda done, total, name: seen.append(done),
    )
    local = ingest_flight(src, tmp_path / "local", detector_factory=orange_factory, workers=0)
    assert on_dask.flight_id == local.flight_id and len(local.hotspots) == 9
    assert _keys(on_dask.hotspots) == _keys(local.hotspots)
    assert {f.name: f.status for f in on_dask.files} == {f.name: f.status for f in local.files}
    assert sorted(seen) == [1, 2, 3, 4]
    assert len(list((tmp_path / "dask" / "thumbnails").glob("*.jpg"))) == 3
