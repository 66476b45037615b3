"""The project's errors: one root, subclasses per kind of failure.

Every error carries a message meant for a person ("<file>: <problem>") and the HTTP status
the web layer maps it to. Domain code never imports the web framework; ``burnwatch.api``
reads :attr:`BurnwatchError.http_status` instead.
"""

from __future__ import annotations

from pathlib import Path


class BurnwatchError(Exception):
    """Root of every error burnwatch raises on purpose."""

    http_status: int = 500

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.message = f"{self.path}: {message}" if self.path else message
        super().__init__(self.message)


class ConfigError(BurnwatchError):
    """Settings are missing or invalid."""

    http_status = 500


class InputError(BurnwatchError, ValueError):
    """A user-supplied input (file, AOI, CSV row, parameter) is unusable."""

    http_status = 422


class CorruptFileError(InputError):
    """A file is truncated, not the format it claims, or otherwise unreadable."""


class CRSError(InputError):
    """A coordinate reference system is missing, unknown or inconsistent."""


class EmptyAOIError(InputError):
    """An area of interest is empty, degenerate or does not intersect the data."""


class TooLargeError(InputError):
    """An upload or image exceeds a configured size limit (incl. decompression bombs)."""

    http_status = 413


class SourceError(BurnwatchError):
    """A remote data provider failed (after retries) or returned nothing usable."""

    http_status = 502


class AuthError(SourceError):
    """A provider rejected our credentials."""

    http_status = 502


class NoDataError(SourceError):
    """A provider answered, but has no data for the request."""

    http_status = 404


class ModelError(BurnwatchError):
    """A model file is missing, fails its checksum, or cannot be run."""


class NotFoundError(BurnwatchError, LookupError):
    """A requested record does not exist."""

    http_status = 404


class PermissionDeniedError(BurnwatchError, PermissionError):
    """The acting user may not do this."""

    http_status = 403


class AuthenticationError(BurnwatchError):
    """Login failed or the session/token is missing or expired."""

    http_status = 401


class ConflictError(BurnwatchError):
    """The request conflicts with stored state (e.g. a forbidden case transition)."""

    http_status = 409


class RateLimitedError(BurnwatchError):
    """Too many attempts; try again later."""

    http_status = 429


class IntegrityError(BurnwatchError):
    """Stored data fails verification (e.g. a broken audit hash chain)."""

    http_status = 500
