"""One HTTP helper for every remote source: retries with exponential backoff on 429/5xx.

The policy follows sentinelhub-py's download handlers and RFC 9110: a 429 or any 5xx, a
connection error, a timeout or a body cut off mid-transfer (fewer bytes than
``Content-Length``, a broken chunked stream) is retried up to ``settings.http_retries``
times, waiting ``http_backoff_s * 2**attempt`` seconds (optionally with up to 50 % random
jitter) or the server's ``Retry-After`` (seconds or an HTTP date), whichever is longer,
capped at ``max_wait_s``. 401/403 raise :class:`AuthError` at once; other 4xx raise
:class:`SourceError` at once. Exhausted retries raise :class:`SourceError` naming the
service (when given), the URL (secrets replaced by ``***``), the last problem and the number
of attempts. The whole body is read inside the retry loop, so a successful return always
carries complete content.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any

import requests
import urllib3.exceptions

from burnwatch.config import Settings, get_settings
from burnwatch.errors import AuthError, SourceError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))

#: Transport failures worth another attempt: no connection, no answer in time, or an answer
#: cut off mid-body (requests wraps urllib3's ProtocolError/IncompleteRead as
#: ChunkedEncodingError; the raw ones are listed in case a read escapes the wrapping).
RETRY_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.DecodeError,
    HTTPException,
)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _snippet(response: requests.Response, secrets: Iterable[str | None]) -> str:
    body = redact(response.text[:300].strip().replace("\n", " "), secrets)
    return f": {body}" if body else ""


def _transport_problem(exc: BaseException, secrets: Iterable[str | None]) -> str:
    """A one-line description of a transport failure, secrets redacted."""
    cut_off = (
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.ProtocolError,
        HTTPException,
    )
    text = redact(str(exc), secrets)
    if not isinstance(exc, cut_off):
        return f"{type(exc).__name__}: {text}"
    short = re.search(r"IncompleteRead\(([^)]*)\)", text)
    return f"response cut off mid-body ({short.group(1) if short else text})"


def request_with_retry(
    method: str,
    url: str,
    *,
    settings: Settings | None = None,
    session: requests.Session | None = None,
    secrets: Iterable[str | None] = (),
    retries: int | None = None,
    backoff_s: float | None = None,
    jitter: bool = False,
    max_wait_s: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    service: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send one HTTP request, retrying temporary failures; return the successful response.

    ``kwargs`` go to :meth:`requests.Session.request` (``params``, ``json``, ``data``,
    ``headers``...); ``timeout`` defaults to ``settings.http_timeout_s``. ``secrets`` are
    strings (API keys embedded in the URL) never to appear in logs or error messages.
    ``service`` (e.g. ``"FIRMS"``) prefixes error messages. The body is always read in full
    before returning (``stream=True`` only changes how it is downloaded).
    """
    cfg = settings or get_settings()
    retries = cfg.http_retries if retries is None else retries
    backoff = cfg.http_backoff_s if backoff_s is None else backoff_s
    secrets = tuple(secrets)
    shown = redact(url, secrets)
    label = f"{service}: " if service else ""
    kwargs.setdefault("timeout", cfg.http_timeout_s)
    http = session or requests.Session()
    attempts = retries + 1
    last_problem = "no attempt made"
    try:
        for attempt in range(attempts):
            wait = backoff * (2**attempt)
            if jitter:
                wait *= 1.0 + 0.5 * random.random()
            try:
                response = http.request(method, url, **kwargs)
                response.content  # noqa: B018 - read the whole body here, where a cut-off is retried
            except RETRY_EXCEPTIONS as exc:
                last_problem = _transport_problem(exc, secrets)
            else:
                status = response.status_code
                if status in (401, 403):
                    snippet = _snippet(response, secrets)
                    raise AuthError(f"{label}{method} {shown}: HTTP {status}, credentials rejected{snippet}")
                if status < 400:
                    return response
                if status not in RETRY_STATUSES:
                    raise SourceError(f"{label}{method} {shown}: HTTP {status}{_snippet(response, secrets)}")
                last_problem = f"HTTP {status}{_snippet(response, secrets)}"
                server_wait = retry_after_s(response.headers.get("Retry-After"))
                if server_wait is not None:
                    wait = max(wait, server_wait)
            if attempt + 1 < attempts:
                wait = min(wait, max_wait_s)
                log.warning(
                    "%s %s failed (%s); retry %d/%d in %.2f s",
                    method,
                    shown,
                    last_problem,
                    attempt + 1,
                    retries,
                    wait,
                )
                sleep(wait)
    finally:
        if session is None:
            http.close()
    raise SourceError(f"{label}{method} {shown}: gave up after {attempts} attempt(s), last {last_problem}")


def get(url: str, **kwargs: Any) -> requests.Response:
    """``request_with_retry("GET", url, ...)``."""
    return request_with_retry("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> requests.Response:
    """``request_with_retry("POST", url, ...)``."""
    return request_with_retry("POST", url, **kwargs)
