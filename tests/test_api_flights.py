"""Drone flight upload through the API (background job, fake detector), and analysts'
verdicts on the detections (stored, exported for the detector's evaluation)."""

from __future__ import annotations

from pathlib import Path

from apifixtures import ApiEnv, api_fixture, flight_zip  # noqa: F401
from dbfixtures import _fast_password_hashing, db_url, pg_database, sqlite_template  # noqa: F401


def _upload(api: ApiEnv, zip_path: Path, user: str = "pilot") -> dict:  # type: ignore[type-arg]
    h = api.headers(user)
    r = api.client.post(
        "/api/flights",
        params={"filename": zip_path.name},
        content=zip_path.read_bytes(),
        headers={**h, "Content-Type": "application/zip"},
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    api.app.state.jobs.wait(job_id, timeout=120)
    return api.client.get(f"/api/flights/{job_id}", headers=h).json()


def _set_province(incident_ids: set[int], api: ApiEnv, province: str) -> None:
    from sqlalchemy import update

    from burnwatch.store.db import session_scope
    from burnwatch.store.models import Incident

    with session_scope(api.settings.database_url) as s:
        s.execute(update(Incident).where(Incident.id.in_(incident_ids)).values(province=province))


def test_flight_upload_is_processed_ingested_and_reviewed(api: ApiEnv, tmp_path: Path) -> None:
    job = _upload(api, flight_zip(tmp_path / "flight.zip"))
    assert job["status"] == "done", job
    assert job["done"] == job["total"] == 3  # two photos and notes.jpg
    assert job["flight_id"] and job["scan_id"]
    assert job["hotspots"] >= 2
    # the uploader sees the per-file problem
    assert [p["name"] for p in job["problems"]] == ["notes.jpg"]
    assert job["problems"][0]["status"] == "error"
    assert job["problems"][0]["messages"][0].startswith("notes.jpg: ")  # no server paths shown
    pilot = api.headers("pilot")
    dets = api.client.get(f"/api/flights/{job['id']}/detections", headers=pilot).json()
    assert len(dets["features"]) == job["hotspots"]
    assert all(abs(f["properties"]["lon"] - 106.0502) < 0.001 for f in dets["features"])
    # the detections are hotspots of the incident nearby (same place as the seeded Hưng Yên one)
    drone = api.client.get("/api/hotspots", params={"source": "drone"}, headers=api.headers("analyst")).json()
    assert len(drone["features"]) == job["hotspots"]
    assert {f["properties"]["incident_id"] for f in drone["features"]} != {None}
    assert len(api.client.get("/api/footprints", headers=pilot).json()["features"]) == 2
    # province scope: inspectors see the flights with a hotspot in an incident of their province
    assert api.client.get("/api/footprints", headers=api.headers("insp")).json()["features"] == []
    _set_province({f["properties"]["incident_id"] for f in drone["features"]}, api, "Hưng Yên")
    assert len(api.client.get("/api/footprints", headers=api.headers("insp")).json()["features"]) == 2
    assert api.client.get("/api/footprints", headers=api.headers("insp_tb")).json()["features"] == []
    # admins see every job
    assert api.client.get("/api/flights", headers=api.headers("admin")).json()[0]["id"] == job["id"]

    # review: list with thumbnails, mark, re-mark, export
    a = api.headers("analyst")
    items = api.client.get("/api/review/detections", headers=a).json()
    assert len(items) == job["hotspots"]
    assert items[0]["thumbnail"] and len(items[0]["box"]) == 4
    thumb = api.client.get(items[0]["thumbnail"], headers=a)
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    first, second = items[0]["hotspot_id"], items[1]["hotspot_id"]
    assert api.client.post(f"/api/review/{first}", json={"verdict": False}, headers=a).status_code == 200
    assert api.client.post(f"/api/review/{first}", json={"verdict": True}, headers=a).status_code == 200
    assert (
        api.client.post(
            f"/api/review/{second}", json={"verdict": False, "comment": "sun glint"}, headers=a
        ).status_code
        == 200
    )
    assert api.client.post("/api/review/999999", json={"verdict": True}, headers=a).status_code == 404
    ev = api.client.get("/api/review/verdicts.json", headers=a).json()
    by_id = {e["hotspot_id"]: e for e in ev}
    assert len(ev) == 2
    assert by_id[first]["verdict"] == "true_positive" and by_id[second]["verdict"] == "false_positive"
    assert by_id[first]["image"].startswith("DJI_") and len(by_id[first]["box_xyxy"]) == 4
    assert by_id[first]["flight_id"] == job["flight_id"]


def test_a_bad_upload_fails_with_a_message(api: ApiEnv, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    job = _upload(api, bad)
    assert job["status"] == "failed"
    assert "bad.zip" in job["message"] or "zip" in job["message"].lower()


def test_server_processes_do_not_fail_each_others_live_jobs(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """Two server processes on one database: starting (or beating) one marks only the jobs
    whose owner stopped sending heartbeats, never the other's live ones."""
    from concurrent.futures import Future
    from datetime import timedelta

    from sqlalchemy import update

    from burnwatch.api import models  # noqa: F401
    from burnwatch.api.jobs import FlightJobs
    from burnwatch.api.models import FlightJob
    from burnwatch.store.db import ensure_schema, session_factory
    from burnwatch.store.models import now_utc

    ensure_schema(db_url)
    sessions = session_factory(db_url)
    first = FlightJobs(sessions, tmp_path / "a", None)
    second = FlightJobs(sessions, tmp_path / "b", None)
    gone = FlightJobs(sessions, tmp_path / "c", None)  # a process that made jobs, then died
    live, crashed, legacy, done = (gone.new_job(f"{n}.zip", "pilot") for n in ("live", "crashed", "legacy", "done"))
    long_ago = now_utc() - timedelta(minutes=10)

    def set_job(job_id: str, **values: object) -> None:
        with sessions() as db:
            db.execute(update(FlightJob).where(FlightJob.id == job_id).values(**values))
            db.commit()

    def status(job_id: str) -> tuple[str, str]:
        with sessions() as db:
            job = db.get(FlightJob, job_id)
            assert job is not None
            return job.status, job.message

    set_job(live, status="running")  # beating recently
    set_job(crashed, status="running", heartbeat_at=long_ago)
    set_job(legacy, heartbeat_at=None)  # a row from before migration 0008
    set_job(done, status="done", heartbeat_at=long_ago)

    assert second.mark_interrupted() == 2  # what the second process does when it starts
    assert status(live) == ("running", "")
    assert status(done)[0] == "done"
    for job_id in (crashed, legacy):
        st, msg = status(job_id)
        assert st == "failed" and "server process running it stopped" in msg

    # the first process's heartbeat keeps its unfinished job alive past the stale window
    first._futures[live] = Future()  # the live job belongs to the first process
    set_job(live, heartbeat_at=long_ago)
    assert first.mark_interrupted() == 0  # never its own
    first.beat()
    assert second.mark_interrupted() == 0
    assert status(live) == ("running", "")
    # ... and so does a job whose upload is still streaming in (a big zip on a slow link)
    uploading = first.new_job("big.zip", "pilot")
    set_job(uploading, heartbeat_at=long_ago)
    first.beat()
    assert second.mark_interrupted() == 0 and status(uploading) == ("queued", "")
    first._set(uploading, status="failed", message="upload refused")  # no longer first's to keep
    # the live job ends without a word (its process killed): it goes stale and is failed
    first._futures[live].set_result(None)
    set_job(live, heartbeat_at=long_ago)
    first.beat()  # nothing of its own left to touch
    assert second.mark_interrupted() == 1 and status(live)[0] == "failed"
    assert status(uploading) == ("failed", "upload refused")
    for runner in (first, second, gone):
        runner.shutdown()


def test_an_upload_cut_off_half_way_says_so(api: ApiEnv) -> None:
    """The connection drops after 1.5 MB of a 1.9 MB zip: the job fails with a message a
    drone operator understands (not Python's ``ClientDisconnect()``)."""
    chunk = b"PK" + b"\0" * (3 * (1 << 19) - 2)  # 1.5 MB
    received: list[dict[str, object]] = [
        {"type": "http.request", "body": chunk, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    token = api.token("pilot")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/flights",
        "raw_path": b"/api/flights",
        "root_path": "",
        "query_string": b"filename=drop.zip",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/zip"),
            (b"content-length", b"1900000"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    api.client.portal.call(api.app, scope, receive, send)  # the app's own event loop
    jobs = api.client.get("/api/flights", headers=api.headers("pilot")).json()
    job = next(j for j in jobs if j["filename"] == "drop.zip")
    assert job["status"] == "failed"
    assert job["message"] == "drop.zip: upload interrupted after 1.5 MB (the connection closed before the whole file arrived)"
    assert not api.app.state.jobs.job_dir(job["id"]).exists()  # nothing of the part left behind
