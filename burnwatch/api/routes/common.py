"""Query parameters and helpers shared by the route modules."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import Path as PathParam
from fastapi import Query
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, StreamingResponse

from burnwatch.api.auth import Principal, province_scope
from burnwatch.api.queries import OUT_OF_CALENDAR, Filters, parse_bbox
from burnwatch.errors import InputError
from burnwatch.types import utc

#: Ids are INTEGER columns (int4 on PostgreSQL): nothing outside 1..2**31 - 1 can exist, and
#: no page can start past the last possible row.
MAX_ID = 2**31 - 1
RowId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="a row id (1 to 2**31 - 1)")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="rows to skip (0 to 2**31 - 1)")]

T = TypeVar("T")
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "csv": "text/csv; charset=utf-8",
    "kml": "application/vnd.google-earth.kml+xml",
}


def filter_params(
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS84)")] = None,
    start: Annotated[datetime | None, Query(description="UTC, inclusive")] = None,
    end: Annotated[datetime | None, Query(description="UTC, exclusive")] = None,
    province: Annotated[str | None, Query(max_length=128)] = None,
    source: Annotated[str | None, Query(max_length=32, description="firms, sentinel2, drone ...")] = None,
    status: Annotated[str | None, Query(max_length=24, description="case state")] = None,
    min_confidence: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
) -> Filters:
    return Filters(
        bbox=parse_bbox(bbox),
        start=utc_param("start", start),
        end=utc_param("end", end),
        province=province,
        source=source,
        status=status,
        min_confidence=min_confidence,
    )


def utc_param(name: str, value: datetime | None) -> datetime | None:
    """``value`` in UTC; InputError when it lies outside the calendar in UTC (years 1-9999),
    e.g. ``0001-01-01T00:00:00+05:00``."""
    if value is None:
        return None
    try:
        return utc(value)
    except OverflowError as exc:
        raise InputError(f"{name} {value.isoformat()} {OUT_OF_CALENDAR}") from exc


def scoped(f: Filters, p: Principal) -> Filters:
    """``f`` with the caller's province scope applied."""
    from dataclasses import replace

    return replace(f, province=province_scope(p, f.province))


def check_format(fmt: str) -> None:
    if fmt not in MEDIA_TYPES:
        raise InputError(f"unsupported export format {fmt!r} (use {', '.join(MEDIA_TYPES)})")


def first_read(pages: Iterator[T]) -> Iterator[T]:
    """``pages`` with the first one read now, in the route: a database error then is a JSON
    error answer, not a response cut short after its headers."""
    first = list(islice(pages, 1))
    return chain(first, pages)


def streamed(fmt: str, stem: str, chunks: Iterator[str]) -> StreamingResponse:
    """An export streamed as it is written (no size known in advance, no temporary file)."""
    headers = {"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'}
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[fmt], headers=headers)


def export_file(fmt: str, stem: str) -> tuple[Path, BackgroundTask]:
    """A fresh temporary path ``<tmp>/<stem>.<fmt>`` and the task that removes it afterwards."""
    check_format(fmt)
    folder = Path(tempfile.mkdtemp(prefix="burnwatch-export-"))

    def _cleanup() -> None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)

    return folder / f"{stem}.{fmt}", BackgroundTask(_cleanup)


def file_response(path: Path, fmt: str, task: BackgroundTask) -> FileResponse:
    return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=path.name, background=task)
