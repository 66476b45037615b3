"""``burnwatch db``: migrate, inspect and export the hotspot database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session

from burnwatch.cli.options import DATE

database_option = click.option(
    "--database",
    "database",
    envvar="BURNWATCH_DATABASE_URL",
    metavar="URL",
    default=None,
    help="SQLAlchemy URL (default: BURNWATCH_DATABASE_URL or sqlite:///burnwatch.db).",
)


def shown_url(url: str | None) -> str:
    from sqlalchemy.engine import make_url

    from burnwatch.store.db import database_url

    return make_url(database_url(url)).render_as_string(hide_password=True)


@contextmanager
def open_session(url: str | None) -> Iterator[Session]:
    """A committing session; SQLite databases are migrated on first use."""
    from burnwatch.store.db import session_scope

    with session_scope(url) as session:
        yield session


@click.group()
def db() -> None:
    """The hotspot database: migrations and exports."""


@db.command()
@database_option
@click.option("--revision", default="head", show_default=True, help="Alembic revision to upgrade to.")
def upgrade(database: str | None, revision: str) -> None:
    """Apply the schema migrations (creates the database file for SQLite)."""
    from burnwatch.store.db import upgrade as do_upgrade

    rev = do_upgrade(database, revision)
    click.echo(f"{shown_url(database)}: at revision {rev}")


@db.command()
@database_option
def current(database: str | None) -> None:
    """Show the database's schema revision and the newest one available."""
    from burnwatch.store.db import current_revision, head_revision

    rev, head = current_revision(database), head_revision()
    state = "up to date" if rev == head else "needs `burnwatch db upgrade`"
    click.echo(f"{shown_url(database)}: revision {rev or '(none)'}, head {head} — {state}")
    if rev != head:
        raise SystemExit(1)


@db.command("export")
@database_option
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--what", type=click.Choice(["incidents", "hotspots"]), default="incidents", show_default=True)
@click.option("--province", help="Only this province (name as attributed, with diacritics).")
@click.option("--since", type=DATE, help="Only incidents/hotspots seen at or after this date (UTC).")
@click.option("--until", type=DATE, help="Only before this date (UTC).")
def export(
    database: str | None,
    out: Path,
    what: str,
    province: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Export incidents or hotspots; OUT's suffix picks GeoJSON, GPKG, CSV or KML."""
    from burnwatch.incidents.exports import export_hotspots, export_incidents
    from burnwatch.store import queries

    with open_session(database) as session:
        if what == "incidents":
            rows = queries.incidents(session, province=province, start=since, end=until)
            cases = {r.id: c for r in rows if (c := queries.case_for_incident(session, r.id)) is not None}
            export_incidents(rows, out, cases)
        else:
            hs = queries.hotspots(session, start=since, end=until, province=province)
            export_hotspots(hs, out)
            rows = hs  # type: ignore[assignment]
    click.echo(f"{len(rows)} {what} -> {out}")
