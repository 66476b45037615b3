"""``burnwatch ingest``: load scans, FIRMS files and drone flights into the hotspot database."""

from __future__ import annotations

from pathlib import Path

import click

from burnwatch.cli.db import database_option, open_session, shown_url
from burnwatch.cli.options import aoi_option


@click.command()
@database_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["auto", "scan", "firms", "flight"]),
    default="auto",
    show_default=True,
    help="What the inputs are; auto guesses from the file type and contents.",
)
@aoi_option
@click.option("--boundaries", type=click.Path(exists=True, path_type=Path), help="Province polygons file.")
@click.option("--province-field", default=None, help="Province name field (default: settings, 'name').")
@click.option("--province-code-field", default=None, help="Province code field (optional).")
@click.option(
    "--commune-boundaries",
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    help="Commune polygons file (repeatable).",
)
@click.option("--commune-field", default=None, help="Commune name field (default: settings, 'name').")
@click.option("--clip-to-boundaries", is_flag=True, help="Keep only hotspots inside the province polygons.")
@click.option(
    "--static-sources", type=click.Path(exists=True, path_type=Path), help="Load this register first."
)
@click.option("--distance-m", type=float, help="Incident distance (default: settings, 1000 m).")
@click.option("--window-h", type=float, help="Incident time window (default: settings, 24 h).")
def ingest(
    database: str | None,
    paths: tuple[Path, ...],
    kind: str,
    aoi: str | None,
    boundaries: Path | None,
    province_field: str | None,
    province_code_field: str | None,
    commune_boundaries: tuple[Path, ...],
    commune_field: str | None,
    clip_to_boundaries: bool,
    static_sources: Path | None,
    distance_m: float | None,
    window_h: float | None,
) -> None:
    """Ingest PATHS (scan/flight folders, hotspot GeoJSON/GPKG, FIRMS CSVs, CSPP AFIMG text); idempotent.

    Each path is ingested in its own transaction; a bad path is reported and the others
    go on. Exit status 1 when any path failed."""
    from datetime import timedelta

    from shapely.geometry import Point

    from burnwatch.config import get_settings
    from burnwatch.errors import BurnwatchError, InputError
    from burnwatch.incidents.admin import AdminAttributor
    from burnwatch.incidents.clustering import ClusterParams
    from burnwatch.incidents.register import load_register
    from burnwatch.store import queries
    from burnwatch.store.ingest import ingest_hotspots
    from burnwatch.store.inputs import read_input

    settings = get_settings()
    params = ClusterParams(
        distance_m=distance_m or settings.incident_distance_m,
        window=timedelta(hours=window_h or settings.incident_window_h),
    )
    prov_file = boundaries or settings.admin_provinces_file
    comm_files = list(commune_boundaries) or list(settings.admin_communes_files)
    attributor = None
    if prov_file or comm_files:
        attributor = AdminAttributor.from_files(
            prov_file,
            province_field or settings.admin_province_field,
            province_code_field or settings.admin_province_code_field,
            comm_files,
            commune_field or settings.admin_commune_field,
            settings.admin_commune_code_field,
        )
    if clip_to_boundaries and (attributor is None or attributor.provinces is None):
        raise InputError("--clip-to-boundaries needs --boundaries")
    area = None
    if aoi:
        from burnwatch.sources.base import parse_aoi

        area = parse_aoi(aoi).geometry
    failures = 0
    touched: set[int] = set()
    with open_session(database) as session:
        if static_sources:
            n = load_register(session, static_sources, actor="cli")
            session.commit()
            click.echo(f"{static_sources}: {n} static sources in the register")
    with click.progressbar(paths, label="ingesting", file=None, show_pos=True) as bar:
        for path in bar:
            try:
                hotspots, record = read_input(path, kind)
                total = len(hotspots)
                if area is not None:
                    hotspots = [h for h in hotspots if area.intersects(Point(h.lon, h.lat))]
                if clip_to_boundaries and attributor is not None and attributor.provinces is not None:
                    hotspots = [h for h in hotspots if attributor.provinces.locate(h.lon, h.lat, 0.0)]
                with open_session(database) as session:
                    result = ingest_hotspots(session, hotspots, record, params=params, attributor=attributor)
                    touched.update(queries.incident_ids_of_scan(session, result.scan_id))
            except BurnwatchError as exc:
                failures += 1
                click.echo(f"\nerror: {exc.message}", err=True)
                continue
            click.echo(
                f"\n{path}: {len(hotspots)} of {total} hotspots kept; added {result.added}, "
                f"duplicates {result.skipped_duplicates}, incidents +{result.incidents_created} new, "
                f"{result.incidents_updated} updated, {result.incidents_merged} merged, "
                f"{result.flagged_static} flagged static"
            )
            static = record.parameters.get("left_out_static_sources")
            if isinstance(static, dict) and static:
                what = ", ".join(f"{n} {label}" for label, n in static.items())
                click.echo(f"  left out, not open burning (FIRMS type): {what}")
    with open_session(database) as session:
        summary = queries.provinces_summary(session, sorted(touched))
    click.echo(f"{shown_url(database)}: {sum(summary.values())} incidents from these inputs")
    for name, count in summary.items():
        click.echo(f"  {name}: {count}")
    if failures:
        raise SystemExit(1)
