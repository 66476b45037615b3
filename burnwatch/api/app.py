"""The web application: ``create_app(settings)`` builds a FastAPI app over the library.

Routes are thin (:mod:`burnwatch.api.routes`); the store, case workflow, exports and flight
ingest do the work. State kept on ``app.state``: settings, a session factory for
``settings.database_url``, the clock (``time.time``; tests inject a fake one), the login
limiter, the flight job runner and the Jinja2 templates.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from burnwatch import __version__
from burnwatch.config import Settings, get_settings

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "publish" / "static" / "vendor"

_DEFAULT: Any = object()


def content_security_policy(tile_url: str | None) -> str:
    """Scripts, styles and data only from this server (no CDN can be used even by mistake);
    images also from the basemap's origin when a tile URL is configured."""
    from urllib.parse import urlsplit

    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tile_url else parts.netloc
        tiles = f" {parts.scheme}://{host}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{tiles}; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def security_headers(tile_url: str | None) -> dict[str, str]:
    """Headers set on every response (CSP, no framing, no sniffing, same-origin referrers)."""
    return {
        "Content-Security-Policy": content_security_policy(tile_url),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, ORM metadata, templates, ...) out of the
    garbage collector's reach. A full collection otherwise walks all of them in the middle of
    a request: 40-60 ms added to 5 % of the 1,000-feature incident pages (measured,
    docs/api.md). Requests still collect their own garbage. Python's ``gc.freeze``."""
    import gc

    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    detector_factory: Callable[[], Any] | None = _DEFAULT,
    clock: Callable[[], float] = time.time,
    flight_workers: int = 1,
    freeze_gc: bool = False,
) -> FastAPI:
    """Build the app. ``detector_factory`` makes the flight detector (default: the shipped
    model, loaded in the worker processes); ``flight_workers`` = 0 runs detection in the
    job thread (tests with a fake detector). ``freeze_gc``: :func:`freeze_startup_objects`
    when the server starts (``burnwatch serve``; one app per process)."""
    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates

    from burnwatch.api import models  # noqa: F401  (register the app's tables on Base)
    from burnwatch.api.auth import LoginLimiter
    from burnwatch.api.errors import RefuseNul, install_error_handlers, refuse_nul_in_body
    from burnwatch.api.jobs import FlightJobs
    from burnwatch.api.routes import cases, flights, hotspots, incidents, layers, ogc, pages, review
    from burnwatch.store.db import ensure_schema, session_factory

    settings = settings or get_settings()
    if detector_factory is _DEFAULT:
        from burnwatch.flights.ingest import default_detector_factory

        detector_factory = default_detector_factory
    ensure_schema(settings.database_url)
    sessions = session_factory(settings.database_url)
    jobs = FlightJobs(sessions, Path(settings.data_dir) / "flights", detector_factory, workers=flight_workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        if freeze_gc:
            freeze_startup_objects()
        yield
        jobs.shutdown()

    app = FastAPI(
        title="burnwatch",
        version=__version__,
        description="Open-burning hotspots, incidents and cases for inspectors, drone operators, analysts.",
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul_in_body)],
        docs_url=None,  # Swagger UI would load its assets from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.clock = clock
    app.state.login_limiter = LoginLimiter(sessions, clock)
    app.state.jobs = jobs
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    headers = security_headers(settings.tile_url)
    install_error_handlers(app, headers)
    app.add_middleware(RefuseNul)  # inside add_security_headers (added below): its 422s get them too
    for module in (pages, incidents, hotspots, cases, flights, review, layers, ogc):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    if VENDOR.is_dir():
        app.mount("/vendor", StaticFiles(directory=str(VENDOR)), name="vendor")

    @app.middleware("http")
    async def add_security_headers(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if getattr(request.state, "principal", None) is not None:
            # an authenticated answer: no shared or browser cache may keep it (unless the
            # route chose its own policy, e.g. the raster overlays)
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
