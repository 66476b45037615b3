"""``burnwatch reprocess``: a whole burning season again, split by scene and date, on Dask."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from burnwatch.cli.options import DATE


@click.command()
@click.option("--season", default=None, help="Burning season 'YYYY-YYYY' (1 Sep - 30 Apr), e.g. 2025-2026.")
@click.option("--start", type=DATE, default=None, help="Instead of --season: first day (UTC).")
@click.option("--end", type=DATE, default=None, help="Instead of --season: last day (UTC, inclusive).")
@click.option(
    "--aoi",
    required=True,
    metavar="BBOX|GEOJSON",
    help="Area: 'min_lon,min_lat,max_lon,max_lat' or a GeoJSON file.",
)
@click.option(
    "--source",
    type=click.Choice(["sentinel2", "sentinel2-l2a", "landsat", "firms"]),
    default="sentinel2",
    show_default=True,
    help="What to reprocess.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Existing Dask scheduler (or BURNWATCH_DASK_SCHEDULER).",
)
@click.option("--workers", type=int, default=2, show_default=True, help="LocalCluster worker processes.")
@click.option("--local", is_flag=True, help="No Dask: run every task in this process.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (hotspots.geojson, scenes/*_fire.tif).",
)
@click.option("--no-ingest", is_flag=True, help="Do not write to the database (BURNWATCH_DATABASE_URL).")
@click.option(
    "--max-cloud", type=float, default=60.0, show_default=True, help="Skip passes above this cloud %."
)
@click.option(
    "--resolution", type=float, default=None, help="Pixel size in metres (default 20 S2, 30 Landsat)."
)
@click.option("--firms-source", default="VIIRS_SNPP_NRT", show_default=True, help="firms: FIRMS product.")
@click.option(
    "--min-confidence",
    type=click.Choice(["low", "nominal", "high"]),
    default="nominal",
    show_default=True,
    help="Lowest pixel confidence class kept.",
)
def reprocess(
    season: str | None,
    start: datetime | None,
    end: datetime | None,
    aoi: str,
    source: str,
    scheduler: str | None,
    workers: int,
    local: bool,
    out_dir: Path,
    no_ingest: bool,
    max_cloud: float,
    resolution: float | None,
    firms_source: str,
    min_confidence: str,
) -> None:
    """Reprocess a season (or period) over an AOI: one task per acquisition day and AOI tile
    (FIRMS: per 10 days), run on Dask workers; this process alone ingests the results.

    \b
    Examples:
      burnwatch reprocess --season 2025-2026 --aoi 105.9,20.5,106.3,20.9 --out re/hy
      burnwatch reprocess --season 2025-2026 --aoi hy.geojson --scheduler tcp://10.0.0.5:8786 --out re/hy
    """
    from contextlib import ExitStack
    from datetime import timedelta

    from tqdm import tqdm

    from burnwatch.config import get_settings
    from burnwatch.errors import InputError
    from burnwatch.pipeline import ScanOptions
    from burnwatch.scale.dask_jobs import dask_client
    from burnwatch.scale.reprocess import plan_tasks, season_range
    from burnwatch.scale.reprocess import reprocess as run_reprocess
    from burnwatch.sources.base import parse_aoi

    settings = get_settings()
    if season:
        t0, t1 = season_range(season)
    elif start and end:
        t0, t1 = start, end + timedelta(days=1)
    else:
        raise InputError("give --season YYYY-YYYY or both --start and --end")
    area = parse_aoi(aoi)
    tasks = plan_tasks(
        source, area, t0, t1, settings=settings, resolution_m=resolution, max_cloud=max_cloud,
        firms_product=firms_source,
    )  # fmt: skip
    click.echo(
        f"{len(tasks)} task(s): {source} {t0:%Y-%m-%d}..{t1 - timedelta(days=1):%Y-%m-%d} over {area.bbox}"
    )
    options = ScanOptions(min_confidence=min_confidence, quicklook="false")  # type: ignore[arg-type]
    label = f"reprocess {season or f'{t0:%Y-%m-%d}..{t1:%Y-%m-%d}'} {source}"
    db = None if no_ingest else settings.database_url
    with ExitStack() as stack:
        # Connect (or start the LocalCluster) before the progress bar, so errors read cleanly.
        client = None if local else stack.enter_context(dask_client(scheduler, workers, settings=settings))
        bar = stack.enter_context(tqdm(total=len(tasks), desc="tasks", unit="task"))

        def progress(done: int, total: int, what: str) -> None:
            bar.set_postfix_str(what[-40:])
            bar.update(1)

        report = run_reprocess(
            tasks,
            out_dir,
            options,
            client=client,
            database_url=db,
            label=label,
            source=source,
            progress=progress,
        )
    for message in [*report.job.errors.values(), *report.job.problems, *report.ingest_errors.values()]:
        click.echo(f"warning: {message}", err=True)
    click.echo(
        f"{len(report.job.results)} task(s) done, {len(report.job.errors)} failed, "
        f"{len(report.job.hotspots) - report.suppressed} hotspot(s) in {report.job.seconds:.1f} s"
        + (f", {report.suppressed} static heat source(s) suppressed" if report.suppressed else "")
        + ("" if db is None else f"; database: {report.added} new, {report.duplicates} already stored")
    )
    click.echo(f"  hotspots_geojson: {report.outputs['hotspots_geojson']}")
