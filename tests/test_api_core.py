"""Web API: auth, filters, cases, evidence, exports, OGC API Features (SQLite and PostGIS)."""

from __future__ import annotations

import json

import pytest
from apifixtures import HY, TB, ApiEnv, api_fixture, assign, gps_jpeg, sqlite_api_fixture  # noqa: F401
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


TOO_BIG_IDS = ("2147483648", "99999999999999999999", "0", "-1")


@pytest.mark.parametrize("fid", TOO_BIG_IDS)
def test_ids_and_offsets_outside_the_integer_columns_are_422(api: ApiEnv, fid: str) -> None:
    """Ids are INTEGER columns (int4 on PostgreSQL): an id past 2**31 - 1 (or below 1) and
    an offset past it are input errors, not an overflow deep in the database driver."""
    h = api.headers("admin")
    for method, path in (
        ("GET", f"/api/incidents/{fid}"),
        ("GET", f"/api/cases/{fid}"),
        ("GET", f"/api/evidence/{fid}/file"),
        ("GET", f"/collections/incidents/items/{fid}"),
        ("GET", f"/collections/hotspots/items/{fid}"),
        ("POST", f"/api/cases/{fid}/notes"),
        ("POST", f"/api/review/{fid}"),
    ):
        body = {"verdict": True} if "review" in path else {"text": "x"}
        r = api.client.request(method, path, headers=h, json=body if method == "POST" else None)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert r.json()["error"] == "input", r.text
    for path in ("/api/incidents", "/api/hotspots", "/collections/hotspots/items", "/collections/incidents/items"):
        r = api.client.get(path, params={"offset": fid if fid not in ("0",) else "-1"}, headers=h)
        assert r.status_code == 422 and r.json()["error"] == "input", (path, r.text)
    # the largest id and offset the columns can hold are fine (nothing there)
    assert api.client.get("/api/incidents/2147483647", headers=h).status_code == 404
    last = api.client.get("/api/hotspots", params={"offset": 2147483647, "count": True}, headers=h)
    assert last.status_code == 200 and last.json()["features"] == []


@pytest.mark.parametrize(
    ("path", "params", "word"),
    [
        ("/api/incidents", {"start": "0001-01-01T00:00:00+05:00"}, "start"),
        ("/api/hotspots", {"end": "9999-12-31T23:59:59-05:00"}, "end"),
        ("/api/incidents/export.csv", {"start": "0001-01-01T00:00:00+05:00"}, "start"),
        ("/collections/incidents/items", {"datetime": "9999-12-31T23:59:59Z"}, "datetime"),
        ("/collections/hotspots/items", {"datetime": "0001-01-01T00:00:00+05:00/.."}, "datetime"),
    ],
)
def test_times_past_the_calendar_limits_are_clear_422(
    api: ApiEnv, path: str, params: dict[str, str], word: str
) -> None:
    r = api.client.get(path, params=params, headers=api.headers("analyst"))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "input" and word in r.json()["detail"] and "range" in r.json()["detail"]


def test_times_at_the_calendar_limits_in_utc_still_work(api: ApiEnv) -> None:
    h = api.headers("analyst")
    for params in ({"start": "0001-01-01T00:00:00Z"}, {"end": "9999-12-31T23:59:59Z"}):
        r = api.client.get("/api/incidents", params=params, headers=h)
        assert r.status_code == 200 and r.json()["numberMatched"] == 2, r.text
    r = api.client.get("/collections/hotspots/items", params={"datetime": "../9999-12-31T23:59:59Z"}, headers=h)
    assert r.status_code == 200 and r.json()["numberMatched"] == 3


