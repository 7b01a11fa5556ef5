"""The signed-in person's own account: password, two-factor, sessions and API keys.

Every change to the account itself asks for the password (or, to turn two-factor off, a
code) again, so a browser left signed in cannot be used to take the account over.
"""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tocsin.accounts import service as accounts
from tocsin.accounts import signin
from tocsin.accounts.schemas import ApiKeyCreate
from tocsin.admin.auth import Signed, SignedDep, csrf_protect
from tocsin.admin.render import redirect, render
from tocsin.db import utcnow
from tocsin.deps import SessionDep
from tocsin.errors import DomainError

router = APIRouter(
    prefix="/admin/account",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

_Secret = Annotated[str, Form(max_length=1024)]
_Code = Annotated[str, Form(max_length=64)]
_HOME = "/admin/account"
_KEYS = "/admin/account/keys"


def _account(
    request: Request,
    signed: Signed,
    session: Session,
    *,
    status_code: int = 200,
    **errors: str | None,
) -> Response:
    return render(
        request,
        "admin/account.html",
        signed=signed,
        status_code=status_code,
        sessions=signin.live_sessions(session, user_id=signed.user.id, now=utcnow()),
        current=signed.row.token_hash,
        password_error=errors.get("password_error"),
        totp_error=errors.get("totp_error"),
    )


@router.get("", response_class=HTMLResponse)
def account(request: Request, signed: SignedDep, session: SessionDep) -> Response:
    return _account(request, signed, session)


@router.post("/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    signed: SignedDep,
    session: SessionDep,
    current_password: _Secret = "",
    new_password: _Secret = "",
) -> Response:
    now = utcnow()
    try:
        signin.confirm_identity(session, user=signed.user, password=current_password, now=now)
        signin.change_password(
            session, user=signed.user, new_password=new_password, now=now, actor=signed.actor
        )
    except DomainError as exc:
        return _account(
            request, signed, session, status_code=exc.status_code, password_error=exc.message
        )
    signin.end_other_sessions(session, user_id=signed.user.id, keep=signed.row.token_hash)
    return redirect(_HOME, flash="Password changed. Every other browser is signed out.")


@router.post("/sessions/end-others")
def end_other_sessions(signed: SignedDep, session: SessionDep) -> Response:
    signin.end_other_sessions(session, user_id=signed.user.id, keep=signed.row.token_hash)
    return redirect(_HOME, flash="Signed out everywhere else.")


# --- two-factor ---------------------------------------------------------------------------


@router.post("/two-factor/start")
def start_two_factor(request: Request, signed: SignedDep, session: SessionDep) -> Response:
    try:
        signin.begin_totp(signed.user)
    except DomainError as exc:
        return _account(
            request, signed, session, status_code=exc.status_code, totp_error=exc.message
        )
    return redirect(f"{_HOME}/two-factor")


def _setup(
    request: Request, signed: Signed, *, status_code: int = 200, error: str | None = None
) -> Response:
    secret = signed.user.totp_secret or ""
    uri = signin.provisioning_uri(signed.user, secret)
    return render(
        request,
        "admin/account_two_factor.html",
        signed=signed,
        status_code=status_code,
        qr=segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff"),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        error=error,
    )


@router.get("/two-factor", response_class=HTMLResponse)
def two_factor(request: Request, signed: SignedDep) -> Response:
    if signed.user.totp_enabled_at is not None or not signed.user.totp_secret:
        return redirect(_HOME)
    return _setup(request, signed)


@router.post("/two-factor/confirm", response_class=HTMLResponse)
def confirm_two_factor(
    request: Request, signed: SignedDep, session: SessionDep, code: _Code = ""
) -> Response:
    if signed.user.totp_enabled_at is not None or not signed.user.totp_secret:
        return redirect(_HOME)
    try:
        codes = signin.enable_totp(
            session, user=signed.user, code=code, now=utcnow(), actor=signed.actor
        )
    except DomainError as exc:
        return _setup(request, signed, status_code=exc.status_code, error=exc.message)
    # A password alone no longer signs in: browsers signed in with one must sign in again.
    signin.end_other_sessions(session, user_id=signed.user.id, keep=signed.row.token_hash)
    return render(request, "admin/account_recovery.html", signed=signed, codes=codes)


@router.post("/two-factor/disable", response_class=HTMLResponse)
def disable_two_factor(
    request: Request,
    signed: SignedDep,
    session: SessionDep,
    password: _Secret = "",
    code: _Code = "",
) -> Response:
    try:
        signin.confirm_identity(
            session, user=signed.user, password=password, code=code, now=utcnow()
        )
    except DomainError as exc:
        return _account(
            request, signed, session, status_code=exc.status_code, totp_error=exc.message
        )
    signin.disable_totp(session, user=signed.user, actor=signed.actor)
    return redirect(_HOME, flash="Two-factor is off: your password alone signs you in.")


# --- API keys -----------------------------------------------------------------------------


def _keys(
    request: Request,
    signed: Signed,
    session: Session,
    *,
    status_code: int = 200,
    error: str | None = None,
    created: accounts.NewApiKey | None = None,
    **kept: Any,
) -> Response:
    memberships = accounts.pages_of_user(session, user_id=signed.user.id)
    return render(
        request,
        "admin/api_keys.html",
        signed=signed,
        status_code=status_code,
        keys=accounts.list_keys(session, user_id=signed.user.id),
        memberships=memberships,
        page_names={page.id: page.name for page, _ in memberships},
        created=created,
        error=error,
        name=kept.get("name", ""),
        scope=kept.get("scope", "all"),
        chosen=kept.get("chosen", []),
    )


@router.get("/keys", response_class=HTMLResponse)
def keys(request: Request, signed: SignedDep, session: SessionDep) -> Response:
    return _keys(request, signed, session)


@router.post("/keys", response_class=HTMLResponse)
def create_key(
    request: Request,
    signed: SignedDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=255)] = "",
    scope: Annotated[str, Form(max_length=10)] = "all",
    page_id: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = page_id or []
    kept: dict[str, Any] = {"name": name, "scope": scope, "chosen": chosen}
    try:
        data = ApiKeyCreate(name=name, page_ids=None if scope == "all" else chosen)
        created = accounts.create_api_key(session, user=signed.user, data=data, actor=signed.actor)
    except ValidationError as exc:
        error = _key_error(exc)
        return _keys(request, signed, session, status_code=422, error=error, **kept)
    except DomainError as exc:
        return _keys(
            request, signed, session, status_code=exc.status_code, error=exc.message, **kept
        )
    # The secret is in this response only: no redirect, so it is never stored anywhere.
    return _keys(request, signed, session, created=created)


def _key_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if first["loc"] and first["loc"][0] == "name":
        return "give the key a name (255 characters at most)"
    return "choose pages from the list"


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: str, signed: SignedDep, session: SessionDep) -> Response:
    key = accounts.get_own_key(session, user_id=signed.user.id, key_id=key_id)
    accounts.revoke_api_key(session, key=key, actor=signed.actor)
    return redirect(_KEYS, flash=f"The key “{key.name}” is revoked.")
