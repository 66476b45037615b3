"""Hotspots: filtered GeoJSON pages and exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from burnwatch.api import queries
from burnwatch.api.auth import CASE_ROLES, STAFF, Principal, allow, db_session, principal
from burnwatch.api.routes.common import (
    Offset,
    check_format,
    export_file,
    file_response,
    filter_params,
    first_read,
    scoped,
    streamed,
)

router = APIRouter(tags=["hotspots"])


@router.get("/api/hotspots", dependencies=[allow(*STAFF)], response_model=None)
def list_hotspots(
    f: Annotated[queries.Filters, Depends(filter_params)],
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 1000,
    offset: Offset = 0,
    footprints: bool = False,
    count: bool = False,
) -> Response:
    """Hotspots (newest first) as GeoJSON points (or footprint polygons), WGS84."""
    f = scoped(f, p)
    if footprints:
        rows, _ = queries.hotspots(db, f, limit, offset, count=False)
        features = [queries.hotspot_feature(r, footprint=True) for r in rows]
    else:
        features = queries.hotspot_points(db, f, limit, offset)
    members: dict[str, Any] = {"numberReturned": len(features)}
    if count:
        members["numberMatched"] = queries.count_hotspots(db, f)
    return Response(queries.feature_collection(features, **members), media_type="application/geo+json")


@router.get("/api/hotspots/export.{fmt}", dependencies=[allow(*CASE_ROLES)], response_model=None)
def export_hotspots(
    fmt: str,
    request: Request,
    f: Annotated[queries.Filters, Depends(filter_params)],
    p: Annotated[Principal, Depends(principal)],
) -> Response:
    """Every matching hotspot (newest first) as GeoJSON/GeoPackage (the shared hotspot schema),
    CSV or KML: read from the database a page at a time, CSV/GeoJSON/KML streamed as written."""
    from burnwatch.api.export_stream import hotspot_chunks, write_hotspots_gpkg

    check_format(fmt)
    pages = first_read(queries.hotspot_pages(request.app.state.sessions, scoped(f, p)))
    if fmt != "gpkg":
        return streamed(fmt, "hotspots", hotspot_chunks(fmt, pages))
    path, task = export_file(fmt, "hotspots")
    write_hotspots_gpkg(pages, path)
    return file_response(path, fmt, task)
