"""Map the project's errors to HTTP responses: ``{"error": "<kind>", "detail": "<message>"}``.

Domain code never imports FastAPI; each :class:`~burnwatch.errors.BurnwatchError` subclass
carries its ``http_status`` and this module turns it into a JSON answer (titiler/pygeoapi
style: one exception-class -> status table, here stored on the classes themselves).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from burnwatch.errors import BurnwatchError

log = logging.getLogger(__name__)


def error_kind(exc: BaseException) -> str:
    """``ConflictError`` -> ``conflict``; ``TooLargeError`` -> ``too_large``."""
    name = type(exc).__name__.removesuffix("Error") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def error_body(kind: str, detail: Any) -> dict[str, Any]:
    return {"error": kind, "detail": detail}


HTTP_KINDS = {
    400: "bad_request",
    401: "authentication",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "input",
    429: "rate_limited",
}


def _wants_page(request: Request) -> bool:
    """A browser navigating to a page (not the API, not a script)."""
    return (
        request.method == "GET"
        and not request.url.path.startswith(("/api/", "/collections", "/conformance"))
        and "text/html" in request.headers.get("accept", "")
    )


INTERNAL_DETAIL = "internal server error (logged on the server)"


def install_error_handlers(app: FastAPI, headers: dict[str, str] | None = None) -> None:
    """Register the handlers on ``app``. ``headers`` are added to the catch-all 500 answer
    (it is sent from outside the app's middleware: the security headers go here too)."""

    @app.exception_handler(BurnwatchError)
    async def _burnwatch(request: Request, exc: BurnwatchError) -> Response:
        status = int(getattr(exc, "http_status", 500))
        if status == 401 and _wants_page(request):
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message, exc_info=exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(error_kind(exc), exc.message), status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = HTTP_KINDS.get(exc.status_code, "http")
        return JSONResponse(
            error_body(kind, exc.detail), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse(error_body("input", problems), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Anything not handled above: the traceback goes to the log, the client gets the
        documented error shape and nothing of the internals."""
        log.error("%s %s: unhandled %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
        return JSONResponse(error_body("internal", INTERNAL_DETAIL), status_code=500, headers=headers)


# --- NUL characters -----------------------------------------------------------------------
#
# PostgreSQL cannot store NUL in text (psycopg raises DataError), and no name, note or filter
# needs one: a NUL in the URL (RefuseNul, every request) or in a JSON or form body
# (refuse_nul_in_body, every route that takes one) is a 422 before any query runs.

NUL_DETAIL = "text inputs may not contain NUL (\\x00) characters"


def nul_in_pairs(pairs: Iterable[tuple[str, Any]]) -> str | None:
    """The first name whose name or (text) value holds a NUL."""
    return next(
        (k.replace("\x00", "\\x00") for k, v in pairs if "\x00" in k or (isinstance(v, str) and "\x00" in v)),
        None,
    )


def nul_in_json(value: Any) -> str | None:
    """The dotted path of the first string (key or value) holding a NUL in a JSON value."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return where or "(body)"
        if isinstance(item, dict):
            for k, v in item.items():
                name = f"{where}.{k}" if where else str(k)
                if "\x00" in str(k):
                    return name.replace("\x00", "\\x00")
                stack.append((name, v))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))
    return None


def nul_in_url(scope: Scope) -> str | None:
    """Where a NUL is in the request's path or query string (percent-encoded or not)."""
    from urllib.parse import parse_qsl

    if "\x00" in scope.get("path", ""):
        return "the URL path"
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    name = nul_in_pairs(parse_qsl(query, keep_blank_values=True))
    return f"query parameter {name!r}" if name is not None else None


class RefuseNul:
    """ASGI middleware: 422 for a NUL character in the URL path or query string of any
    request (API routes, pages and static files alike)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = nul_in_url(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        answer = JSONResponse(error_body("input", f"{NUL_DETAIL}: {where}"), status_code=422)
        await answer(scope, receive, send)


async def refuse_nul_in_body(request: Request) -> None:
    """App-wide dependency: InputError (422) for a NUL in the JSON or form body of a route
    that takes one. It reads what FastAPI has already read and parsed for the route (cached on
    the request); raw uploads (photos, flight zips: no body parameter) are never touched."""
    import json

    from burnwatch.errors import InputError

    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None:
        return
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        name = nul_in_pairs((await request.form()).multi_items())
        where = f"form field {name!r}" if name is not None else None
    else:
        try:
            where = nul_in_json(json.loads(await request.body() or b"null"))
        except (ValueError, RecursionError):
            return  # not JSON: the route's own validation answers
        where = f"JSON field {where!r}" if where is not None else None
    if where is not None:
        raise InputError(f"{NUL_DETAIL}: {where}")
