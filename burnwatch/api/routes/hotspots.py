"""Hotspots: filtered GeoJSON pages and exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, Response

from burnwatch.api import queries
from burnwatch.api.auth import CASE_ROLES, STAFF, Principal, allow, db_session, principal
from burnwatch.api.routes.common import Offset, export_file, file_response, filter_params, scoped

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


@router.get("/api/hotspots/export.{fmt}", dependencies=[allow(*CASE_ROLES)])
def export_hotspots(
    fmt: str,
    f: Annotated[queries.Filters, Depends(filter_params)],
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> FileResponse:
    """Hotspots as GeoJSON/GeoPackage (the shared hotspot schema), CSV or KML."""
    from burnwatch.incidents.exports import export_hotspots as write

    path, task = export_file(fmt, "hotspots")
    rows, _ = queries.hotspots(db, scoped(f, p), queries.MAX_LIMIT, 0, count=False)
    write(rows, path)
    return file_response(path, fmt, task)
