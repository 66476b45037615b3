"""Security of the web app: roles on every route (enumerated from the route table), sessions
expire, the login limiter, path traversal, oversize uploads."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from pathlib import Path

import pytest
from apifixtures import HY, ROLE_USER, USERS, ApiEnv, sqlite_api_fixture  # noqa: F401
from dbfixtures import _fast_password_hashing, sqlite_template  # noqa: F401

from burnwatch.api.auth import ALL_ROLES, roles_of, route_table
from burnwatch.errors import InputError, NotFoundError, TooLargeError

_roles_of = roles_of
_api_routes = route_table


def test_every_route_declares_its_roles_once(sqlite_api: ApiEnv) -> None:
    routes = _api_routes(sqlite_api.app)
    assert len(routes) > 25
    # the table really is the app's: every documented API path is in it
    documented = set(sqlite_api.client.get("/openapi.json").json()["paths"])
    assert documented == {r.path for r in routes}
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if len(_roles_of(r)) != 1]
    assert missing == []
    anonymous = sorted(r.path for r in routes if _roles_of(r)[0].anonymous)
    assert anonymous == ["/", "/api/token", "/conformance", "/login", "/login", "/logout"]


def _concrete(path: str) -> str:
    path = path.replace("{fmt}", "geojson").replace("{name}", "x")
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_refuses_the_wrong_role_and_anonymous_callers(sqlite_api: ApiEnv) -> None:
    env = sqlite_api
    headers = {role: env.headers(user) for role, user in ROLE_USER.items()}
    checked = 0
    for route in _api_routes(env.app):
        roles = _roles_of(route)[0]
        if roles.anonymous:
            continue
        url = _concrete(route.path)
        for method in sorted(route.methods):
            anon = env.client.request(method, url, json={})
            assert anon.status_code == 401, f"anonymous {method} {url}: {anon.status_code}"
            for role in ALL_ROLES:
                if role in roles.roles:
                    continue
                r = env.client.request(method, url, json={}, headers=headers[role])
                assert r.status_code == 403, f"{role} {method} {url}: {r.status_code} {r.text[:200]}"
                assert r.json()["error"] == "permission_denied"
                checked += 1
    assert checked > 40


def test_session_cookie_flags_and_expiry(sqlite_api: ApiEnv) -> None:
    env = sqlite_api
    r = env.client.post(
        "/login", data={"username": "insp", "password": "correct-horse-9"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/cases"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert env.client.get("/api/me").json()["username"] == "insp"
    token = env.token("analyst")
    env.clock.advance(59 * 60)
    assert env.client.get("/api/me").status_code == 200
    assert env.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    env.clock.advance(2 * 60)  # 61 minutes after login, session_minutes = 60
    expired = env.client.get("/api/me")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    assert env.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    page = env.client.get("/cases", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    # the login page still works with the expired cookie (no redirect loop)
    assert (
        env.client.get("/login", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 200
    )
    # a forged or tampered token is refused
    forged = env.client.get("/api/me", headers={"Authorization": f"Bearer {token[:-2]}xx"})
    assert forged.status_code == 401


def test_inactive_user_is_refused(sqlite_api: ApiEnv) -> None:
    from sqlalchemy import update

    from burnwatch.store.db import session_scope
    from burnwatch.store.models import User

    h = sqlite_api.headers("pilot")
    with session_scope(sqlite_api.settings.database_url) as s:
        s.execute(update(User).where(User.username == "pilot").values(active=False))
    assert sqlite_api.client.get("/api/flights", headers=h).status_code == 401


def test_login_limiter(sqlite_api: ApiEnv) -> None:
    env = sqlite_api
    for _ in range(5):
        r = env.client.post("/api/token", json={"username": "insp", "password": "wrong-password"})
        assert r.status_code == 401
    blocked = env.client.post("/api/token", json={"username": "insp", "password": "correct-horse-9"})
    assert blocked.status_code == 429 and blocked.json()["error"] == "rate_limited"
    form = env.client.post("/login", data={"username": "INSP", "password": "correct-horse-9"})
    assert form.status_code == 429
    # other users are not affected; the block lifts after the window
    assert (
        env.client.post("/api/token", json={"username": "analyst", "password": "correct-horse-9"}).status_code
        == 200
    )
    env.clock.advance(301)
    assert (
        env.client.post("/api/token", json={"username": "insp", "password": "correct-horse-9"}).status_code
        == 200
    )


@pytest.mark.parametrize(
    "url",
    [
        "/static/..%2F..%2Fapi%2Fapp.py",
        "/static/%2e%2e/%2e%2e/config.py",
        "/vendor/..%2F..%2Fvector.py",
        "/api/layers/..%2F..%2Fburnwatch.db.png",
        "/api/flights/" + "a" * 32 + "/thumbnails/..%2F..%2Fupload.zip",
    ],
)
def test_path_traversal_in_urls_is_refused(sqlite_api: ApiEnv, url: str) -> None:
    h = sqlite_api.headers("admin")
    r = sqlite_api.client.get(url, headers=h)
    assert r.status_code in (404, 422), (url, r.status_code)
    assert b"def create_app" not in r.content and b"SQLite format" not in r.content


@pytest.mark.parametrize("name", ["../../evil.jpg", "..\\evil.jpg", "/etc/passwd", ".hidden.jpg", "a/b.jpg"])
def test_upload_file_names_with_paths_are_refused(sqlite_api: ApiEnv, name: str) -> None:
    h = {**sqlite_api.headers("insp"), "Content-Type": "image/jpeg"}
    case_id = sqlite_api.cases[HY]
    r = sqlite_api.client.post(
        f"/api/cases/{case_id}/evidence", params={"filename": name}, content=b"x", headers=h
    )
    assert r.status_code == 422, r.text
    r = sqlite_api.client.post(
        "/api/flights", params={"filename": name}, content=b"x", headers=sqlite_api.headers("pilot")
    )
    assert r.status_code == 422


def test_inside_refuses_escapes(tmp_path: Path) -> None:
    from burnwatch.api.uploads import inside, safe_filename

    assert inside(tmp_path, "a/b.jpg") == (tmp_path / "a" / "b.jpg").resolve()
    for bad in ("../x", "/etc/passwd", "a/../../x"):
        with pytest.raises(NotFoundError):
            inside(tmp_path, bad)
    with pytest.raises(InputError):
        safe_filename("..", "x")
    assert safe_filename("Ảnh hiện trường 1.jpg", "x") == "Ảnh hiện trường 1.jpg"


def test_zip_entries_escaping_the_folder_fail_the_job(sqlite_api: ApiEnv) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.jpg", b"not really")
        zf.writestr("ok.txt", b"hello")
    h = sqlite_api.headers("pilot")
    r = sqlite_api.client.post(
        "/api/flights", params={"filename": "f.zip"}, content=buf.getvalue(), headers=h
    )
    assert r.status_code == 202
    job_id = r.json()["id"]
    sqlite_api.app.state.jobs.wait(job_id, timeout=60)
    job = sqlite_api.client.get(f"/api/flights/{job_id}", headers=h).json()
    assert job["status"] == "failed"
    assert "evil.jpg" in job["message"]
    assert not list(sqlite_api.tmp.rglob("evil.jpg"))


def test_oversize_uploads_are_refused(sqlite_api: ApiEnv) -> None:
    env = sqlite_api
    big = b"\0" * (2 * 1024 * 1024 + 1)  # max_upload_mb = 2
    r = env.client.post(
        "/api/flights", params={"filename": "big.zip"}, content=big, headers=env.headers("pilot")
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert r.json()["detail"].startswith("big.zip: ")  # the file as uploaded, not upload.zip
    # the refused job stays as a failed row (audit trail); its folder is gone
    jobs = env.client.get("/api/flights", headers=env.headers("pilot")).json()
    assert [(j["filename"], j["status"]) for j in jobs] == [("big.zip", "failed")]
    assert jobs[0]["message"].startswith("big.zip: ")
    assert not (env.tmp / "data" / "flights" / jobs[0]["id"]).exists()
    h = {**env.headers("insp"), "Content-Type": "image/jpeg"}
    r = env.client.post(f"/api/cases/{env.cases[HY]}/evidence", content=big, headers=h)
    assert r.status_code == 413
    assert not [p for p in (env.tmp / "data").rglob("*") if p.is_file() and p.stat().st_size > 2_000_000]


class _FakeRequest:
    """Just enough of a Starlette request for :func:`stream_to_file`."""

    def __init__(self, chunks: int, size: int, content_length: str | None = None) -> None:
        self.headers = {"content-length": content_length} if content_length else {}
        self.sent = 0
        self._chunks, self._size = chunks, size

    async def stream(self):  # type: ignore[no-untyped-def]
        for _ in range(self._chunks):
            self.sent += 1
            yield b"\1" * self._size


def test_size_cap_applies_while_streaming(tmp_path: Path) -> None:
    from burnwatch.api.uploads import stream_to_file

    req = _FakeRequest(chunks=100, size=1024)  # 100 KiB offered, no Content-Length
    with pytest.raises(TooLargeError):
        asyncio.run(stream_to_file(req, tmp_path / "f.zip", max_bytes=10 * 1024))  # type: ignore[arg-type]
    assert req.sent == 11  # stopped reading right after passing the cap
    assert list(tmp_path.iterdir()) == []  # nothing left behind
    declared = _FakeRequest(chunks=100, size=1024, content_length=str(100 * 1024))
    with pytest.raises(TooLargeError):
        asyncio.run(stream_to_file(declared, tmp_path / "g.zip", max_bytes=10 * 1024))  # type: ignore[arg-type]
    assert declared.sent == 0  # refused from the header, before reading anything
    ok = _FakeRequest(chunks=3, size=100)
    assert asyncio.run(stream_to_file(ok, tmp_path / "h.zip", max_bytes=10 * 1024)) == 300  # type: ignore[arg-type]
    assert (tmp_path / "h.zip").stat().st_size == 300


def test_users_cover_every_role() -> None:
    assert {r for r, _ in USERS.values()} == set(ALL_ROLES)


def test_cross_site_requests_with_the_cookie_are_refused(sqlite_api: ApiEnv) -> None:
    """CSRF: a state-changing request riding on the session cookie must come from this site."""
    env = sqlite_api
    evil = {"Origin": "https://evil.example"}
    login = env.client.post(
        "/login",
        data={"username": "insp", "password": "correct-horse-9"},
        headers=evil,
        follow_redirects=False,
    )
    assert login.status_code == 403 and "cross-site" in login.json()["detail"]
    ok = env.client.post(
        "/login",
        data={"username": "insp", "password": "correct-horse-9"},
        headers={"Origin": str(env.client.base_url).rstrip("/")},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    note = f"/api/cases/{env.cases[HY]}/notes"
    for headers in (evil, {"Origin": "null"}, {"Referer": "https://evil.example/page"}):
        r = env.client.post(note, json={"text": "forged"}, headers=headers)
        assert r.status_code == 403 and "cross-site" in r.json()["detail"], (headers, r.text)
    assert (
        env.client.post(
            note,
            json={"text": "from the case page"},
            headers={"Origin": str(env.client.base_url).rstrip("/")},
        ).status_code
        == 200
    )
    assert env.client.post(note, json={"text": "a script without Origin"}).status_code == 200
    # bearer tokens are not sent by browsers on their own: no Origin check
    bearer = {"Authorization": f"Bearer {env.token('insp')}", **evil}
    assert env.client.post(note, json={"text": "API client"}, headers=bearer).status_code == 200
    # reading is never refused
    assert env.client.get("/api/me", headers=evil).status_code == 200
    from sqlalchemy import select

    from burnwatch.store.db import session_scope
    from burnwatch.store.models import CaseNote

    with session_scope(env.settings.database_url) as s:
        texts = list(
            s.scalars(select(CaseNote.text).where(CaseNote.case_id == env.cases[HY]).order_by(CaseNote.seq))
        )
    assert texts == ["from the case page", "a script without Origin", "API client"]


def test_login_limit_holds_across_server_processes_and_restarts(sqlite_api: ApiEnv) -> None:
    """The failures are counted in the database: a second server process on the same database,
    or the server after a restart, sees them (the limit used to be per process)."""
    from fastapi.testclient import TestClient

    from burnwatch.api import create_app

    env = sqlite_api
    wrong = {"username": "insp", "password": "wrong-password"}
    right = {"username": "insp", "password": "correct-horse-9"}
    for _ in range(3):
        assert env.client.post("/api/token", json=wrong).status_code == 401
    other = create_app(env.settings, detector_factory=None, clock=env.clock, flight_workers=0)
    with TestClient(other, base_url="http://127.0.0.1") as second:
        for _ in range(2):
            assert second.post("/api/token", json=wrong).status_code == 401
        for client in (env.client, second):
            r = client.post("/api/token", json=right)
            assert r.status_code == 429 and "try again in 301 s" in r.text, r.text
    restarted = create_app(env.settings, detector_factory=None, clock=env.clock, flight_workers=0)
    with TestClient(restarted, base_url="http://127.0.0.1") as third:
        assert third.post("/api/token", json=right).status_code == 429
        env.clock.advance(301)
        assert third.post("/api/token", json=right).status_code == 200
        # a successful login clears the user's failures; the table keeps no stale rows for them
        assert env.client.post("/api/token", json=wrong).status_code == 401
    from sqlalchemy import func, select

    from burnwatch.api.models import LoginFailure
    from burnwatch.store.db import session_scope

    with session_scope(env.settings.database_url) as s:
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 1


def _behind_proxy(env: ApiEnv, trusted: list[str]):  # type: ignore[no-untyped-def]
    """A second app on the test database, wrapped by uvicorn exactly as ``burnwatch serve``
    runs it with these trusted proxies (``ProxyHeadersMiddleware`` or none)."""
    import uvicorn

    from burnwatch.api import create_app
    from burnwatch.cli.serve import proxy_options

    app = create_app(env.settings, detector_factory=None, clock=env.clock, flight_workers=0)
    config = uvicorn.Config(app, log_config=None, **proxy_options(trusted))
    config.load()
    return config.loaded_app


def test_forwarded_headers_count_only_from_trusted_proxies(sqlite_api: ApiEnv) -> None:
    """Behind a TLS-terminating proxy the cookie is Secure and the login limiter sees the real
    client; X-Forwarded-* from any other peer (or with no proxy configured) are ignored."""
    from fastapi.testclient import TestClient
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    env = sqlite_api
    login = {"username": "insp", "password": "correct-horse-9"}
    via = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    attacker = {"X-Forwarded-For": "203.0.113.66"}
    real_admin = {"X-Forwarded-For": "198.51.100.5"}
    wrong = {"username": "admin", "password": "wrong-password"}
    right = {"username": "admin", "password": "correct-horse-9"}

    def tries(client: TestClient) -> tuple[list[int], int, int]:
        fails = [client.post("/api/token", json=wrong, headers=attacker).status_code for _ in range(5)]
        admin = client.post("/api/token", json=right, headers=real_admin).status_code
        again = client.post("/api/token", json=right, headers=attacker).status_code
        return fails, admin, again

    assert not isinstance(_behind_proxy(env, []), ProxyHeadersMiddleware)  # the default: trust none
    proxied = _behind_proxy(env, ["10.0.0.2", "192.168.7.0/24"])
    with TestClient(proxied, base_url="http://127.0.0.1", client=("10.0.0.2", 40000)) as proxy:
        r = proxy.post("/login", data=login, headers=via, follow_redirects=False)
        assert r.status_code == 303 and "; secure" in r.headers["set-cookie"].lower()
        # the attacker locks only themself out; the real admin, behind the same proxy, logs in
        assert tries(proxy) == ([401] * 5, 200, 429)
    with TestClient(proxied, base_url="http://127.0.0.1", client=("192.168.7.40", 40000)) as proxy2:
        r = proxy2.post("/logout", headers=via, follow_redirects=False)
        assert "; secure" in r.headers["set-cookie"].lower()  # deleting the cookie matches it
    env.clock.advance(301)
    for peer, trusted in (("10.0.0.9", ["10.0.0.2"]), ("127.0.0.1", [])):
        with TestClient(_behind_proxy(env, trusted), base_url="http://127.0.0.1", client=(peer, 1)) as direct:
            r = direct.post("/login", data=login, headers=via, follow_redirects=False)
            assert r.status_code == 303 and "secure" not in r.headers["set-cookie"].lower()
            # a client's own X-Forwarded-For is ignored: the limiter keys on the peer
            assert tries(direct) == ([401] * 5, 429, 429)
        env.clock.advance(301)


def test_serve_passes_only_the_configured_proxies_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    import burnwatch.api
    from burnwatch.cli.serve import serve
    from burnwatch.config import get_settings

    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setattr(burnwatch.api, "create_app", lambda *a, **kw: object())
    monkeypatch.delenv("BURNWATCH_FORWARDED_ALLOW_IPS", raising=False)
    runner = CliRunner()
    try:
        get_settings.cache_clear()
        assert runner.invoke(serve, []).exit_code == 0
        monkeypatch.setenv("BURNWATCH_FORWARDED_ALLOW_IPS", '["10.0.0.2"]')
        get_settings.cache_clear()
        assert runner.invoke(serve, []).exit_code == 0
        ok = runner.invoke(serve, ["--forwarded-allow-ips", "10.0.0.3, 10.1.0.0/16"])
        assert ok.exit_code == 0 and "trusting X-Forwarded-For/-Proto from 10.0.0.3, 10.1.0.0/16" in ok.output
        bad = runner.invoke(serve, ["--forwarded-allow-ips", "proxy.local"])
        assert bad.exit_code == 2 and "'proxy.local' is not an IP address" in bad.output
    finally:
        get_settings.cache_clear()
    assert [(c["proxy_headers"], c["forwarded_allow_ips"]) for c in calls] == [
        (False, []),
        (True, ["10.0.0.2"]),
        (True, ["10.0.0.3", "10.1.0.0/16"]),
    ]


def test_logout_ends_every_browser_session_of_the_user(sqlite_api: ApiEnv) -> None:
    """A session cookie copied before logout is refused after it, as is the user's cookie in
    any other browser; a new login works; API tokens are not browser sessions."""
    from burnwatch.api.auth import COOKIE

    env = sqlite_api
    client = env.client
    form = {"username": "insp", "password": "correct-horse-9"}

    def login_cookie() -> str:
        client.cookies.clear()
        r = client.post("/login", data=form, follow_redirects=False)
        assert r.status_code == 303
        env.clock.advance(1)
        return str(r.cookies[COOKIE])

    def me(cookie: str) -> int:
        client.cookies.clear()
        return client.get("/api/me", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code

    phone, laptop = login_cookie(), login_cookie()
    token = env.token("insp")
    assert phone != laptop and me(phone) == me(laptop) == 200
    client.cookies.clear()
    out = client.post("/logout", headers={"Cookie": f"{COOKIE}={laptop}"}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert me(laptop) == me(phone) == 401
    client.cookies.clear()
    stale = client.get("/api/me", headers={"Cookie": f"{COOKIE}={phone}"})
    assert "logged out" in stale.json()["detail"]
    page = client.get(
        "/cases", headers={"Accept": "text/html", "Cookie": f"{COOKIE}={phone}"}, follow_redirects=False
    )
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = login_cookie()
    assert me(again) == 200
    # logging out with an old cookie changes nothing; other users are not affected
    client.cookies.clear()
    client.post("/logout", headers={"Cookie": f"{COOKIE}={phone}"}, follow_redirects=False)
    assert me(again) == 200
    assert env.client.get("/api/me", headers=env.headers("analyst")).status_code == 200


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "a" * 65, "password": "correct-horse-9"}, "A username has at most 64 characters"),
        ({"username": "insp", "password": ""}, "Enter your password"),
        ({"username": "insp"}, "Enter your password"),
        ({"username": " ", "password": "x"}, "Enter your username"),
        ({"username": "insp", "password": "p" * 257}, "A password has at most 256 characters"),
    ],
)
def test_login_form_input_errors_show_the_login_page(
    sqlite_api: ApiEnv, form: dict[str, str], message: str
) -> None:
    client = sqlite_api.client
    page = client.get("/login?lang=en")
    assert 'maxlength="64"' in page.text and 'maxlength="256"' in page.text
    r = client.post("/login", data={**form, "next": "/map"}, headers={"Accept": "text/html"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), r.text[:200]
    assert message in r.text and 'name="username"' in r.text and 'value="/map"' in r.text
    client.cookies.clear()  # the Vietnamese page by default
    vi = client.post("/login", data=form)
    assert vi.status_code == 422 and "<html" in vi.text and "Tên đăng nhập" in vi.text


def test_serve_refuses_a_short_secret_key_on_a_public_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-loopback: the key must not be the dev key and must have 32 characters or more;
    loopback (development) takes any key."""
    import uvicorn
    from click.testing import CliRunner

    import burnwatch.api
    from burnwatch.cli.serve import serve
    from burnwatch.config import get_settings

    hosts: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: hosts.append(kw["host"]))
    monkeypatch.setattr(burnwatch.api, "create_app", lambda *a, **kw: object())
    monkeypatch.delenv("BURNWATCH_FORWARDED_ALLOW_IPS", raising=False)

    def run(key: str | None, host: str) -> tuple[int, str]:
        if key is None:
            monkeypatch.delenv("BURNWATCH_SECRET_KEY", raising=False)
        else:
            monkeypatch.setenv("BURNWATCH_SECRET_KEY", key)
        get_settings.cache_clear()
        result = CliRunner().invoke(serve, ["--host", host])
        return result.exit_code, result.output

    try:
        code, out = run("x", "0.0.0.0")
        assert code == 2 and "BURNWATCH_SECRET_KEY has 1 characters; serving on 0.0.0.0 needs at least 32" in out
        code, out = run("k" * 31, "192.0.2.7")
        assert code == 2 and "at least 32" in out
        code, out = run(None, "::")
        assert code == 2 and "set BURNWATCH_SECRET_KEY" in out
        assert run("k" * 32, "0.0.0.0")[0] == 0
        assert run("x", "127.0.0.1")[0] == 0
        assert run("x", "localhost")[0] == 0
        assert run(None, "::1")[0] == 0
    finally:
        get_settings.cache_clear()
    assert hosts == ["0.0.0.0", "127.0.0.1", "localhost", "::1"]


