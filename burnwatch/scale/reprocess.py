"""Season reprocessing: every pass of a burning season over an AOI, split by scene and date.

``burnwatch reprocess --season 2025-2026 --aoi ...`` plans one task per (acquisition day,
AOI tile) for Sentinel-2/Landsat (days from the Sentinel Hub catalog, tiles no larger than
one Process API request, :func:`burnwatch.schedule.scanning.tile_aoi`) or one task per
``chunk_days`` date range for FIRMS, runs them on Dask (or in this process), and ingests
every task's hotspots from the client as results arrive (one writer; idempotent, so a
repeated reprocessing adds only what the new detector finds in addition).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from burnwatch import __version__
from burnwatch.config import Settings
from burnwatch.errors import InputError
from burnwatch.pipeline import ScanOptions
from burnwatch.scale.dask_jobs import (
    FirmsRangeTask,
    JobResult,
    Progress,
    SentinelHubDayTask,
    Task,
    TaskResult,
    run_local,
    run_on_dask,
)
from burnwatch.schedule.config import SeasonWindow
from burnwatch.sources.base import SATELLITE_SOURCES
from burnwatch.types import AOI, utc

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = (*SATELLITE_SOURCES, "firms")


def season_range(season: str, window: SeasonWindow = SeasonWindow()) -> tuple[datetime, datetime]:
    """``"2025-2026"`` -> (1 Sep 2025, 1 May 2026) UTC, end exclusive, for the default window."""
    m = re.fullmatch(r"\s*(\d{4})\s*[-/]\s*(\d{4})\s*", season)
    if not m or int(m.group(2)) != int(m.group(1)) + 1:
        raise InputError(f"season {season!r} is not 'YYYY-YYYY' with consecutive years, e.g. 2025-2026")
    first = int(m.group(1))
    month, day = (int(v) for v in window.start.split("-"))
    bounds = window.bounds(datetime(first, month, day, tzinfo=timezone.utc))
    assert bounds is not None
    return bounds


def plan_tasks(
    source: str,
    aoi: AOI,
    start: datetime,
    end: datetime,
    *,
    settings: Settings,
    resolution_m: float | None = None,
    max_cloud: float | None = 60.0,
    firms_product: str = "VIIRS_SNPP_NRT",
    chunk_days: int = 10,
) -> list[Task]:
    """The tasks of a reprocessing of ``[start, end)`` (UTC), in date order."""
    start, end = utc(start), utc(end)
    if start >= end:
        raise InputError(f"empty period: {start:%Y-%m-%d} .. {end:%Y-%m-%d}")
    if source == "firms":
        tasks: list[Task] = []
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            nxt = min(day + timedelta(days=chunk_days), end)
            tasks.append(FirmsRangeTask(firms_product, aoi.bbox, day, nxt, settings))
            day = nxt
        return tasks
    if source not in SATELLITE_SOURCES:
        raise InputError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    from burnwatch.schedule.scanning import tile_aoi
    from burnwatch.sources.sentinelhub import search_catalog

    collection, default_res = SATELLITE_SOURCES[source]
    res = resolution_m or default_res
    items = search_catalog(
        collection, aoi, start, end - timedelta(microseconds=1), max_cloud=max_cloud, settings=settings
    )
    days = sorted({utc(i.time).replace(hour=0, minute=0, second=0, microsecond=0) for i in items})
    tiles = tile_aoi(aoi, res)
    log.info("%s: %d day(s) x %d tile(s) over %s", collection, len(days), len(tiles), aoi.name)
    return [SentinelHubDayTask(collection, t.bbox, d, res, max_cloud, settings) for d in days for t in tiles]


@dataclass
class ReprocessReport:
    job: JobResult
    added: int = 0
    duplicates: int = 0
    incidents_created: int = 0
    suppressed: int = 0  # flagged by their source as static heat sources (FIRMS type 1-3): not stored
    ingest_errors: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)


def reprocess(
    tasks: list[Task],
    out_dir: Path,
    options: ScanOptions = ScanOptions(),
    *,
    client: Client | None = None,
    database_url: str | None = None,
    label: str = "reprocess",
    source: str = "sentinel2",
    progress: Progress | None = None,
) -> ReprocessReport:
    """Run ``tasks`` (on ``client``'s cluster, else here), ingest each result into
    ``database_url`` (None: no database) and write ``out_dir/hotspots.geojson``."""
    from burnwatch.pipeline import split_source_flagged
    from burnwatch.publish.vector import write_hotspots

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = ReprocessReport(JobResult())
    writer: Callable[[TaskResult], None] | None = None
    if database_url is not None:
        from burnwatch.store.db import ensure_schema, session_factory
        from burnwatch.store.ingest import ScanRecord, ingest_hotspots

        ensure_schema(database_url)
        sessions = session_factory(database_url)

        def writer(r: TaskResult) -> None:
            kept, _ = split_source_flagged(r.hotspots)
            record = ScanRecord(
                kind="firms" if source == "firms" else "scan",
                source=source,
                label=f"{label}: {r.label}",
                parameters={"task": r.key, "reprocess": label, "options": options.as_dict()},
                software_versions={"burnwatch": __version__},
            )
            try:
                with sessions() as session:
                    res = ingest_hotspots(session, kept, record)
            except Exception as exc:  # one result that cannot be stored must not stop the others
                report.ingest_errors[r.key] = f"{r.label}: {type(exc).__name__}: {exc}"
                log.error("ingest of %s failed: %s", r.label, exc)
                return
            report.added += res.added
            report.duplicates += res.skipped_duplicates
            report.incidents_created += res.incidents_created

    if client is None:
        report.job = run_local(tasks, out_dir, options, writer=writer, progress=progress)
    else:
        report.job = run_on_dask(client, tasks, out_dir, options, writer=writer, progress=progress)
    kept, suppressed = split_source_flagged(report.job.hotspots)
    report.suppressed = len(suppressed)
    report.outputs["hotspots_geojson"] = write_hotspots(kept, out_dir / "hotspots.geojson")
    if suppressed:
        report.outputs["suppressed_geojson"] = write_hotspots(suppressed, out_dir / "suppressed.geojson")
    return report