def test_nul_characters_in_text_inputs_are_refused(api: ApiEnv) -> None:
    """PostgreSQL cannot store NUL in text: it is refused as input (422) before any query,
    in query strings, paths, JSON and form bodies, on every route."""
    h = api.headers("admin")
    case = api.cases[HY]
    attempts = [
        api.client.get("/api/hotspots", params={"province": "\x00"}, headers=h),
        api.client.get("/api/incidents", params={"source": "ab\x00c"}, headers=h),
        api.client.get("/api/cases", params={"state": "new\x00"}, headers=h),
        api.client.get("/api/review/detections", params={"source": "\x00"}, headers=h),
        api.client.get("/collections/incidents/items", params={"datetime": "2024\x00"}, headers=h),
        api.client.get("/api/flights/%00abc", headers=h),
        api.client.get("/static/%00.js"),
        api.client.post(f"/api/cases/{case}/notes", json={"text": "cháy\x00"}, headers=h),
        api.client.post(f"/api/cases/{case}/transition", json={"to_state": "assigned", "reason": "\x00"}, headers=h),
        api.client.post("/api/token", json={"username": "admin\x00", "password": "x"}),
        api.client.post("/api/token", json={"username\x00": "admin", "password": "x"}),
        api.client.post("/login", data={"username": "ad\x00min", "password": "x"}, follow_redirects=False),
    ]
    for r in attempts:
        assert r.status_code == 422, (r.request.url, r.text)
        assert r.json()["error"] == "input" and "NUL" in r.json()["detail"], r.text
    # the same requests without the NUL are fine
    assert api.client.post(f"/api/cases/{case}/notes", json={"text": "cháy"}, headers=h).status_code == 200
    assert api.client.get("/api/hotspots", params={"province": "%00"}, headers=h).status_code == 200
    # raw uploads are binary (full of NUL bytes), even when a client labels them as a form
    # (curl --data-binary does)
    photo = api.client.post(
        f"/api/cases/{case}/evidence",
        params={"filename": "IMG_2.jpg"},
        content=gps_jpeg(106.0510, 20.6500),
        headers={**h, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert photo.status_code == 200, photo.text


def test_unexpected_errors_are_one_json_500_without_internals(
    api: ApiEnv, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    @api.app.get("/api/_boom")
    def boom() -> None:
        raise RuntimeError("secret detail /srv/burnwatch/db.py line 3")

    with TestClient(api.app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        r = client.get("/api/_boom")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "internal", "detail": "internal server error (logged on the server)"}
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    logged = [rec for rec in caplog.records if rec.exc_info and "GET /api/_boom" in rec.getMessage()]
    assert logged and "secret detail" in str(logged[0].exc_info[1])  # type: ignore[index]


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 100)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _jpeg_with_one_rational_gps_time() -> bytes:
    """EXIF GPS whose GPSTimeStamp is one rational instead of three (hour, minute, second)."""
    import io

    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[306] = "2024:03:01 10:00:00"
    exif[0x8825] = {
        1: "N",
        2: (IFDRational(20), IFDRational(39), IFDRational(0)),
        3: "E",
        4: (IFDRational(106), IFDRational(3), IFDRational(0)),
        29: "2024:03:01",
        7: IFDRational(10),
    }
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (100, 50, 20)).save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("bomb.png", lambda: _png_claiming(60000, 60000), ("too large", "3600000000 pixels")),
        ("IMG_time.jpg", _jpeg_with_one_rational_gps_time, ("GPS", "time")),
        ("notes.jpg", lambda: b"not an image at all", ("not a readable image",)),
    ],
    ids=["decompression-bomb", "gps-time-one-rational", "not-an-image"],
)
def test_unreadable_evidence_photos_are_422_naming_the_uploaded_file(
    sqlite_api: ApiEnv, name: str, make: object, words: tuple[str, ...]
) -> None:
    api = sqlite_api
    h = {**api.headers("insp"), "Content-Type": "image/jpeg"}
    body = make()  # type: ignore[operator]
    r = api.client.post(f"/api/cases/{api.cases[HY]}/evidence", params={"filename": name}, content=body, headers=h)
    assert r.status_code == 422, r.text
    out = r.json()
    assert out["error"] == "corrupt_file" and out["detail"].startswith(f"{name}: "), out
    assert all(w in out["detail"] for w in words), out
    assert "/tmp" not in out["detail"] and "burnwatch-upload" not in out["detail"]


def _more_incidents(url: str) -> None:
    """Six more incidents, far apart, whose hotspots share one time (ties for the pages)."""
    from dbfixtures import make_hotspot

    from burnwatch.store.db import session_scope
    from burnwatch.store.ingest import ScanRecord, ingest_hotspots

    spots = [make_hotspot(105.0 + 0.2 * k, 21.0, "2024-03-05T03:30:00", confidence=0.6) for k in range(6)]
    with session_scope(url) as s:
        ingest_hotspots(s, spots, ScanRecord(kind="scan", source="sentinel2", label="more", input_hashes={"m": "1"}))


def _placemarks(kml: bytes) -> list[tuple[str, str, str]]:
    import xml.etree.ElementTree as ET

    ns = {"k": "http://www.opengis.net/kml/2.2"}
    return [
        (
            pm.findtext("k:name", "", ns),
            pm.findtext("k:description", "", ns),
            " ".join((c.text or "").split()) if (c := pm.find(".//k:coordinates", ns)) is not None else "",
        )
        for pm in ET.fromstring(kml).iter("{http://www.opengis.net/kml/2.2}Placemark")
    ]


