"""Web API: auth, filters, cases, evidence, exports, OGC API Features (SQLite and PostGIS)."""

from __future__ import annotations

import json

import pytest
from apifixtures import HY, TB, ApiEnv, api_fixture, assign, gps_jpeg  # noqa: F401
from dbfixtures import _fast_password_hashing, db_url, pg_database, sqlite_template  # noqa: F401


def test_token_and_me(api: ApiEnv) -> None:
    r = api.client.get("/api/me", headers=api.headers("insp"))
    assert r.status_code == 200
    assert r.json() == {"username": "insp", "role": "inspector", "province": HY, "full_name": ""}
    bad = api.client.post("/api/token", json={"username": "insp", "password": "nope-nope"})
    assert bad.status_code == 401
    assert bad.json() == {"error": "authentication", "detail": "wrong username or password"}


def test_incident_filters_and_province_scope(api: ApiEnv) -> None:
    h = api.headers("analyst")
    fc = api.client.get("/api/incidents", headers=h).json()
    assert fc["numberMatched"] == 2
    assert {f["properties"]["province"] for f in fc["features"]} == {HY, TB}
    only_hy = api.client.get("/api/incidents", params={"bbox": "106.0,20.6,106.1,20.7"}, headers=h).json()
    assert [f["id"] for f in only_hy["features"]] == [api.incidents[HY]]
    firms = api.client.get("/api/incidents", params={"source": "firms"}, headers=h).json()
    assert [f["id"] for f in firms["features"]] == [api.incidents[HY]]
    conf = api.client.get("/api/incidents", params={"min_confidence": 0.95}, headers=h).json()
    assert all(f["properties"]["confidence"] >= 0.95 for f in conf["features"])
    day2 = api.client.get("/api/incidents", params={"start": "2024-03-02T00:00:00Z"}, headers=h).json()
    assert [f["id"] for f in day2["features"]] == [api.incidents[TB]]
    new = api.client.get("/api/incidents", params={"status": "new"}, headers=h).json()
    assert new["numberMatched"] == 2
    # an inspector sees only their province, and may not ask for another one
    hi = api.headers("insp")
    mine = api.client.get("/api/incidents", headers=hi).json()
    assert [f["id"] for f in mine["features"]] == [api.incidents[HY]]
    assert api.client.get("/api/incidents", params={"province": TB}, headers=hi).status_code == 403
    assert api.client.get(f"/api/incidents/{api.incidents[TB]}", headers=hi).status_code == 404
    assert api.client.get(f"/api/cases/{api.cases[TB]}", headers=hi).status_code == 404
    hs = api.client.get("/api/hotspots", headers=hi, params={"count": True}).json()
    assert hs["numberMatched"] == 2 and {f["properties"]["source"] for f in hs["features"]} == {
        "sentinel2",
        "firms",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"province": "' OR 1=1 --"},
        {"source": "x'; DROP TABLE hotspots; --"},
        {"status": "new' OR '1'='1"},
        {"province": '"; SELECT * FROM users; --'},
    ],
)
def test_sql_metacharacters_are_harmless(api: ApiEnv, params: dict[str, str]) -> None:
    h = api.headers("admin")
    for path in ("/api/incidents", "/api/hotspots"):
        r = api.client.get(path, params=params, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["features"] == []
    # the tables are still there
    assert len(api.client.get("/api/hotspots", headers=h).json()["features"]) == 3


def test_bad_filters_are_clear_422(api: ApiEnv) -> None:
    h = api.headers("admin")
    r = api.client.get("/api/incidents", params={"bbox": "1,2,3"}, headers=h)
    assert r.status_code == 422 and "bbox" in r.json()["detail"]
    r = api.client.get("/api/incidents", params={"min_confidence": 2}, headers=h)
    assert r.status_code == 422 and r.json()["error"] == "input"


def test_case_workflow_with_photo_evidence(api: ApiEnv) -> None:
    case_id = api.cases[HY]
    assign(api.settings.database_url, case_id, "insp")
    h = api.headers("insp")
    mine = api.client.get("/api/cases", params={"mine": True}, headers=h).json()
    assert [c["id"] for c in mine] == [case_id]
    # an inspector may not close or re-assign, and the workflow forbids skipping steps
    r = api.client.post(
        f"/api/cases/{case_id}/transition", json={"to_state": "confirmed_burning", "reason": "x"}, headers=h
    )
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    ok = api.client.post(
        f"/api/cases/{case_id}/transition", json={"to_state": "in_inspection", "reason": "on site"}, headers=h
    )
    assert ok.status_code == 200 and ok.json()["state"] == "in_inspection"
    photo = gps_jpeg(106.0510, 20.6500)  # ~50 m east of the incident
    up = api.client.post(
        f"/api/cases/{case_id}/evidence",
        params={"filename": "IMG_0001.jpg"},
        content=photo,
        headers={**h, "Content-Type": "image/jpeg"},
    )
    assert up.status_code == 200, up.text
    ev = up.json()
    assert 20 < ev["distance_m"] < 120
    got = api.client.get(ev["url"], headers=h)
    assert got.status_code == 200 and got.content == photo
    assert api.client.get(ev["url"], headers=api.headers("insp_tb")).status_code == 404
    note = api.client.post(f"/api/cases/{case_id}/notes", json={"text": "Rơm đang cháy"}, headers=h)
    assert note.status_code == 200
    done = api.client.post(
        f"/api/cases/{case_id}/transition",
        json={"to_state": "confirmed_burning", "reason": "burning seen"},
        headers=h,
    )
    assert done.status_code == 200
    case = api.client.get(f"/api/cases/{case_id}", headers=h).json()
    assert case["state"] == "confirmed_burning"
    assert [x["type"] for x in case["history"]] == ["event", "event", "event", "evidence", "note", "event"]
    closing = api.client.post(
        f"/api/cases/{case_id}/transition", json={"to_state": "closed", "reason": "fined"}, headers=h
    )
    assert closing.status_code == 403


def test_exports(api: ApiEnv) -> None:
    h = api.headers("analyst")
    gj = api.client.get("/api/incidents/export.geojson", headers=h)
    assert gj.status_code == 200 and gj.headers["content-type"].startswith("application/geo+json")
    assert len(json.loads(gj.content)["features"]) == 2
    csv = api.client.get("/api/hotspots/export.csv", headers=h)
    assert csv.status_code == 200 and csv.text.count("\n") == 4
    kml = api.client.get("/api/incidents/export.kml", headers=h)
    assert kml.status_code == 200 and b"<kml" in kml.content
    gpkg = api.client.get("/api/hotspots/export.gpkg", headers=h)
    assert gpkg.status_code == 200 and gpkg.content[:15] == b"SQLite format 3"
    assert api.client.get("/api/incidents/export.exe", headers=h).status_code == 422


def test_ogc_api_features(api: ApiEnv) -> None:
    landing = api.client.get("/", headers={"Accept": "application/json"})
    assert landing.status_code == 200
    rels = {link["rel"] for link in landing.json()["links"]}
    assert {"conformance", "data", "service-desc"} <= rels
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
        in api.client.get("/conformance").json()["conformsTo"]
    )
    h = api.headers("viewer")  # the read-only public role may read published layers
    cols = api.client.get("/collections", headers=h).json()
    assert {c["id"] for c in cols["collections"]} == {"incidents", "hotspots"}
    page = api.client.get("/collections/hotspots/items", params={"limit": 2}, headers=h)
    assert page.headers["content-type"].startswith("application/geo+json")
    body = page.json()
    assert body["numberMatched"] == 3 and body["numberReturned"] == 2
    nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
    assert nxt and "offset=2" in nxt[0]
    rest = api.client.get(nxt[0].replace("http://127.0.0.1", ""), headers=h).json()
    assert rest["numberReturned"] == 1 and not [link for link in rest["links"] if link["rel"] == "next"]
    box = api.client.get(
        "/collections/incidents/items", params={"bbox": "106.3,20.4,106.4,20.5"}, headers=h
    ).json()
    assert [f["id"] for f in box["features"]] == [api.incidents[TB]]
    when = api.client.get(
        "/collections/hotspots/items", params={"datetime": "2024-03-02T00:00:00Z/.."}, headers=h
    ).json()
    assert when["numberMatched"] == 1
    one = api.client.get(f"/collections/incidents/items/{api.incidents[HY]}", headers=h)
    assert one.status_code == 200 and one.json()["type"] == "Feature"
    assert api.client.get("/collections/nope/items", headers=h).status_code == 404
    assert api.client.get("/collections/incidents/items/999999", headers=h).status_code == 404
    doc = api.client.get("/openapi.json").json()
    assert "/collections/{collection_id}/items" in doc["paths"] and "/api/incidents" in doc["paths"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"bbox": "105.5,20.0,106.6,21.0"},
        {"status": "new"},
        {"province": HY},
        {"limit": "1", "offset": "1"},
    ],
    ids=["all", "bbox", "status", "province", "second-page"],
)
def test_incident_pages_equal_the_orm_features(api: ApiEnv, params: dict[str, str]) -> None:
    """The served fast path (columns, SQL-formatted times, GEOS GeoJSON) writes exactly the
    features the ORM objects give, with the latest case of each incident."""
    from burnwatch.api import queries
    from burnwatch.store.db import session_scope
    from burnwatch.store.models import Case

    with session_scope(api.settings.database_url) as s:  # a second, later case for Hưng Yên
        s.add(Case(incident_id=api.incidents[HY], state="assigned"))
    h = api.headers("admin")
    fc = api.client.get("/api/incidents", params=params, headers=h)
    assert fc.status_code == 200 and fc.headers["content-type"].startswith("application/geo+json")
    body = fc.json()
    f = queries.Filters(
        bbox=queries.parse_bbox(params.get("bbox")),
        status=params.get("status"),
        province=params.get("province"),
    )
    with session_scope(api.settings.database_url) as s:
        rows, total = queries.incidents(s, f, int(params.get("limit", 1000)), int(params.get("offset", 0)))
        expected = json.loads(json.dumps([queries.incident_feature(i, c) for i, c in rows]))
    assert rows and body["numberMatched"] == total and body["numberReturned"] == len(rows)
    assert body["features"] == expected


