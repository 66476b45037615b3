"""One HTTP helper for every remote source: retries with exponential backoff on 429/5xx.

The policy follows sentinelhub-py's download handlers and RFC 9110: a 429 or any 5xx, a
connection error or a timeout is retried up to ``settings.http_retries`` times, waiting
``http_backoff_s * 2**attempt`` seconds (optionally with up to 50 % random jitter) or the
server's ``Retry-After`` (seconds or an HTTP date), whichever is longer, capped at
``max_wait_s``. 401/403 raise :class:`AuthError` at once; other 4xx raise
:class:`SourceError` at once. Exhausted retries raise :class:`SourceError` naming the URL
(secrets replaced by ``***``), the last status and the number of attempts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from burnwatch.config import Settings, get_settings
from burnwatch.errors import AuthError, SourceError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))


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
    **kwargs: Any,
) -> requests.Response:
    """Send one HTTP request, retrying temporary failures; return the successful response.

    ``kwargs`` go to :meth:`requests.Session.request` (``params``, ``json``, ``data``,
    ``headers``...); ``timeout`` defaults to ``settings.http_timeout_s``. ``secrets`` are
    strings (API keys embedded in the URL) never to appear in logs or error messages.
    """
    cfg = settings or get_settings()
    retries = cfg.http_retries if retries is None else retries
    backoff = cfg.http_backoff_s if backoff_s is None else backoff_s
    secrets = tuple(secrets)
    shown = redact(url, secrets)
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
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_problem = f"{type(exc).__name__}: {redact(str(exc), secrets)}"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise AuthError(
                        f"{method} {shown}: HTTP {status}, credentials rejected{_snippet(response, secrets)}"
                    )
                if status < 400:
                    return response
                if status not in RETRY_STATUSES:
                    raise SourceError(f"{method} {shown}: HTTP {status}{_snippet(response, secrets)}")
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
    raise SourceError(f"{method} {shown}: gave up after {attempts} attempt(s), last {last_problem}")


def get(url: str, **kwargs: Any) -> requests.Response:
    """``request_with_retry("GET", url, ...)``."""
    return request_with_retry("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> requests.Response:
    """``request_with_retry("POST", url, ...)``."""
    return request_with_retry("POST", url, **kwargs)