@pytest.mark.parametrize("fmt", ["csv", "geojson", "kml", "gpkg"])
def test_exports_hold_every_matching_row_read_a_page_at_a_time(
    api: ApiEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: object, fmt: str
) -> None:
    """Exports used to stop silently at queries.MAX_LIMIT rows. Now every matching row is
    written, read from the database a page at a time (pages of 2 here, across tied times),
    and the file is the library export's (burnwatch.incidents.exports) of the same rows."""
    from pathlib import Path

    import geopandas as gpd

    from burnwatch.api import queries
    from burnwatch.incidents import exports
    from burnwatch.publish.vector import hotspot_properties, read_hotspots
    from burnwatch.store.db import session_scope

    _more_incidents(api.settings.database_url)
    monkeypatch.setattr(queries, "MAX_LIMIT", 2)  # what the old exports stopped at
    monkeypatch.setattr(queries, "EXPORT_PAGE", 2)
    pages: list[int] = []
    for name in ("incident_pages", "hotspot_pages"):
        original = getattr(queries, name)

        def spy(*args: object, _original: object = original, **kwargs: object) -> object:
            for page in _original(*args, **kwargs):  # type: ignore[operator]
                pages.append(len(page))
                yield page

        monkeypatch.setattr(queries, name, spy)
    out = Path(str(tmp_path))
    h = api.headers("analyst")
    with session_scope(api.settings.database_url) as s:
        incs, n_inc = queries.incidents(s, queries.Filters(), 10_000, 0)
        rows, n_hs = queries.hotspots(s, queries.Filters(), 10_000, 0)
        assert (n_inc, n_hs) == (8, 9)
        exports.export_incidents([i for i, _ in incs], out / f"lib_incidents.{fmt}", {i.id: c for i, c in incs if c})
        exports.export_hotspots(rows, out / f"lib_hotspots.{fmt}")
    for kind in ("incidents", "hotspots"):
        pages.clear()
        r = api.client.get(f"/api/{kind}/export.{fmt}", headers=h)
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"] == f'attachment; filename="{kind}.{fmt}"'
        lib = out / f"lib_{kind}.{fmt}"
        got = out / f"got_{kind}.{fmt}"
        got.write_bytes(r.content)
        if fmt == "csv":
            assert r.content == lib.read_bytes()
        elif fmt == "geojson":
            assert json.loads(r.content) == json.loads(lib.read_text(encoding="utf-8"))
        elif fmt == "kml":
            assert _placemarks(r.content) == _placemarks(lib.read_bytes())
        elif kind == "hotspots":
            assert [hotspot_properties(x) for x in read_hotspots(got)] == [
                hotspot_properties(x) for x in read_hotspots(lib)
            ]
            for layer in ("hotspots", "hotspot_points"):
                assert len(gpd.read_file(got, layer=layer)) == 9
        else:
            mine, theirs = gpd.read_file(got, layer="incidents"), gpd.read_file(lib, layer="incidents")
            assert mine.drop(columns="geometry").to_dict("records") == theirs.drop(columns="geometry").to_dict(
                "records"
            )
            assert list(mine.geometry.to_wkt()) == list(theirs.geometry.to_wkt())
        assert pages and max(pages) <= 2 and sum(pages) == (8 if kind == "incidents" else 9)


def test_empty_exports_are_valid_files(api: ApiEnv) -> None:
    h = api.headers("analyst")
    none = {"start": "2030-01-01T00:00:00Z"}
    assert api.client.get("/api/incidents/export.csv", params=none, headers=h).text == "incident_id,wkt\r\n"
    fc = json.loads(api.client.get("/api/hotspots/export.geojson", params=none, headers=h).content)
    assert fc["features"] == [] and fc["burnwatch:schema"] == 1
    kml = api.client.get("/api/incidents/export.kml", params=none, headers=h)
    assert _placemarks(kml.content) == []
    gpkg = api.client.get("/api/hotspots/export.gpkg", params=none, headers=h)
    assert gpkg.status_code == 200 and gpkg.content[:15] == b"SQLite format 3"


def test_an_incident_says_when_its_hotspot_list_is_cut_short(
    api: ApiEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member list stops at ``INCIDENT_HOTSPOTS`` (5,000) newest; the answer says so."""
    from burnwatch.api.routes import incidents

    h = api.headers("analyst")
    url = f"/api/incidents/{api.incidents[HY]}"
    whole = api.client.get(url, headers=h).json()
    assert len(whole["hotspots"]) == whole["hotspots_total"] == 2 and whole["hotspots_truncated"] is False
    monkeypatch.setattr(incidents, "INCIDENT_HOTSPOTS", 2)
    full = api.client.get(url, headers=h).json()
    assert (len(full["hotspots"]), full["hotspots_total"], full["hotspots_truncated"]) == (2, 2, False)
    monkeypatch.setattr(incidents, "INCIDENT_HOTSPOTS", 1)
    cut = api.client.get(url, headers=h).json()
    assert (len(cut["hotspots"]), cut["hotspots_total"], cut["hotspots_truncated"]) == (1, 2, True)
    assert cut["hotspots"][0] == whole["hotspots"][0]  # the newest
