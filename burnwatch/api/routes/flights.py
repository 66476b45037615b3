"""Drone flight upload (streamed zip, size cap), job progress, thumbnails and footprints."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse
from starlette.types import Message

from burnwatch.api import queries
from burnwatch.api.auth import (
    FLIGHT_ROLES,
    REVIEW_ROLES,
    STAFF,
    Principal,
    allow,
    db_session,
    principal,
    province_scope,
)
from burnwatch.api.jobs import FlightJobs
from burnwatch.api.models import FlightJob
from burnwatch.api.uploads import inside, max_upload_bytes, safe_filename, stream_to_file
from burnwatch.errors import BurnwatchError, InputError, NotFoundError

router = APIRouter(tags=["flights"])


_ABS_PATH = re.compile(r"(?:/[^\s/:]+)+/([^\s/:]+)")


def plain_names(text: str) -> str:
    """Server paths in messages shown to users become bare file names."""
    return _ABS_PATH.sub(r"\1", text)


def job_out(job: FlightJob, jobs: FlightJobs) -> dict[str, Any]:
    live = jobs.progress(job.id)
    report = job.report or {}
    problems = [
        {
            "name": f["name"],
            "status": f["status"],
            "messages": [plain_names(m) for m in f.get("messages", [])],
        }
        for f in report.get("files", [])
        if f.get("status") not in ("ok", "telemetry")
    ]
    return {
        "id": job.id,
        "filename": job.filename,
        "uploaded_by": job.uploaded_by,
        "status": live.status if live else job.status,
        "done": live.done if live else job.done,
        "total": live.total if live else job.total,
        "message": plain_names(live.message if live else job.message),
        "flight_id": job.flight_id,
        "scan_id": job.scan_id,
        "hotspots": job.hotspots,
        "created_at": queries.iso_utc(job.created_at),
        "finished_at": queries.iso_utc(job.finished_at),
        "problems": problems,
        "counts": report.get("counts", {}),
    }


def load_job(db: Session, p: Principal, job_id: str) -> FlightJob:
    job = db.get(FlightJob, job_id) if len(job_id) == 32 and job_id.isalnum() else None
    if job is None or (p.role == "drone_operator" and job.uploaded_by != p.username):
        raise NotFoundError(f"no flight job {job_id}")
    return job


def counting(request: Request) -> tuple[Request, list[int]]:
    """The same request, counting the body bytes that arrive (in the returned one-item list)."""
    received = [0]

    async def receive() -> Message:
        message = await request.receive()
        if message["type"] == "http.request":
            received[0] += len(message.get("body", b""))
        return message

    return Request(request.scope, receive), received


def interrupted(received: int) -> str:
    return (
        f"upload interrupted after {received / (1 << 20):.1f} MB "
        "(the connection closed before the whole file arrived)"
    )


def refused(jobs: FlightJobs, job_id: str, message: str) -> None:
    """An upload that did not arrive whole (over the cap, connection closed, empty): the job
    row stays, failed with ``message`` (who tried what, when and why), and its folder with
    whatever part of the file had arrived is removed."""
    import shutil

    jobs._set(job_id, status="failed", message=message)
    shutil.rmtree(jobs.job_dir(job_id), ignore_errors=True)


@router.post("/api/flights", status_code=202, dependencies=[allow(*FLIGHT_ROLES)])
async def upload_flight(
    request: Request,
    p: Annotated[Principal, Depends(principal)],
    filename: Annotated[str, Query(max_length=128)] = "flight.zip",
) -> dict[str, Any]:
    """Raw body = a flight .zip (``?filename=...``), streamed to disk with the
    ``max_upload_mb`` cap (413 as soon as it is passed); processed in the background."""
    name = safe_filename(filename, "flight.zip")
    if not name.lower().endswith(".zip"):
        raise InputError(f"{name}: upload a .zip of the flight's photos")
    jobs: FlightJobs = request.app.state.jobs
    job_id = await run_in_threadpool(jobs.new_job, name, p.username)
    zip_path = jobs.job_dir(job_id) / "upload.zip"
    counted, received = counting(request)
    try:
        size = await stream_to_file(counted, zip_path, max_upload_bytes(request), name=name)
    except ClientDisconnect as exc:
        message = f"{name}: {interrupted(received[0])}"
        await run_in_threadpool(refused, jobs, job_id, message)
        raise InputError(message) from exc
    except Exception as exc:
        message = exc.message if isinstance(exc, BurnwatchError) else f"{name}: upload failed (server error)"
        await run_in_threadpool(refused, jobs, job_id, message)
        raise
    await run_in_threadpool(jobs.submit, job_id, zip_path, size)
    return {"id": job_id, "status": "queued", "url": f"/api/flights/{job_id}"}


@router.get("/api/flights", dependencies=[allow(*FLIGHT_ROLES)])
def list_flights(
    request: Request, p: Annotated[Principal, Depends(principal)], db: Annotated[Session, Depends(db_session)]
) -> list[dict[str, Any]]:
    stmt = select(FlightJob).order_by(FlightJob.created_at.desc()).limit(200)
    if p.role == "drone_operator":
        stmt = stmt.where(FlightJob.uploaded_by == p.username)
    return [job_out(j, request.app.state.jobs) for j in db.scalars(stmt)]


@router.get("/api/flights/{job_id}", dependencies=[allow(*FLIGHT_ROLES)])
def get_flight(
    job_id: str,
    request: Request,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> dict[str, Any]:
    """Progress (done/total), status, per-file problems and the linked scan."""
    return job_out(load_job(db, p, job_id), request.app.state.jobs)


@router.get("/api/flights/{job_id}/detections", dependencies=[allow(*FLIGHT_ROLES)])
def flight_detections(
    job_id: str,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> dict[str, Any]:
    """The flight's hotspots as stored (GeoJSON points, WGS84)."""
    from burnwatch.store.models import HotspotRow

    job = load_job(db, p, job_id)
    rows = (
        list(db.scalars(select(HotspotRow).where(HotspotRow.scan_id == job.scan_id))) if job.scan_id else []
    )
    return {"type": "FeatureCollection", "features": [queries.hotspot_feature(r) for r in rows]}


