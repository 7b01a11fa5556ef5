"""Signing in and out, the two-factor step, password resets, invitations, first run.

These screens come before a session exists, so their forms are protected by a
double-submit token bound to a strict same-site cookie instead of the session's token.
Failures are answered by re-rendering the form: the handler returns normally, so the
failure count it wrote is committed.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.accounts import invites, signin
from tocsin.accounts import service as accounts
from tocsin.accounts.models import Invitation, Role, SignInSession, User
from tocsin.accounts.schemas import UserCreate
from tocsin.admin import auth
from tocsin.admin.auth import SignedDep
from tocsin.admin.render import redirect, render
from tocsin.audit.service import Actor
from tocsin.db import utcnow
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import DomainError
from tocsin.lib import csrf, ratelimit
from tocsin.lib.ratelimit import Limit
from tocsin.pages import service as pages
from tocsin.settings import Settings

router = APIRouter(prefix="/admin", include_in_schema=False)

# Per client address, on top of each account's lockout: slows spraying many accounts.
SIGNIN_LIMIT = Limit(limit=20, per_seconds=300)
RESET_LIMIT = Limit(limit=5, per_seconds=3600)

_Text = Annotated[str, Form(max_length=1024)]


def _form(
    request: Request,
    settings: Settings,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A pre-session form, with its double-submit token and cookie."""
    nonce = csrf.nonce(request.cookies.get(auth.PRE_SESSION_COOKIE))
    response = render(request, template, csrf_key=nonce, status_code=status_code, **context)
    auth.set_pre_session_cookie(response, settings, nonce)
    return response


async def _check(request: Request, settings: Settings) -> None:
    nonce = request.cookies.get(auth.PRE_SESSION_COOKIE, "")
    await auth.check_csrf(request, nonce, settings)


def _limited(session: SessionDep, request: Request, bucket: str, limit: Limit) -> int:
    """Seconds to wait if this client went over `limit`, else 0."""
    decision = ratelimit.hit(session, f"{bucket}:{auth.client_ip(request)}", limit)
    return 0 if decision.allowed else decision.retry_after


# --- sign in ------------------------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
def signin_form(
    request: Request, session: SessionDep, settings: SettingsDep, next: str = ""
) -> Response:
    if signin.nobody_can_sign_in(session):
        return redirect("/admin/setup")
    return _form(
        request, settings, "admin/signin.html", next=auth.safe_next(next), error=None, email=""
    )


@router.post("/signin", response_class=HTMLResponse)
async def signin_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: _Text = "",
    password: _Text = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    await _check(request, settings)
    target = auth.safe_next(next)
    wait = _limited(session, request, "signin", SIGNIN_LIMIT)
    if wait:
        return _form(
            request,
            settings,
            "admin/signin.html",
            status_code=429,
            next=target,
            email=email,
            error=f"too many sign-in attempts from your address: wait {wait} seconds",
        )
    now = utcnow()
    try:
        user = signin.check_password(session, email=email, password=password, now=now)
    except DomainError as exc:
        return _form(
            request,
            settings,
            "admin/signin.html",
            status_code=exc.status_code,
            next=target,
            email=email,
            error=exc.message,
        )
    return _start_session(request, session, settings, user, now=now, target=target)


