"""Map the project's errors to HTTP responses: ``{"error": "<kind>", "detail": "<message>"}``.

Domain code never imports FastAPI; each :class:`~burnwatch.errors.BurnwatchError` subclass
carries its ``http_status`` and this module turns it into a JSON answer (titiler/pygeoapi
style: one exception-class -> status table, here stored on the classes themselves).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

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