@router.get("/api/flights/{job_id}/thumbnails/{name}", dependencies=[allow(*FLIGHT_ROLES, *REVIEW_ROLES)])
def flight_thumbnail(
    job_id: str,
    name: str,
    request: Request,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> FileResponse:
    job = load_job(db, p, job_id)
    base = request.app.state.jobs.job_dir(job.id) / "out" / "thumbnails"
    path = inside(base, safe_filename(name, "x.jpg"))
    if not path.is_file():
        raise NotFoundError(f"no thumbnail {name}")
    return FileResponse(path, media_type="image/jpeg")


@router.get("/api/footprints", dependencies=[allow(*STAFF)])
def footprints(
    request: Request, p: Annotated[Principal, Depends(principal)], db: Annotated[Session, Depends(db_session)]
) -> dict[str, Any]:
    """Photo footprints of the finished flights in the caller's scope (GeoJSON polygons, WGS84).

    A province-bound user (:func:`~burnwatch.api.auth.province_scope`) sees the flights that
    have a hotspot in an incident of their province, as the hotspots themselves are scoped."""
    jobs: FlightJobs = request.app.state.jobs
    features: list[dict[str, Any]] = []
    for job in db.scalars(flights_in_scope(province_scope(p, None))):
        path = jobs.job_dir(job.id) / "out" / "footprints.geojson"
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            for feat in data.get("features", []):
                feat.setdefault("properties", {})["job_id"] = job.id
                features.append(feat)
    return {"type": "FeatureCollection", "features": features}


def flights_in_scope(province: str | None) -> Select[FlightJob]:
    """Finished flight jobs (newest first, at most 500); with ``province``, only those whose
    scan has a hotspot in an incident of that province."""
    from burnwatch.store.models import HotspotRow, Incident

    stmt = select(FlightJob).where(FlightJob.status == "done")
    if province is not None:
        in_province = (
            select(HotspotRow.scan_id)
            .join(Incident, HotspotRow.incident_id == Incident.id)
            .where(Incident.province == province)
        )
        stmt = stmt.where(FlightJob.scan_id.in_(in_province))
    return stmt.order_by(FlightJob.created_at.desc()).limit(500)


def thumbnail_url(job_id: str, out_dir: Path, photo: str) -> str | None:
    thumbs = sorted((out_dir / "thumbnails").glob(f"{Path(photo).stem}_*.jpg"))
    return f"/api/flights/{job_id}/thumbnails/{thumbs[0].name}" if thumbs else None