def _start_session(
    request: Request,
    session: SessionDep,
    settings: Settings,
    user: User,
    *,
    now: datetime,
    target: str,
    flash: str | None = None,
) -> Response:
    """Sign `user` in and go to `target`, through the code step when two-factor is on."""
    started = signin.start_session(
        session,
        user=user,
        now=now,
        ip=auth.client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    if not started.session.verified:
        target = f"/admin/signin/code?next={_quoted(target)}"
    response = redirect(target, flash=flash)
    auth.set_session_cookie(response, settings, started.token)
    return response


def _quoted(url: str) -> str:
    return quote(url, safe="")


def _pending(request: Request, session: SessionDep, settings: Settings) -> SignInSession | None:
    row = auth.current_session(request, session, settings)
    return row if row is not None and not row.verified else None


@router.get("/signin/code", response_class=HTMLResponse)
def code_form(
    request: Request, session: SessionDep, settings: SettingsDep, next: str = ""
) -> Response:
    row = _pending(request, session, settings)
    if row is None:
        return redirect("/admin/signin")
    return render(
        request,
        "admin/signin_code.html",
        csrf_key=row.csrf_token,
        next=auth.safe_next(next),
        error=None,
    )


@router.post("/signin/code", response_class=HTMLResponse)
async def code_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    code: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    row = _pending(request, session, settings)
    if row is None:
        return redirect("/admin/signin")
    await auth.check_csrf(request, row.csrf_token, settings)
    try:
        signin.verify_second_factor(
            session, row=row, code=code, now=utcnow(), ip=auth.client_ip(request)
        )
    except DomainError as exc:
        return render(
            request,
            "admin/signin_code.html",
            csrf_key=row.csrf_token,
            status_code=exc.status_code,
            next=auth.safe_next(next),
            error=exc.message,
        )
    return redirect(auth.safe_next(next))


@router.post("/signout")
async def signout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    row = auth.current_session(request, session, settings)
    if row is not None:
        await auth.check_csrf(request, row.csrf_token, settings)
        signin.end_session(session, row)
    response = redirect("/admin/signin", flash="You are signed out.")
    auth.clear_session_cookie(response)
    return response


# --- first run ----------------------------------------------------------------------------


def _token_ok(settings: Settings, token: str) -> bool:
    return hmac.compare_digest(token.encode(), signin.setup_token(settings).encode())


@router.get("/setup", response_class=HTMLResponse)
def setup_form(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    if not signin.nobody_can_sign_in(session):
        return redirect("/admin/signin")
    return _form(
        request,
        settings,
        "admin/setup.html",
        token=token if _token_ok(settings, token) else None,
        error=None,
        email="",
    )


@router.post("/setup", response_class=HTMLResponse)
async def setup_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: _Text = "",
    password: _Text = "",
    token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The first account, owner of the default page. It needs the setup token that the
    server prints in its log (security.md 58), so an install exposed before anyone signed
    up cannot be claimed by whoever finds it first."""
    await _check(request, settings)
    if not signin.nobody_can_sign_in(session):
        return redirect("/admin/signin")
    if not _token_ok(settings, token):
        return _form(
            request, settings, "admin/setup.html", status_code=403, token=None, error=None, email=""
        )
    page = pages.ensure_default_page(session, name=settings.page_name)
    try:
        data = UserCreate(email=email, password=password, role=Role.OWNER)
        user = accounts.create_user(session, page=page, data=data, actor=Actor("setup"))
    except (DomainError, ValueError) as exc:
        message = exc.message if isinstance(exc, DomainError) else _first_error(exc)
        return _form(
            request,
            settings,
            "admin/setup.html",
            status_code=422,
            token=token,
            error=message,
            email=email,
        )
    return _start_session(
        request,
        session,
        settings,
        user,
        now=utcnow(),
        target=f"/admin/pages/{page.id}",
        flash="Welcome! Your account owns this page.",
    )


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        if field == "email":
            return "enter a valid email address"
        if field == "password":
            return "the password must have at least 10 characters"
        return f"{field}: {first.get('msg')}"
    return str(exc)


# --- password reset -----------------------------------------------------------------------


@router.get("/reset", response_class=HTMLResponse)
def reset_form(request: Request, settings: SettingsDep) -> Response:
    return _form(request, settings, "admin/reset.html", sent=False, error=None)


@router.post("/reset", response_class=HTMLResponse)
async def reset_submit(
    request: Request, session: SessionDep, settings: SettingsDep, email: _Text = ""
) -> Response:
    await _check(request, settings)
    wait = _limited(session, request, "reset", RESET_LIMIT)
    if not wait:
        invites.request_reset(
            session,
            email=email,
            secret=settings.resolved_secret_key(),
            base_url=settings.base_url,
            now=utcnow(),
        )
    # The same answer whether or not the address has an account (no enumeration).
    return _form(request, settings, "admin/reset.html", sent=True, error=None)


@router.get("/reset/{user_id}/{token}", response_class=HTMLResponse)
def new_password_form(
    user_id: str, token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    invites.user_for_reset(
        session, user_id=user_id, token=token, secret=settings.resolved_secret_key(), now=utcnow()
    )
    return _form(request, settings, "admin/new_password.html", error=None)


@router.post("/reset/{user_id}/{token}", response_class=HTMLResponse)
async def new_password_submit(
    user_id: str,
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    password: _Text = "",
) -> Response:
    await _check(request, settings)
    now = utcnow()
    user = invites.user_for_reset(
        session, user_id=user_id, token=token, secret=settings.resolved_secret_key(), now=now
    )
    actor = Actor(user.email, user_id=user.id, ip=auth.client_ip(request))
    try:
        signin.change_password(session, user=user, new_password=password, now=now, actor=actor)
    except DomainError as exc:
        return _form(
            request, settings, "admin/new_password.html", status_code=422, error=exc.message
        )
    signin.end_other_sessions(session, user_id=user.id, keep=None)
    return redirect("/admin/signin", flash="Your password is changed: sign in with it.")


# --- invitations --------------------------------------------------------------------------


@router.get("/invitations/{token}", response_class=HTMLResponse)
def invitation_form(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    invitation = invites.find_invitation(session, token, now=utcnow())
    return _invitation_form(request, session, settings, invitation)


def _invitation_form(
    request: Request,
    session: SessionDep,
    settings: Settings,
    invitation: Invitation,
    *,
    status_code: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    return _form(
        request,
        settings,
        "admin/invitation.html",
        status_code=status_code,
        invitation=invitation,
        invited_page=pages.get_page(session, invitation.page_id),
        has_account=accounts.find_user(session, invitation.email) is not None,
        error=error,
    )


@router.post("/invitations/{token}", response_class=HTMLResponse)
async def invitation_accept(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    password: _Text = "",
) -> Response:
    await _check(request, settings)
    now = utcnow()
    invitation = invites.find_invitation(session, token, now=now)
    page = pages.get_page(session, invitation.page_id)
    try:
        user = invites.accept(
            session,
            invitation=invitation,
            password=password,
            signed_in=None,
            now=now,
            ip=auth.client_ip(request),
        )
    except DomainError as exc:
        return _invitation_form(
            request, session, settings, invitation, status_code=exc.status_code, error=exc.message
        )
    return _start_session(
        request,
        session,
        settings,
        user,
        now=now,
        target=f"/admin/pages/{page.id}",
        flash=f"Welcome to {page.name}.",
    )


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def admin_home(request: Request, session: SessionDep, signed: SignedDep) -> Response:
    """Straight to the page when there is one; a list to choose from otherwise."""
    memberships = accounts.pages_of_user(session, user_id=signed.user.id)
    if len(memberships) == 1:
        return redirect(f"/admin/pages/{memberships[0][0].id}")
    return render(request, "admin/pages.html", signed=signed, memberships=memberships)
