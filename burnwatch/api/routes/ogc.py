"""OGC API - Features (Part 1: Core, GeoJSON) for the vector layers, so QGIS and other GIS
clients read incidents and hotspots directly. Coordinates are CRS84 (WGS84 lon/lat).

Landing page ``/?f=json`` (or ``Accept: application/json``), ``/conformance``,
``/collections``, ``/collections/{id}``, ``/collections/{id}/items`` (``bbox``,
``datetime`` instant or interval, ``limit``/``offset`` with ``next`` links) and
``/collections/{id}/items/{fid}``. Spec: OGC 17-069r4.
"""

from __future__ import annotations

from datetime import datetime as dt
from datetime import timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from burnwatch.api import queries
from burnwatch.api.auth import ALL_ROLES, Principal, allow, db_session, principal
from burnwatch.api.routes.common import Offset, RowId, scoped
from burnwatch.errors import InputError, NotFoundError

router = APIRouter(tags=["ogc"])
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
COLLECTIONS = {
    "incidents": "Active burning incidents (clusters of hotspots from every source)",
    "hotspots": "Hotspots from satellites, FIRMS and drone flights",
}
VIETNAM_EXTENT = [102.14, 8.18, 109.46, 23.39]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _geojson(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, media_type=GEOJSON)


@router.get("/", dependencies=[allow(anonymous=True)], response_model=None)
def landing(request: Request, f: str | None = None) -> Response:
    """OGC landing page as JSON (``?f=json`` or an Accept header asking for JSON); people
    with a browser are sent to the map."""
    accept = request.headers.get("accept", "")
    if f != "json" and (f == "html" or "text/html" in accept or "json" not in accept):
        return RedirectResponse("/map", status_code=303)
    base = _base(request)
    return JSONResponse(
        {
            "title": "burnwatch",
            "description": "Open-burning hotspots and incidents (Vietnam)",
            "links": [
                {
                    "href": f"{base}/?f=json",
                    "rel": "self",
                    "type": "application/json",
                    "title": "this document",
                },
                {
                    "href": f"{base}/openapi.json",
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                    "title": "API definition",
                },
                {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json"},
                {"href": f"{base}/collections", "rel": "data", "type": "application/json"},
            ],
        }
    )


@router.get("/conformance", dependencies=[allow(anonymous=True)])
def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


def _collection(base: str, cid: str) -> dict[str, Any]:
    return {
        "id": cid,
        "title": cid,
        "description": COLLECTIONS[cid],
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "extent": {"spatial": {"bbox": [VIETNAM_EXTENT]}, "temporal": {"interval": [[None, None]]}},
        "links": [
            {"href": f"{base}/collections/{cid}", "rel": "self", "type": "application/json"},
            {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": GEOJSON},
        ],
    }


def _check(cid: str) -> None:
    if cid not in COLLECTIONS:
        raise NotFoundError(f"no collection {cid!r} (have {', '.join(COLLECTIONS)})")


@router.get("/collections", dependencies=[allow(*ALL_ROLES)])
def collections(request: Request) -> dict[str, Any]:
    base = _base(request)
    return {
        "links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
        "collections": [_collection(base, c) for c in COLLECTIONS],
    }


@router.get("/collections/{collection_id}", dependencies=[allow(*ALL_ROLES)])
def collection(collection_id: str, request: Request) -> dict[str, Any]:
    _check(collection_id)
    return _collection(_base(request), collection_id)


def instant_or_interval(text: str | None) -> tuple[dt | None, dt | None]:
    """OGC ``datetime`` as [start, end); an instant is that second: [t, t + 1 s)."""
    from datetime import timedelta

    start, end = queries.parse_interval(text)
    if start is not None and end is not None and start == end:
        try:
            end = end + timedelta(seconds=1)
        except OverflowError as exc:
            raise InputError(
                f"datetime {text!r} is out of range: the one-second instant passes the end of year 9999"
            ) from exc
    return start, end


@router.get("/collections/{collection_id}/items", dependencies=[allow(*ALL_ROLES)], response_model=None)
def items(
    collection_id: str,
    request: Request,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
    bbox: Annotated[str | None, Query()] = None,
    datetime: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_LIMIT)] = 100,
    offset: Offset = 0,
) -> Response:
    _check(collection_id)
    start, end = instant_or_interval(datetime)
    f = scoped(queries.Filters(bbox=queries.parse_bbox(bbox), start=start, end=end), p)
    features: list[dict[str, Any]]
    if collection_id == "incidents":
        features, total_i = queries.incident_features(db, f, limit, offset)
        total = total_i or 0
    else:
        hrows, total_h = queries.hotspots(db, f, limit, offset)
        total = total_h or 0
        features = [queries.hotspot_feature(r, footprint=True) for r in hrows]
    base = _base(request)
    params = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit")}
    from urllib.parse import urlencode

    def link(off: int, rel: str) -> dict[str, Any]:
        q = urlencode({**params, "limit": limit, "offset": off})
        return {"href": f"{base}/collections/{collection_id}/items?{q}", "rel": rel, "type": GEOJSON}

    links = [link(offset, "self")]
    if offset + len(features) < total:
        links.append(link(offset + limit, "next"))
    if offset > 0:
        links.append(link(max(0, offset - limit), "prev"))
    body = queries.feature_collection(
        features,
        numberMatched=total,
        numberReturned=len(features),
        timeStamp=dt.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        links=links,
    )
    return Response(body, media_type=GEOJSON)


@router.get("/collections/{collection_id}/items/{fid}", dependencies=[allow(*ALL_ROLES)], response_model=None)
def item(
    collection_id: str,
    fid: RowId,
    request: Request,
    p: Annotated[Principal, Depends(principal)],
    db: Annotated[Session, Depends(db_session)],
) -> JSONResponse:
    _check(collection_id)
    f = scoped(queries.Filters(incident_id=fid if collection_id == "incidents" else None), p)
    feature: dict[str, Any] | None = None
    if collection_id == "incidents":
        rows, _ = queries.incidents(db, f, 1, 0)
        feature = queries.incident_feature(*rows[0]) if rows else None
    else:
        from burnwatch.store.models import HotspotRow

        row = db.get(HotspotRow, fid)
        if row is not None and f.province is not None:
            from burnwatch.store.models import Incident

            inc = db.get(Incident, row.incident_id) if row.incident_id else None
            row = row if inc is not None and inc.province == f.province else None
        feature = queries.hotspot_feature(row, footprint=True) if row is not None else None
    if feature is None:
        raise NotFoundError(f"no feature {fid} in {collection_id}")
    base = _base(request)
    feature["links"] = [
        {"href": f"{base}/collections/{collection_id}/items/{fid}", "rel": "self", "type": GEOJSON},
        {"href": f"{base}/collections/{collection_id}", "rel": "collection", "type": "application/json"},
    ]
    return _geojson(feature)
