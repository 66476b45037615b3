"""``burnwatch serve``: run the web app and API with uvicorn."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    "flight_workers",
    default=1,
    show_default=True,
    type=click.IntRange(0, 16),
    help="Detection worker processes per flight upload (0 = in the job thread).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(host: str, port: int, flight_workers: int, log_level: str) -> None:
    """Serve the map, case, upload and review pages, the REST API and OGC API Features.

    Settings come from BURNWATCH_* variables (database URL, secret key, data folder,
    upload cap, session length, basemap tile URL). SQLite databases are migrated on
    start; PostgreSQL must be at the current schema (`burnwatch db upgrade`).
    """
    import uvicorn

    from burnwatch.api import create_app
    from burnwatch.config import get_settings

    settings = get_settings()
    if settings.secret_key.get_secret_value() == "dev-only-change-me" and host not in (
        "127.0.0.1",
        "localhost",
    ):
        raise click.UsageError("set BURNWATCH_SECRET_KEY before serving on a non-loopback interface")
    app = create_app(settings, flight_workers=flight_workers, freeze_gc=True)
    click.echo(f"burnwatch web app on http://{host}:{port}/ (database {settings.database_url})")
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False)