def test_authenticated_api_answers_are_not_cached(sqlite_api: ApiEnv) -> None:
    """``Cache-Control: no-store`` on every answer to an authenticated caller (JSON, GeoJSON,
    exports); static assets stay cacheable."""
    env = sqlite_api
    h = env.headers("insp")
    for path in ("/api/incidents", f"/api/incidents/{env.incidents[HY]}", "/api/cases", "/collections"):
        r = env.client.get(path, headers=h)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store", path
    r = env.client.get("/api/incidents/export.csv", headers=env.headers("analyst"))
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert "no-store" not in env.client.get("/static/map.js").headers.get("Cache-Control", "")


def test_expired_login_failures_are_pruned_whatever_their_username(sqlite_api: ApiEnv) -> None:
    """Trying many usernames must not grow ``login_failures`` for ever: each recorded failure
    deletes every failure older than the window, not only its own (username, IP)'s."""
    from sqlalchemy import select

    from burnwatch.api.models import LoginFailure
    from burnwatch.store.db import session_scope

    env = sqlite_api

    def names() -> list[str]:
        with session_scope(env.settings.database_url) as s:
            return sorted(s.scalars(select(LoginFailure.username)))

    for i in range(20):
        r = env.client.post("/api/token", json={"username": f"guess{i}", "password": "wrong-password"})
        assert r.status_code == 401
    assert len(names()) == 20
    env.clock.advance(299)
    assert env.client.post("/api/token", json={"username": "late", "password": "x-wrong-x"}).status_code == 401
    assert len(names()) == 21  # still inside the window
    env.clock.advance(2)
    assert env.client.post("/api/token", json={"username": "other", "password": "x-wrong-x"}).status_code == 401
    assert names() == ["late", "other"]


def test_login_folds_the_username(sqlite_api: ApiEnv) -> None:
    """``Insp`` logs in as ``insp`` (the token names the stored user), and failures under
    look-alike spellings count together."""
    env = sqlite_api
    r = env.client.post("/api/token", json={"username": "INSP", "password": "correct-horse-9"})
    assert r.status_code == 200
    me = env.client.get("/api/cases", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.status_code == 200
    for name in ("insp_tb", "Insp_TB", "INSP_TB", "insp_Tb", "iNSP_TB"):
        assert env.client.post("/api/token", json={"username": name, "password": "nope-nope"}).status_code == 401
    r = env.client.post("/api/token", json={"username": "insp_tb", "password": "correct-horse-9"})
    assert r.status_code == 429
