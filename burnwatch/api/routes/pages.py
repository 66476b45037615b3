"""HTML pages (Jinja2) and the login/logout/token endpoints.

Pages load Leaflet and markercluster from ``/vendor`` (the project's vendored npm files)
and the app's own JS/CSS from ``/static``; nothing comes from a CDN. The basemap is
``Settings.tile_url`` when configured, else none (the map works offline).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from burnwatch.api import i18n
from burnwatch.api.auth import (
    CASE_ROLES,
    COOKIE,
    FLIGHT_ROLES,
    REVIEW_ROLES,
    STAFF,
    Principal,
    allow,
    end_browser_sessions,
    issue_token,
    login,
    optional_principal,
    principal,
)
from burnwatch.errors import AuthenticationError, RateLimitedError

router = APIRouter(tags=["pages"])

USERNAME_MAX = 64  # users.username is String(64)
PASSWORD_MAX = 256
NEXT_MAX = 512

HOME = {
    "inspector": "/cases",
    "drone_operator": "/upload",
    "analyst": "/map",
    "admin": "/map",
    "public": "/collections",
}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = i18n.pick_lang(request)
    p = optional_principal(request)
    settings = request.app.state.settings
    ctx = {
        "request": request,
        "lang": lang,
        "other_lang": "en" if lang == "vi" else "vi",
        "t": i18n.labels(lang),
        "user": p,
        "tile_url": settings.tile_url or "",
        "nav": _nav(p),
        **context,
    }
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, ctx, status_code=status_code
    )
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    response.headers["Cache-Control"] = "no-store"
    return response


def _nav(p: Principal | None) -> list[tuple[str, str]]:
    if p is None:
        return []
    items = []
    if p.role in STAFF:
        items.append(("/map", "map"))
    if p.role in CASE_ROLES:
        items.append(("/cases", "cases"))
    if p.role in FLIGHT_ROLES:
        items.append(("/upload", "upload"))
    if p.role in REVIEW_ROLES:
        items.append(("/review", "review"))
    return items


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _secure(request: Request) -> bool:
    """Cookies get ``Secure`` when the request came over https — directly, or through a
    trusted reverse proxy's ``X-Forwarded-Proto`` (``burnwatch serve --forwarded-allow-ips``)."""
    return request.url.scheme == "https"


def _set_session(request: Request, response: Response, p: Principal) -> None:
    settings = request.app.state.settings
    response.set_cookie(
        COOKIE,
        issue_token(request.app, p.username, "session", epoch=p.session_epoch),
        max_age=settings.session_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


#: Form input the login page refuses before checking the password: (vi, en).
LOGIN_INPUT_ERRORS: dict[str, tuple[str, str]] = {
    "username_missing": ("Hãy nhập tên đăng nhập", "Enter your username"),
    "username_too_long": (
        f"Tên đăng nhập dài tối đa {USERNAME_MAX} ký tự",
        f"A username has at most {USERNAME_MAX} characters",
    ),
    "password_missing": ("Hãy nhập mật khẩu", "Enter your password"),
    "password_too_long": (
        f"Mật khẩu dài tối đa {PASSWORD_MAX} ký tự",
        f"A password has at most {PASSWORD_MAX} characters",
    ),
}


def _login_input_error(username: str, password: str, lang: str) -> str | None:
    """Why the login form cannot be checked as sent (a message in ``lang``), or None."""
    if not username.strip():
        key = "username_missing"
    elif len(username) > USERNAME_MAX:
        key = "username_too_long"
    elif not password:
        key = "password_missing"
    elif len(password) > PASSWORD_MAX:
        key = "password_too_long"
    else:
        return None
    return LOGIN_INPUT_ERRORS[key][i18n.LANGS.index(lang) if lang in i18n.LANGS else 0]


def _login_page(request: Request, status_code: int, next: str, error: str | None) -> HTMLResponse:
    target = _safe_next(next) if len(next) <= NEXT_MAX else None
    return render(
        request,
        "login.html",
        status_code,
        next=target or "",
        error=error,
        username_max=USERNAME_MAX,
        password_max=PASSWORD_MAX,
    )


@router.get("/login", dependencies=[allow(anonymous=True)], response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, 200, next or "", None)


@router.post("/login", dependencies=[allow(anonymous=True)], response_model=None)
def login_form(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """The login form. Input it cannot check (a missing or too long name or password) gets the
    login page back with a message (422), not the API's JSON error."""
    lang = i18n.pick_lang(request)
    problem = _login_input_error(username, password, lang)
    if problem is not None:
        return _login_page(request, 422, next, problem)
    try:
        p = login(request, username, password)
    except RateLimitedError as exc:
        return _login_page(request, 429, next, exc.message)
    except AuthenticationError:
        return _login_page(request, 401, next, i18n.labels(lang)["login_failed"])
    response = RedirectResponse(_safe_next(next) or HOME[p.role], status_code=303)
    _set_session(request, response, p)
    return response


@router.post("/logout", dependencies=[allow(anonymous=True)], response_model=None)
def logout(request: Request) -> Response:
    """Log out: every session cookie of the user ends (all their browsers), not only this one."""
    end_browser_sessions(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", secure=_secure(request), httponly=True, samesite="lax")
    return response


class TokenIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


@router.post("/api/token", dependencies=[allow(anonymous=True)], tags=["auth"])
def token(request: Request, body: TokenIn) -> dict[str, Any]:
    """A bearer token for the API (rate-limited like the login form)."""
    p = login(request, body.username, body.password)
    minutes = request.app.state.settings.session_minutes
    return {
        "access_token": issue_token(request.app, p.username, "api"),
        "token_type": "bearer",
        "expires_in": minutes * 60,
        "role": p.role,
    }


@router.get("/api/me", dependencies=[allow(*STAFF, "public")], tags=["auth"])
def me(p: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
    return {"username": p.username, "role": p.role, "province": p.province, "full_name": p.full_name}


@router.get("/map", dependencies=[allow(*STAFF)], response_class=HTMLResponse)
def map_page(request: Request) -> HTMLResponse:
    return render(request, "map.html")


@router.get("/cases", dependencies=[allow(*CASE_ROLES)], response_class=HTMLResponse)
def cases_page(request: Request) -> HTMLResponse:
    return render(request, "cases.html")


@router.get("/cases/{case_id}", dependencies=[allow(*CASE_ROLES)], response_class=HTMLResponse)
def case_page(case_id: int, request: Request) -> HTMLResponse:
    from burnwatch.incidents.cases import ROLE_FOR_STATE

    p = principal(request)
    allowed = sorted(s for s, roles in ROLE_FOR_STATE.items() if p.role in roles)
    return render(request, "case.html", case_id=case_id, allowed_states=allowed)


@router.get("/upload", dependencies=[allow(*FLIGHT_ROLES)], response_class=HTMLResponse)
def upload_page(request: Request) -> HTMLResponse:
    return render(request, "upload.html")


@router.get("/review", dependencies=[allow(*REVIEW_ROLES)], response_class=HTMLResponse)
def review_page(request: Request) -> HTMLResponse:
    return render(request, "review.html")
