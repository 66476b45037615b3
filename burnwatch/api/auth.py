"""Authentication and authorisation for the web app.

* Passwords: Argon2id hashes checked by :func:`burnwatch.store.users.authenticate`.
* Pages use a session cookie (``HttpOnly``, ``SameSite=Lax``); the API also accepts
  ``Authorization: Bearer <token>`` from ``POST /api/token``. Both are the same signed value
  (itsdangerous HMAC-SHA1 over ``{"u": username, "iat": issued-at}``, keyed by
  ``Settings.secret_key``, different salts) and expire ``Settings.session_minutes`` after
  issue, measured with the app's clock (injectable in tests). Session cookies also carry the
  user's ``session_epoch`` (``"e"``); logging out moves it on (:func:`end_browser_sessions`),
  so every cookie issued to that user before is refused from then on.
* Every route names its allowed roles once, with :func:`allow` in its ``dependencies``; the
  :class:`Roles` object is kept on the route so tests can enumerate ``app.routes``.
* State-changing requests without a bearer token must come from this site
  (``Origin``/``Referer`` check, :func:`check_same_origin`).
* Logins are rate-limited per (username, client IP): :class:`LoginLimiter`.
* Users with a province (inspectors usually) see only that province: :func:`province_scope`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from burnwatch.api.models import LoginFailure
from burnwatch.errors import AuthenticationError, PermissionDeniedError, RateLimitedError
from burnwatch.store.db import committed
from burnwatch.store.models import User
from burnwatch.store.users import ROLES

COOKIE = "burnwatch_session"
ANONYMOUS = "anonymous"
ALL_ROLES: tuple[str, ...] = tuple(ROLES)
STAFF = ("admin", "analyst", "drone_operator", "inspector")
CASE_ROLES = ("admin", "analyst", "inspector")
FLIGHT_ROLES = ("admin", "analyst", "drone_operator")
REVIEW_ROLES = ("admin", "analyst")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``province`` None = every province."""

    username: str
    role: str
    province: str | None = None
    full_name: str = ""
    session_epoch: int = 0


