"""``burnwatch schedule``: scheduled satellite scans (service, one-shot, status, check)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from burnwatch.cli.options import DATE

F = TypeVar("F", bound=Callable[..., Any])

#: ``schedule once`` exit status when a job failed for good in that run (1 and 2 are taken by
#: crashes and by click/burnwatch usage errors).
EXIT_JOBS_GAVE_UP = 3

dask_options = [
    click.option(
        "--scheduler",
        "dask_scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="Run satellite tiles on this Dask scheduler (or BURNWATCH_DASK_SCHEDULER).",
    ),
    click.option(
        "--workers",
        type=int,
        default=0,
        show_default=True,
        help="Run satellite tiles on a LocalCluster of N worker processes (0: in this process).",
    ),
]


def with_dask(f: F) -> F:
    """Add ``--scheduler`` and ``--workers`` to a command."""
    for option in reversed(dask_options):
        f = option(f)
    return f


@contextmanager
def _maybe_client(dask_scheduler: str | None, workers: int) -> Iterator[object | None]:
    from burnwatch.config import get_settings

    address = dask_scheduler or get_settings().dask_scheduler
    if not address and workers <= 0:
        yield None
        return
    from burnwatch.scale.dask_jobs import dask_client

    with dask_client(address, workers or None) as client:
        yield client


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database that cannot be used (down, locked, missing) is one ``Error:`` line (the
    root command prints :class:`BurnwatchError` messages), not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from burnwatch.errors import BurnwatchError

    try:
        yield
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise BurnwatchError(f"database: {type(exc).__name__}: {detail}") from exc


schedule_file = click.option(
    "--schedule",
    "schedule_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Schedule file (.yaml/.yml/.toml): watch areas, sources, season, notifications.",
)


@click.group()
def schedule() -> None:
    """Scan every satellite pass over the watch areas without anyone pressing a button.

    \b
    Examples:
      burnwatch schedule check --schedule schedule.yaml
      burnwatch schedule once --schedule schedule.yaml     # from cron / a systemd timer
      burnwatch schedule run --schedule schedule.yaml      # long-running service
      burnwatch schedule status
    """


def _echo_report(report: object) -> None:
    from burnwatch.schedule.runner import RunReport

    assert isinstance(report, RunReport)
    window = (
        f"{report.window[0]:%Y-%m-%d %H:%M}..{report.window[1]:%Y-%m-%d %H:%M} UTC"
        if report.window
        else "out of season"
    )
    click.echo(
        f"{report.now:%Y-%m-%d %H:%M} UTC ({window}): {report.passes_found} pass(es), "
        f"{report.jobs_created} new job(s), {len(report.done)} done, {len(report.failed)} failed, "
        f"{report.notifications.sent} message(s) sent"
    )
    for o in report.outcomes:
        tail = f"{o.hotspots} hotspot(s), {o.added} new, {o.incidents_new} new incident(s)"
        final = " (gave up: no attempt left)" if o.gave_up else ""
        head = f"  {o.status:6} {o.area} {o.pass_id} gen {o.generation} try {o.attempts}"
        click.echo(f"{head}: {o.error or tail}{final}")
    for message in [*report.errors, *report.notifications.errors]:
        click.echo(f"warning: {message}", err=True)


@schedule.command()
@schedule_file
@with_dask
@click.option("--now", type=DATE, default=None, help="Pretend it is this time (UTC); default: now.")
@click.option("--retry-failed", is_flag=True, help="Re-queue jobs that used up their retries.")
@click.option(
    "--reprocess",
    "reprocess_range",
    type=(DATE, DATE),
    default=None,
    metavar="FROM TO",
    help="Scan the done passes in [FROM, TO) again as a new generation (e.g. after a detector update).",
)
def once(
    schedule_path: Path,
    dask_scheduler: str | None,
    workers: int,
    now: datetime | None,
    retry_failed: bool,
    reprocess_range: tuple[datetime, datetime] | None,
) -> None:
    """Run what is due now (catching up missed passes) and exit; for cron and systemd timers.

    Exit status 0 when every job ran or will be retried (a failed attempt with attempts left
    is scheduled again), 3 when a job failed for good in this run (it used its last attempt:
    see `schedule status --failed`, re-queue with --retry-failed)."""
    from datetime import timezone

    from burnwatch.schedule.config import load_schedule
    from burnwatch.schedule.jobs import request_reprocess
    from burnwatch.schedule.runner import Scheduler

    with _database_errors(), _maybe_client(dask_scheduler, workers) as client:
        sched = Scheduler(load_schedule(schedule_path), client=client)
        if reprocess_range is not None:
            with sched.session() as session:
                new = request_reprocess(
                    session, *reprocess_range, areas=[a.name for a in sched.schedule.watch_areas]
                )
            click.echo(f"queued {len(new)} pass(es) for reprocessing")
        report = sched.run_once(now or datetime.now(timezone.utc), retry_failed=retry_failed)
        _echo_report(report)
    if report.gave_up:
        click.echo(
            f"error: {len(report.gave_up)} job(s) failed for good (no attempt left); "
            "re-queue with --retry-failed",
            err=True,
        )
        raise SystemExit(EXIT_JOBS_GAVE_UP)


@schedule.command()
@schedule_file
@with_dask
def run(schedule_path: Path, dask_scheduler: str | None, workers: int) -> None:
    """Run as a service: a cycle every poll_minutes until SIGTERM/SIGINT."""
    import logging
    import signal
    import threading

    from burnwatch.schedule.config import load_schedule
    from burnwatch.schedule.passes import SystemClock
    from burnwatch.schedule.runner import Scheduler

    schedule_ = load_schedule(schedule_path)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        click.echo(f"signal {signum}: stopping after the current cycle", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("burnwatch.schedule").setLevel(logging.INFO)  # a service logs its cycles
    click.echo(f"burnwatch scheduler: {schedule_path}, every {schedule_.poll_minutes:g} min")
    with _database_errors(), _maybe_client(dask_scheduler, workers) as client:
        Scheduler(schedule_, client=client).run_forever(SystemClock(), stop)


@schedule.command()
@click.option("--failed", "show_failed", is_flag=True, help="List failed jobs with their errors.")
@click.option("--limit", type=int, default=20, show_default=True, help="Recent jobs to list.")
def status(show_failed: bool, limit: int) -> None:
    """Job counts per watch area, source and status; recent and failed jobs; pending messages."""
    from sqlalchemy import func, select

    from burnwatch.config import get_settings
    from burnwatch.schedule import models
    from burnwatch.schedule.jobs import last_run, status_counts
    from burnwatch.store.db import session_scope

    # An explicit URL: get_engine(None) would be cached across settings changes.
    with session_scope(get_settings().database_url) as session:
        counts = status_counts(session)
        last = last_run(session)
        pending = session.scalar(
            select(func.count())
            .select_from(models.ScheduleNotification)
            .where(models.ScheduleNotification.status == "pending")
        )
        stmt = select(models.ScheduleJob)
        if show_failed:
            stmt = stmt.where(models.ScheduleJob.status == "failed")
        recent = list(session.scalars(stmt.order_by(models.ScheduleJob.id.desc()).limit(limit)))
    if not counts:
        click.echo("no scheduled jobs yet")
        return
    click.echo(f"last job finished: {last:%Y-%m-%d %H:%M} UTC" if last else "no job finished yet")
    for (area, source, st), n in sorted(counts.items()):
        click.echo(f"  {area:24} {source:10} {st:8} {n}")
    click.echo(f"pending notifications: {pending}")
    for j in recent:
        when = f"{j.finished_at:%Y-%m-%d %H:%M}" if j.finished_at else "-"
        nxt = f" next {j.next_attempt_at:%Y-%m-%d %H:%M}" if j.next_attempt_at else ""
        info = (
            j.last_error
            if j.status == "failed"
            else f"{j.hotspots} hotspot(s), {j.incidents_new} new incident(s)"
        )
        click.echo(
            f"  #{j.id} {j.status:7} {j.area} {j.pass_id} gen {j.generation} "
            f"try {j.attempts} {when}{nxt}: {info}"
        )


@schedule.command()
@schedule_file
def check(schedule_path: Path) -> None:
    """Validate a schedule file and resolve its watch areas (no network, no database)."""
    from burnwatch.schedule.config import area_aoi, load_schedule

    sched = load_schedule(schedule_path)
    for area in sched.watch_areas:
        aoi = area_aoi(sched, area)
        w, s, e, n = aoi.bbox
        click.echo(f"{area.name}: {', '.join(sched.sources_of(area))}; bbox {w:.4f},{s:.4f},{e:.4f},{n:.4f}")
    click.echo(
        f"season {sched.season.start}..{sched.season.end}, look-back {sched.max_lookback_days:g} d, "
        f"{len(sched.notify.webhooks)} webhook(s), {len(sched.notify.emails)} e-mail(s)"
    )