def test_hotspot_pages_are_the_same_whichever_index_sqlite_walks(
    api: ApiEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big boxes walk the time index newest first (SQLite); the page must not change."""
    from burnwatch.api import queries
    from burnwatch.store.db import session_scope

    big = queries.Filters(bbox=(100.0, 5.0, 110.0, 25.0))
    small = queries.Filters(bbox=(100.0, 5.0, 100.1, 5.1))
    with session_scope(api.settings.database_url) as s:
        assert queries._newest_first_is_cheaper(s, big, 1) is True  # 3 matches >= sqrt(3 * 1) + 1
        assert queries._newest_first_is_cheaper(s, big, 1000) is False
        assert queries._newest_first_is_cheaper(s, small, 1) is False
        pages = {}
        for forced in (True, False):
            monkeypatch.setattr(queries, "_newest_first_is_cheaper", lambda *a, forced=forced: forced)
            pages[forced] = [queries.hotspot_points(s, big, n, o) for n, o in ((1000, 0), (2, 0), (2, 1))]
    assert pages[True] == pages[False] and len(pages[True][0]) == 3
    assert [f["properties"]["time"] for f in pages[True][0]] == sorted(
        (f["properties"]["time"] for f in pages[True][0]), reverse=True
    )


@pytest.mark.postgis
def test_postgres_sessions_plan_each_query_with_its_own_parameters(pg_database: str) -> None:  # noqa: F811
    """A generic plan (after psycopg prepares a statement) would serve every bbox with the plan
    of an average box; our PostgreSQL connections ask for custom plans."""
    from sqlalchemy import text

    from burnwatch.store.db import get_engine

    with get_engine(pg_database).connect() as conn:
        assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
