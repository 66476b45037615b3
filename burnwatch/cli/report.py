"""``burnwatch report``: the daily province report (HTML + PDF)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from burnwatch.cli.db import database_option, open_session
from burnwatch.cli.options import DATE


@click.command()
@database_option
@click.option("--date", "day", type=DATE, required=True, help="Report day (calendar day in ICT, UTC+7).")
@click.option("--province", required=True, help="Province name as attributed, e.g. 'Hưng Yên'.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@click.option(
    "--boundaries", type=click.Path(exists=True, path_type=Path), help="Province polygons for the map."
)
@click.option(
    "--province-field", default=None, help="Name field in the boundaries (default: settings, 'name')."
)
def report(
    database: str | None,
    day: datetime,
    province: str,
    out: Path,
    boundaries: Path | None,
    province_field: str | None,
) -> None:
    """Write the daily report for one province: map, new and open incidents, per-source counts."""
    from burnwatch.config import get_settings
    from burnwatch.incidents.admin import AdminLayer
    from burnwatch.incidents.report import daily_report

    settings = get_settings()
    bfile = boundaries or settings.admin_provinces_file
    layer = AdminLayer.load(bfile, province_field or settings.admin_province_field) if bfile else None
    with open_session(database) as session:
        files = daily_report(session, day.date(), province, out, layer)
    d = files.data
    per_source = ", ".join(f"{k} {v}" for k, v in d.source_counts.items()) or "none"
    click.echo(
        f"{d.province} {d.day}: {len(d.new)} new, {len(d.open)} open incidents; "
        f"hotspots {sum(d.source_counts.values())} ({per_source})"
    )
    click.echo(f"  {files.html}\n  {files.pdf}")