class Roles:
    """Dependency: the caller must be logged in with one of ``roles`` (or anyone when
    ``anonymous``). Sets ``request.state.principal`` (None for anonymous callers)."""

    def __init__(self, *roles: str, anonymous: bool = False) -> None:
        unknown = set(roles) - set(ALL_ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        self.roles = frozenset(roles)
        self.anonymous = anonymous

    def __repr__(self) -> str:
        return f"Roles({', '.join(sorted(self.roles))}{', anonymous' if self.anonymous else ''})"

    def __call__(self, request: Request) -> Principal | None:
        check_same_origin(request)
        if self.anonymous:
            try:  # an expired cookie must not lock anyone out of /login
                principal = authenticate_request(request, required=False)
            except AuthenticationError:
                principal = None
        else:
            principal = authenticate_request(request)
        if principal is not None and not self.anonymous and principal.role not in self.roles:
            raise PermissionDeniedError(f"{request.url.path}: role {principal.role!r} may not use this")
        request.state.principal = principal
        return principal


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_same_origin(request: Request) -> None:
    """Cross-site request forgery guard for requests a browser sends by itself.

    A state-changing request that does not carry a bearer token (so the browser's cookie,
    or a login form) must not come from another site: its ``Origin`` (or, without one, its
    ``Referer``) must be this server (the ``Host`` it was sent to) or one of
    ``Settings.trusted_origins`` (a reverse proxy's public address). Browsers always send
    ``Origin`` on cross-site POSTs; clients that send neither (curl, scripts) are let
    through, as they cannot be made to carry a victim's cookie. Defence in depth on top
    of ``SameSite=Lax`` cookies (OWASP CSRF cheat sheet, "verifying origin with standard
    headers")."""
    from urllib.parse import urlsplit

    bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
    if request.method in SAFE_METHODS or bearer:
        return
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return
    parts = urlsplit(origin)
    trusted = {urlsplit(o).netloc.lower() for o in request.app.state.settings.trusted_origins}
    host = request.headers.get("host", "").lower()
    if origin == "null" or not parts.netloc or parts.netloc.lower() not in trusted | {host}:
        raise PermissionDeniedError(f"{request.url.path}: cross-site request from {origin!r} refused")


def allow(*roles: str, anonymous: bool = False) -> Any:
    """``dependencies=[allow("admin", "analyst")]`` on a route."""
    return Depends(Roles(*roles, anonymous=anonymous))


def principal(request: Request) -> Principal:
    """The caller checked by the route's :class:`Roles` (never None on non-anonymous routes)."""
    p = getattr(request.state, "principal", None)
    if p is None:
        raise AuthenticationError("not logged in")
    assert isinstance(p, Principal)
    return p


def optional_principal(request: Request) -> Principal | None:
    p = getattr(request.state, "principal", None)
    return p if isinstance(p, Principal) else None


#: Methods that never write: their sessions start an ordinary (deferred) transaction.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db_session(request: Request) -> Iterator[Session]:
    """A session per request: committed when the route returns, rolled back on error.

    On SQLite a request that may write (POST, PUT, PATCH, DELETE) starts with ``BEGIN
    IMMEDIATE`` (:func:`burnwatch.store.db._sqlite_begin`): it takes the write lock first and
    parallel writers queue on ``busy_timeout``. With a deferred ``BEGIN`` two requests that
    each read and then write deadlock on the lock upgrade, which SQLite fails at once with
    "database is locked" (a 500) instead of waiting. PostgreSQL ignores the option.
    """
    with committed(request.app.state.sessions()) as session:
        if request.method not in READ_ONLY_METHODS:
            session.connection(execution_options={"sqlite_immediate": True})
        yield session


# --- tokens --------------------------------------------------------------------------------


def _serializer(request_or_app: Any, salt: str) -> Any:
    from itsdangerous import URLSafeSerializer

    app = getattr(request_or_app, "app", request_or_app)
    return URLSafeSerializer(app.state.settings.secret_key.get_secret_value(), salt=salt)


def issue_token(app: Any, username: str, kind: str = "session", *, epoch: int = 0) -> str:
    """A signed token for ``username`` issued now (``kind``: session | api). Session tokens
    carry the user's session ``epoch``: they stop working when it moves on (logout)."""
    data: dict[str, Any] = {"u": username, "iat": app.state.clock()}
    if kind == "session":
        data["e"] = epoch
    return str(_serializer(app, f"burnwatch-{kind}").dumps(data))


def _read_token(request: Request, token: str, kind: str) -> tuple[str, int]:
    """The token's user and session epoch (0 when it has none: API tokens)."""
    from itsdangerous import BadSignature

    try:
        data = _serializer(request, f"burnwatch-{kind}").loads(token)
        username, issued, epoch = str(data["u"]), float(data["iat"]), int(data.get("e", 0))
    except (BadSignature, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise AuthenticationError("invalid session or token") from exc
    settings = request.app.state.settings
    age = request.app.state.clock() - issued
    if age > settings.session_minutes * 60 or age < -60:
        raise AuthenticationError("session expired; log in again")
    return username, epoch


def authenticate_request(request: Request, required: bool = True) -> Principal | None:
    """The caller from the bearer token or the session cookie; None when anonymous."""
    header = request.headers.get("authorization", "")
    epoch: int | None = None  # checked for session cookies only
    if header.lower().startswith("bearer "):
        username, _ = _read_token(request, header[7:].strip(), "api")
    elif request.cookies.get(COOKIE):
        username, epoch = _read_token(request, request.cookies[COOKIE], "session")
    elif required:
        raise AuthenticationError("not logged in")
    else:
        return None
    session: Session = request.app.state.sessions()
    try:
        user = session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
        if user is None:
            raise AuthenticationError("unknown or inactive user")
        if epoch is not None and epoch != user.session_epoch:
            raise AuthenticationError("session ended (logged out); log in again")
        return _principal_of(user)
    finally:
        session.close()


def _principal_of(user: User) -> Principal:
    return Principal(user.username, user.role, user.province, user.full_name, user.session_epoch)


def end_browser_sessions(request: Request) -> None:
    """Logout: if the request carries a valid, current session cookie, move its user's session
    epoch on, so that this cookie and every other one issued to the user is refused from now on
    (all of the user's browser sessions end; API tokens are not affected)."""
    from burnwatch.store.users import end_sessions

    token = request.cookies.get(COOKIE)
    if not token:
        return
    try:
        username, epoch = _read_token(request, token, "session")
    except AuthenticationError:
        return  # expired or forged: nothing to end
    with committed(request.app.state.sessions()) as session:
        end_sessions(session, username, epoch)


# --- login ---------------------------------------------------------------------------------


class LoginLimiter:
    """At most ``max_failures`` failed logins per (username, IP) in ``window_s`` seconds.

    Failures are rows of ``login_failures`` (:class:`~burnwatch.api.models.LoginFailure`), so
    the limit holds across server processes and restarts. Check and record are separate
    statements: requests racing each other can each pass the check before any of their
    failures is recorded, so parallel guessing gets at most (concurrent requests - 1) extra
    tries per window.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Callable[[], float],
        max_failures: int = 5,
        window_s: float = 300.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.max_failures = max_failures
        self.window_s = window_s

    def check(self, key: tuple[str, str]) -> None:
        now = self.clock()
        with self.sessions() as db:
            recent = db.scalars(
                select(LoginFailure.at)
                .where(*_failure_key(key), LoginFailure.at >= now - self.window_s)
                .order_by(LoginFailure.at.desc())
                .limit(self.max_failures)
            ).all()
        if len(recent) >= self.max_failures:
            # blocked until the oldest of the last max_failures failures ages out
            wait = int(recent[-1] + self.window_s - now) + 1
            raise RateLimitedError(f"too many failed logins; try again in {wait} s")

    def failed(self, key: tuple[str, str]) -> None:
        now = self.clock()
        with self.sessions() as db:
            db.add(LoginFailure(username=key[0][:64], client=key[1][:64], at=now))
            # keep the table small: every failure that no longer counts, whatever its key (a
            # range over ix_login_failures_at), so trying many usernames cannot grow it for ever
            db.execute(delete(LoginFailure).where(LoginFailure.at < now - self.window_s))
            db.commit()

    def reset(self, key: tuple[str, str]) -> None:
        with self.sessions() as db:
            db.execute(delete(LoginFailure).where(*_failure_key(key)))
            db.commit()


def _failure_key(key: tuple[str, str]) -> tuple[Any, Any]:
    return LoginFailure.username == key[0][:64], LoginFailure.client == key[1][:64]


def login(request: Request, username: str, password: str) -> Principal:
    """Check a password (rate-limited); AuthenticationError or RateLimitedError otherwise."""
    from burnwatch.store.users import authenticate, fold

    limiter: LoginLimiter = request.app.state.login_limiter
    # look-alike spellings of a name (Admin, ADMIN, full-width) share one count
    key = (fold(username.strip()), request.client.host if request.client else "?")
    limiter.check(key)
    session: Session = request.app.state.sessions()
    try:
        user = authenticate(session, username.strip(), password)
        principal = _principal_of(user)
    except AuthenticationError:
        session.close()  # before the limiter writes: SQLite allows one writer, no open readers
        limiter.failed(key)
        raise
    finally:
        session.close()
    limiter.reset(key)
    return principal


def province_scope(p: Principal, requested: str | None) -> str | None:
    """The province filter to apply: a province-bound user gets their own, and asking for
    another one is refused. Admins and users without a province may ask for any."""
    if p.province and p.role != "admin":
        if requested and unicodedata.normalize("NFC", requested) != p.province:
            raise PermissionDeniedError(f"{p.username!r} may only see {p.province}")
        return p.province
    return unicodedata.normalize("NFC", requested) if requested else None


def route_table(app: Any) -> list[Any]:
    """Every :class:`fastapi.routing.APIRoute` of ``app``, descending into included routers
    (newer FastAPI keeps them as ``_IncludedRouter`` entries in ``app.routes``)."""
    from fastapi.routing import APIRoute

    out: list[Any] = []

    def walk(routes: list[Any]) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                out.append(r)
            elif hasattr(r, "original_router"):
                walk(list(r.original_router.routes))

    walk(list(app.routes))
    return out


def roles_of(route: Any) -> list[Roles]:
    """The :class:`Roles` dependencies declared on a route."""
    return [d.dependency for d in getattr(route, "dependencies", []) if isinstance(d.dependency, Roles)]
