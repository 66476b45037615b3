"""``burnwatch serve``: run the web app and API with uvicorn."""

from __future__ import annotations

from typing import Any

import click


def proxy_options(trusted: list[str]) -> dict[str, Any]:
    """uvicorn's reverse-proxy options: ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are honoured
    only on connections from ``trusted`` (IPs, networks or ``*``), and from nobody by default —
    a client talking to the server directly must not choose the IP the login limiter sees."""
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    return {"proxy_headers": True, "forwarded_allow_ips": list(trusted)}


#: Shortest ``BURNWATCH_SECRET_KEY`` accepted on a non-loopback interface (32 characters of
#: ``secrets.token_urlsafe`` carry ~190 bits; the key signs every session and API token).
MIN_SECRET_KEY = 32
DEV_SECRET_KEY = "dev-only-change-me"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secret_key_problem(host: str, key: str) -> str | None:
    """Why ``key`` may not sign sessions when serving on ``host``, or None: on a non-loopback
    interface it must not be the development key and must have at least
    :data:`MIN_SECRET_KEY` characters; on loopback (development) anything goes."""
    if is_loopback(host):
        return None
    if key == DEV_SECRET_KEY:
        return f"set BURNWATCH_SECRET_KEY before serving on a non-loopback interface ({host})"
    if len(key) < MIN_SECRET_KEY:
        return (
            f"BURNWATCH_SECRET_KEY has {len(key)} characters; serving on {host} needs at least "
            f"{MIN_SECRET_KEY} (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return None


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
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="IPS",
    help="Comma-separated IPs/networks of the reverse proxies whose X-Forwarded-For and "
    "X-Forwarded-Proto are trusted ('*' = any peer). Default: BURNWATCH_FORWARDED_ALLOW_IPS, "
    "else none.",
)
def serve(host: str, port: int, flight_workers: int, log_level: str, forwarded_allow_ips: str | None) -> None:
    """Serve the map, case, upload and review pages, the REST API and OGC API Features.

    Settings come from BURNWATCH_* variables (database URL, secret key, data folder,
    upload cap, session length, basemap tile URL, trusted proxies). SQLite databases are
    migrated on start; PostgreSQL must be at the current schema (`burnwatch db upgrade`).
    """
    import uvicorn

    from burnwatch.api import create_app
    from burnwatch.config import get_settings, parse_proxy_addresses
    from burnwatch.errors import ConfigError

    settings = get_settings()
    problem = secret_key_problem(host, settings.secret_key.get_secret_value())
    if problem:
        raise click.UsageError(problem)
    try:
        trusted = (
            settings.forwarded_allow_ips
            if forwarded_allow_ips is None
            else parse_proxy_addresses(forwarded_allow_ips)
        )
    except ConfigError as exc:
        raise click.BadParameter(exc.message, param_hint="--forwarded-allow-ips") from exc
    app = create_app(settings, flight_workers=flight_workers, freeze_gc=True)
    click.echo(f"burnwatch web app on http://{host}:{port}/ (database {settings.database_url})")
    if trusted:
        click.echo(f"trusting X-Forwarded-For/-Proto from {', '.join(trusted)}")
    uvicorn.run(app, host=host, port=port, log_level=log_level, **proxy_options(trusted))
