"""Streaming uploads with a size cap checked while the bytes arrive (not after).

Bodies are sent raw (``Content-Type: application/zip``, ``image/jpeg`` ...) with the file
name in the ``filename`` query parameter, so nothing is buffered in memory or spooled by a
multipart parser before the cap applies.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import Request

from burnwatch.errors import InputError, TooLargeError

_SAFE = re.compile(r"^[\w][\w .()+-]{0,127}$", re.UNICODE)


def safe_filename(name: str | None, default: str) -> str:
    """A plain file name (no directories, no ``..``, no control characters); InputError else."""
    name = (name or default).strip()
    if "/" in name or "\\" in name or name.startswith(".") or ".." in name or not _SAFE.match(name):
        raise InputError(f"file name {name!r} is not allowed (plain names only, no paths)")
    return name


def max_upload_bytes(request: Request) -> int:
    return int(request.app.state.settings.max_upload_mb) * 1024 * 1024


async def stream_to_file(request: Request, dest: Path, max_bytes: int, *, name: str | None = None) -> int:
    """Write the request body to ``dest``; TooLargeError (413) as soon as it passes
    ``max_bytes`` (or at once when Content-Length already says so). Errors name the file as
    uploaded (``name``; default ``dest``'s name). Returns bytes written."""
    shown = name or dest.name
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise TooLargeError(f"upload is {int(declared)} bytes, limit {max_bytes}", path=shown)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    written = 0
    try:
        with part.open("wb") as fh:
            async for chunk in request.stream():
                written += len(chunk)
                if written > max_bytes:
                    raise TooLargeError(f"upload passed the {max_bytes} byte limit", path=shown)
                fh.write(chunk)
        if written == 0:
            raise InputError("empty upload", path=shown)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    return written


def inside(base: Path, rel: str) -> Path:
    """``base / rel`` resolved, refusing anything that escapes ``base`` (``../``, absolute)."""
    from burnwatch.errors import NotFoundError

    root = base.resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise NotFoundError(f"{rel}: outside the allowed folder")
    return target
