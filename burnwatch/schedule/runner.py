"""The scheduler service: discover due passes, scan them, ingest, notify.

:meth:`Scheduler.run_once` does one cycle at time ``now`` (what ``burnwatch schedule once``
runs from cron or a systemd timer); :meth:`Scheduler.run_forever` repeats it every
``poll_minutes`` on a :class:`~burnwatch.schedule.passes.Clock` until a stop event is set
(``burnwatch schedule run``). One cycle:

1. look-back window ``[max(now - max_lookback, season start), now]`` (see :mod:`.passes`);
2. discover passes per watch area and source (catalog / FIRMS slots) and insert a job for
   each new one (UNIQUE key: a pass is never scanned twice unless reprocessing is asked);
3. re-queue jobs left ``running`` by a dead process; run every due job, oldest pass first:
   scan -> ingest (this process is the only writer) -> job ``done`` + new-incident messages
   queued in the same transaction; a failure is recorded with exponential backoff and a
   ``job_failed`` message;
4. queue the daily digests when their hour has come, deliver pending messages.

Errors of one job or one area never stop the cycle; they are in the returned report.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from burnwatch import __version__
from burnwatch.config import Settings, get_settings
from burnwatch.errors import BurnwatchError
from burnwatch.schedule import jobs as jobstore
from burnwatch.schedule import notify
from burnwatch.schedule.config import Schedule, area_aoi
from burnwatch.schedule.models import ScheduleJob
from burnwatch.schedule.passes import (
    CatalogSearch,
    Clock,
    Pass,
    firms_slots,
    lookback_window,
    satellite_passes,
    sentinelhub_search,
)
from burnwatch.schedule.scanning import PassOutput, firms_calls_shared, scan_pass
from burnwatch.store.models import HotspotRow, Incident
from burnwatch.types import AOI, utc

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from burnwatch.incidents.admin import AdminAttributor

log = logging.getLogger(__name__)

#: (schedule, pass, aoi, out_dir, settings, generation, dask client | None) -> PassOutput.
PassScanner = Callable[[Schedule, Pass, AOI, Path, Settings, int, Any], PassOutput]


@dataclass
class JobOutcome:
    job_id: int
    area: str
    source: str
    pass_id: str
    generation: int
    status: str  # done | failed
    attempts: int
    hotspots: int = 0
    added: int = 0
    incidents_new: int = 0
    error: str | None = None
    gave_up: bool = False  # failed with no attempt left (max_attempts used): a final failure


@dataclass
class RunReport:
    """What one cycle did."""

    now: datetime
    window: tuple[datetime, datetime] | None
    passes_found: int = 0
    jobs_created: int = 0
    outcomes: list[JobOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notifications: notify.Delivery = field(default_factory=notify.Delivery)

    @property
    def done(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status == "done"]

    @property
    def failed(self) -> list[JobOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def gave_up(self) -> list[JobOutcome]:
        """Jobs that failed for good in this cycle (no further attempt scheduled)."""
        return [o for o in self.outcomes if o.status == "failed" and o.gave_up]


class Scheduler:
    """Runs a :class:`Schedule` against the database at ``database_url`` (default: settings).

    ``client``: an optional ``distributed.Client``; the tiles of satellite passes then run on
    its workers while this process stays the only database writer.
    """

    def __init__(
        self,
        schedule: Schedule,
        *,
        settings: Settings | None = None,
        database_url: str | None = None,
        catalog: CatalogSearch | None = None,
        scanner: PassScanner = scan_pass,
        client: Any = None,
    ) -> None:
        from burnwatch.store.db import ensure_schema, session_factory

        self.schedule = schedule
        self.settings = settings or get_settings()
        self.database_url = database_url or self.settings.database_url
        ensure_schema(self.database_url)
        # every transaction takes SQLite's write lock first: schedulers sharing a database queue
        self._sessions = session_factory(self.database_url, write=True)
        self.catalog = catalog or sentinelhub_search(self.settings)
        self.scanner = scanner
        self.client = client  # a distributed.Client: satellite tiles run on its workers
        self.out_dir = schedule.resolve(schedule.out_dir)
        self._aois: dict[str, AOI] = {}
        self._attributor: AdminAttributor | None = None

    # -- helpers ---------------------------------------------------------------------------
    def session(self) -> Session:
        return self._sessions()

    def aoi(self, name: str) -> AOI:
        if name not in self._aois:
            area = next(a for a in self.schedule.watch_areas if a.name == name)
            self._aois[name] = area_aoi(self.schedule, area)
        return self._aois[name]

    def attributor(self) -> AdminAttributor | None:
        b = self.schedule.boundaries
        if b is None:
            return None
        if self._attributor is None:
            from burnwatch.incidents.admin import AdminAttributor

            self._attributor = AdminAttributor.from_files(
                self.schedule.resolve(b.path), b.name_field, b.code_field
            )
        return self._attributor

    def discover(self, window: tuple[datetime, datetime], report: RunReport) -> list[Pass]:
        found: list[Pass] = []
        for area in self.schedule.watch_areas:
            for source in self.schedule.sources_of(area):
                try:
                    if source == "firms":
                        assert self.schedule.sources.firms is not None
                        found += firms_slots(area.name, self.schedule.sources.firms, window)
                    else:
                        spec = getattr(self.schedule.sources, source)
                        found += satellite_passes(
                            area.name, source, spec, self.aoi(area.name), window, self.catalog
                        )
                except BurnwatchError as exc:
                    msg = f"{area.name} {source}: cannot list passes: {exc.message}"
                    report.errors.append(msg)
                    log.error("%s", msg)
        return found

    # -- one cycle -------------------------------------------------------------------------
    def run_once(self, now: datetime, *, retry_failed: bool = False) -> RunReport:
        """Scan everything due at ``now`` (aware UTC) and deliver notifications."""
        now = utc(now)
        window = lookback_window(self.schedule, now)
        report = RunReport(now=now, window=window)
        # FIRMS slots of one day/area/product share one area-API call in this cycle
        with firms_calls_shared(), self.session() as session:
            if retry_failed:
                jobstore.retry_failed(session, now)
            if window is not None:
                passes = self.discover(window, report)
                report.passes_found = len(passes)
                report.jobs_created = len(jobstore.ensure_jobs(session, passes))
            jobstore.requeue_stale(session, now, self.schedule.retry)
            areas = [a.name for a in self.schedule.watch_areas]
            for job in jobstore.due_jobs(session, now, areas):
                if not jobstore.start_job(session, job, now):
                    log.info("job %d %s %s: taken by another scheduler", job.id, job.area, job.pass_id)
                    continue
                report.outcomes.append(self.run_job(session, job, now))
            if window is not None:
                provinces = [p for a in self.schedule.watch_areas for p in (a.provinces or [])]
                notify.queue_digests(session, self.schedule.notify, now, provinces)
                session.commit()
            report.notifications = notify.deliver_pending(session, self.schedule.notify, now)
        log.info(
            "cycle %s: %d pass(es), %d new job(s), %d done, %d failed, %d message(s) sent",
            now.isoformat(), report.passes_found, report.jobs_created, len(report.done),
            len(report.failed), report.notifications.sent,
        )  # fmt: skip
        return report

    def run_job(self, session: Session, job: ScheduleJob, now: datetime) -> JobOutcome:
        """Scan, ingest and record one job already claimed by :func:`~.jobs.start_job`;
        never raises for a failure of the job itself."""
        from burnwatch.store.ingest import ScanRecord, ingest_hotspots

        p = Pass(job.area, job.source, job.pass_id, job.pass_time, job.window_start, job.window_end)
        outcome = JobOutcome(job.id, job.area, job.source, job.pass_id, job.generation, "done", job.attempts)
        try:
            result = self.scanner(
                self.schedule, p, self.aoi(job.area), self.out_dir, self.settings, job.generation, self.client
            )
            before = session.scalar(select(func.max(Incident.id))) or 0
            record = ScanRecord(
                kind="firms" if job.source == "firms" else "scan",
                source=job.source,
                label=f"schedule {job.area} {job.pass_id} gen {job.generation}",
                parameters={
                    "area": job.area,
                    "pass_id": job.pass_id,
                    "generation": job.generation,
                    "window": [job.window_start.isoformat(), job.window_end.isoformat()],
                    "min_confidence": self.schedule.min_confidence,
                },
                software_versions={"burnwatch": __version__},
                started_at=job.started_at,
            )
            ingested = ingest_hotspots(session, result.hotspots, record, attributor=self.attributor())
        except Exception as exc:  # every failure is recorded and retried, never lost
            session.rollback()
            error = exc.message if isinstance(exc, BurnwatchError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, BurnwatchError):
                log.debug("job %d traceback:\n%s", job.id, traceback.format_exc())
            again = jobstore.fail_job(session, job, now, error, self.schedule.retry)
            log.error(
                "job %d %s %s attempt %d failed: %s", job.id, job.area, job.pass_id, job.attempts, error
            )
            notify.queue_failure(
                session, self.schedule.notify, job, error, job.next_attempt_at if again else None
            )
            session.commit()
            outcome.status, outcome.error, outcome.gave_up = "failed", error, not again
            return outcome
        new_incidents = list(
            session.scalars(
                select(Incident)
                .where(
                    Incident.id > before,
                    Incident.status == "active",
                    # this job's own incidents (another scheduler may have added some meanwhile)
                    Incident.id.in_(
                        select(HotspotRow.incident_id).where(HotspotRow.scan_id == ingested.scan_id)
                    ),
                )
                .order_by(Incident.id)
            )
        )
        jobstore.finish_job(
            session,
            job,
            now,
            scenes=result.scenes,
            hotspots=len(result.hotspots),
            added=ingested.added,
            incidents_new=len(new_incidents),
            scan_id=ingested.scan_id,
            details={"outputs": result.outputs, "warnings": result.errors[:50]},
            commit=False,
        )
        notify.queue_incidents(session, self.schedule.notify, job, new_incidents)
        session.commit()
        outcome.hotspots, outcome.added, outcome.incidents_new = (
            len(result.hotspots),
            ingested.added,
            len(new_incidents),
        )
        log.info(
            "job %d %s %s: %d hotspot(s), %d new",
            job.id,
            job.area,
            job.pass_id,
            outcome.hotspots,
            outcome.added,
        )
        return outcome

    # -- service ---------------------------------------------------------------------------
    def run_forever(
        self, clock: Clock, stop_event: threading.Event, *, max_cycles: int | None = None
    ) -> list[RunReport]:
        """Run a cycle every ``poll_minutes`` until ``stop_event`` is set (or ``max_cycles``).

        A cycle that crashes (database down, bug) is logged and the service goes on.
        Returns the reports of the cycles run (kept only when ``max_cycles`` is given).
        """
        reports: list[RunReport] = []
        cycles = 0
        while not stop_event.is_set():
            try:
                report = self.run_once(clock.now())
                if max_cycles is not None:
                    reports.append(report)
            except Exception:
                log.exception("scheduler cycle failed; trying again in %g min", self.schedule.poll_minutes)
            cycles += 1
            if max_cycles is not None and cycles >= max_cycles:
                break
            clock.sleep(self.schedule.poll_minutes * 60.0, stop_event)
        return reports
