"""Who is signed in, on which page, with which role; and CSRF on every form.

The session cookie holds a random token, signed with the secret key (so a forged cookie
is refused before any lookup) and stored only as a digest. Every admin URL names its page
(`/admin/pages/{page_id}/…`), and every request checks the signed-in user's role on
that page: an id from another page answers 404, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from tocsin.accounts import service as accounts
from tocsin.accounts import signin
from tocsin.accounts.models import Role, SignInSession, User
from tocsin.audit.service import Actor
from tocsin.db import utcnow
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import DomainError, NotFound, PermissionDenied
from tocsin.lib import csrf, signing
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.settings import Settings

SESSION_COOKIE = "tocsin_session"
PRE_SESSION_COOKIE = "tocsin_signin"
_COOKIE_PURPOSE = "admin-session"


class SignInRequired(DomainError):
    """Raised for a request without a live session; answered with a redirect to sign in."""

    status_code = 401

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in first")
        self.next_url = next_url


class CsrfRefused(DomainError):
    status_code = 403


@dataclass(frozen=True)
class Signed:
    """The signed-in user and their session."""

    user: User
    row: SignInSession
    ip: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.user.email, user_id=self.user.id, ip=self.ip)


@dataclass(frozen=True)
class OnPage:
    """A signed-in user acting on one page with their role there."""

    signed: Signed
    page: Page
    role: Role

    @property
    def user(self) -> User:
        return self.signed.user

    @property
    def actor(self) -> Actor:
        return self.signed.actor

    def can(self, needed: Role) -> bool:
        return accounts.has_role(self.role, needed)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def cookie_value(settings: Settings, token: str) -> str:
    return f"{token}.{signing.sign(settings.resolved_secret_key(), _COOKIE_PURPOSE, token)}"


def token_from_cookie(settings: Settings, value: str) -> str | None:
    token, _, signature = value.partition(".")
    if not token or not signature:
        return None
    ok = signing.verify(settings.resolved_secret_key(), _COOKIE_PURPOSE, token, signature)
    return token if ok else None


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie_value(settings, token),
        max_age=int(signin.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def _next_url(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def current_session(
    request: Request, session: SessionDep, settings: SettingsDep
) -> SignInSession | None:
    raw = request.cookies.get(SESSION_COOKIE)
    token = token_from_cookie(settings, raw) if raw else None
    if token is None:
        return None
    return signin.find_session(session, token, now=utcnow())


def require_signed_in(
    request: Request,
    session: SessionDep,
    row: Annotated[SignInSession | None, Depends(current_session)],
) -> Signed:
    if row is None or not row.verified:
        raise SignInRequired(_next_url(request))
    user = session.get(User, row.user_id)
    assert user is not None
    return Signed(user=user, row=row, ip=client_ip(request))


SignedDep = Annotated[Signed, Depends(require_signed_in)]


def on_page(page_id: str, signed: SignedDep, session: SessionDep) -> OnPage:
    """The page in the URL, if the signed-in user has any role on it."""
    role = accounts.role_on(session, user_id=signed.user.id, page_id=page_id)
    if role is None:
        raise NotFound("there is no such page, or you are not a member of it")
    return OnPage(signed=signed, page=pages.get_page(session, page_id), role=role)


OnPageDep = Annotated[OnPage, Depends(on_page)]


def needs(ctx: OnPage, role: Role) -> None:
    """Refuse unless the user's role on the page is at least `role`."""
    if not ctx.can(role):
        raise PermissionDenied(
            f"your role on {ctx.page.name} is {ctx.role.value}; this needs {role.value} or above"
        )


# --- CSRF ---------------------------------------------------------------------------------


async def check_csrf(request: Request, key: str, settings: Settings) -> None:
    if not csrf.same_origin(request.headers, settings.base_url):
        raise CsrfRefused("this form was posted from another site and was refused")
    presented = request.headers.get("x-csrf-token")
    if presented is None:
        form = await request.form()
        value = form.get("csrf_token")
        presented = value if isinstance(value, str) else ""
    if not csrf.matches(key, presented):
        raise CsrfRefused(
            "the form expired or did not come from this site: go back, reload and try again"
        )


async def csrf_protect(
    request: Request,
    settings: SettingsDep,
    row: Annotated[SignInSession | None, Depends(current_session)],
) -> None:
    """For every unsafe method of a signed-in screen: the session's token must come back."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if row is None:
        raise SignInRequired(_next_url(request))
    await check_csrf(request, row.csrf_token, settings)


def set_pre_session_cookie(response: Response, settings: Settings, nonce: str) -> None:
    response.set_cookie(
        PRE_SESSION_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=settings.base_url.startswith("https://"),
        path="/admin",
    )


def sign_in_redirect(next_url: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/signin?next={quote(next_url, safe='')}", status_code=303)


def safe_next(value: str | None, default: str = "/admin") -> str:
    """Only a path on this site (no `//host`, no scheme): no open redirect after sign-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ch in value for ch in "\r\n\t"):
        return default
    return value
