"""Background processing of uploaded drone flights.

The app owns one :class:`FlightJobs` (a small thread pool). Each job runs
:func:`burnwatch.flights.ingest_flight` on the uploaded zip (detection in worker
processes unless ``workers=0``), then ingests the flight's ``hotspots.geojson`` into the
database (:func:`burnwatch.store.ingest.ingest_hotspots`) and links the scan to the job.
Progress lives in memory (for fast polling) and in the ``flight_jobs`` table (survives a
restart). Each server process touches its unfinished jobs' ``heartbeat_at`` every
``heartbeat_s``; a queued or running job whose heartbeat is older than ``stale_after_s`` (its
process stopped or crashed) is marked failed — at start-up and on every heartbeat — so several
server processes can share one database without failing each other's live jobs.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session, sessionmaker

from burnwatch.api.models import FlightJob
from burnwatch.errors import BurnwatchError
from burnwatch.store.models import now_utc

log = logging.getLogger(__name__)


@dataclass
class Progress:
    status: str = "queued"
    done: int = 0
    total: int = 0
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class FlightJobs:
    """Runs flight jobs in the background; ``detector_factory`` builds the detector."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        flights_dir: Path,
        detector_factory: Callable[[], Any] | None,
        workers: int = 1,
        max_jobs: int = 1,
        heartbeat_s: float = 30.0,
        stale_after_s: float = 120.0,
    ) -> None:
        self.sessions = sessions
        self.flights_dir = Path(flights_dir)
        self.detector_factory = detector_factory
        self.workers = workers
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self._pool = ThreadPoolExecutor(max_workers=max_jobs, thread_name_prefix="burnwatch-flight")
        self._progress: dict[str, Progress] = {}
        self._futures: dict[str, Future[None]] = {}
        self._uploading: set[str] = set()  # created here, upload still streaming in
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heart: threading.Thread | None = None

    def start(self) -> None:
        """At server start: fail the stale jobs, then keep this process's jobs alive."""
        self.mark_interrupted()
        self._stop.clear()
        self._heart = threading.Thread(
            target=self._heartbeat_loop, name="burnwatch-flight-heartbeat", daemon=True
        )
        self._heart.start()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.beat()
                self.mark_interrupted()
            except Exception:  # a database hiccup must not end the heartbeat
                log.exception("flight job heartbeat failed")

    def _own_unfinished(self) -> list[str]:
        """This process's jobs still uploading, queued or running."""
        with self._lock:
            running = [job_id for job_id, fut in self._futures.items() if not fut.done()]
            return sorted(self._uploading) + running

    def beat(self) -> None:
        """Touch ``heartbeat_at`` of this process's queued and running jobs."""
        own = self._own_unfinished()
        if own:
            with self.sessions() as db:
                db.execute(update(FlightJob).where(FlightJob.id.in_(own)).values(heartbeat_at=now_utc()))
                db.commit()

    def mark_interrupted(self) -> int:
        """Queued/running jobs with no heartbeat for ``stale_after_s`` (their server process
        stopped) will never finish: mark them failed. Returns how many."""
        cutoff = now_utc() - timedelta(seconds=self.stale_after_s)
        stale = FlightJob.status.in_(("queued", "running")) & (
            FlightJob.heartbeat_at.is_(None) | (FlightJob.heartbeat_at < cutoff)
        )
        own = self._own_unfinished()
        if own:
            stale = stale & FlightJob.id.not_in(own)
        with self.sessions() as db:
            result: CursorResult[Any] = db.execute(  # type: ignore[assignment]  # an UPDATE's result
                update(FlightJob)
                .where(stale)
                .values(
                    status="failed",
                    message="interrupted: the server process running it stopped; upload again",
                    finished_at=now_utc(),
                )
            )
            db.commit()
        return int(result.rowcount or 0)

    def job_dir(self, job_id: str) -> Path:
        return self.flights_dir / job_id

    def new_job(self, filename: str, uploaded_by: str) -> str:
        job_id = uuid.uuid4().hex
        self.job_dir(job_id).mkdir(parents=True, exist_ok=True)
        with self.sessions() as db:
            db.add(
                FlightJob(
                    id=job_id,
                    filename=filename,
                    uploaded_by=uploaded_by,
                    status="queued",
                    report={},
                    heartbeat_at=now_utc(),
                )
            )
            db.commit()
        with self._lock:  # a big upload over a slow link may take longer than stale_after_s
            self._uploading.add(job_id)
        return job_id

    def submit(self, job_id: str, zip_path: Path, size: int) -> None:
        with self._lock:
            self._progress[job_id] = Progress()
        self._save(job_id, size_bytes=size)
        with self._lock:
            self._futures[job_id] = self._pool.submit(self._run, job_id, zip_path)
            self._uploading.discard(job_id)

    def progress(self, job_id: str) -> Progress | None:
        with self._lock:
            return self._progress.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        fut = self._futures.get(job_id)
        if fut is not None:
            fut.result(timeout=timeout)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _save(self, job_id: str, **values: Any) -> None:
        with self.sessions() as db:
            db.execute(
                update(FlightJob).where(FlightJob.id == job_id).values(**values, heartbeat_at=now_utc())
            )
            db.commit()

    def _set(self, job_id: str, **values: Any) -> None:
        with self._lock:
            if values.get("status") in ("done", "failed"):
                self._uploading.discard(job_id)  # e.g. the upload was refused
            p = self._progress.setdefault(job_id, Progress())
            for k, v in values.items():
                setattr(p, k, v)
        self._save(job_id, **values)

    def _run(self, job_id: str, zip_path: Path) -> None:
        from burnwatch.flights import ingest_flight
        from burnwatch.store.ingest import ingest_hotspots
        from burnwatch.store.inputs import read_input

        out_dir = self.job_dir(job_id) / "out"
        self._set(job_id, status="running", message="checking photos")

        def progress(done: int, total: int, name: str) -> None:
            self._set(job_id, done=done, total=total, message=name)

        try:
            result = ingest_flight(
                zip_path,
                out_dir,
                detector_factory=self.detector_factory,
                progress=progress,
                workers=self.workers,
            )
            import json

            report = json.loads((out_dir / "report.json").read_text())
            self._set(job_id, message="saving hotspots", flight_id=result.flight_id, report=report)
            hotspots, record = read_input(out_dir, kind="flight")
            with self.sessions() as db:
                res = ingest_hotspots(db, hotspots, record, actor=self._uploader(job_id))
            self._set(
                job_id,
                status="done",
                scan_id=res.scan_id,
                hotspots=len(hotspots),
                message=f"{len(hotspots)} detections, {result.ok_photos} photos ok",
                finished_at=now_utc(),
            )
        except BurnwatchError as exc:
            log.warning("flight job %s failed: %s", job_id, exc.message)
            self._set(job_id, status="failed", message=exc.message, finished_at=now_utc())
        except Exception as exc:  # a bug must not leave the job "running" forever
            log.exception("flight job %s crashed", job_id)
            self._set(job_id, status="failed", message=f"internal error: {exc!r}", finished_at=now_utc())
        finally:
            zip_path.unlink(missing_ok=True)

    def _uploader(self, job_id: str) -> str:
        with self.sessions() as db:
            job = db.get(FlightJob, job_id)
            return job.uploaded_by if job else "system"
