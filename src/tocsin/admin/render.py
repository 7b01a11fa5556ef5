"""Admin HTML: one Jinja environment, one CSP, and flash messages across redirects."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from tocsin.admin.auth import OnPage, Signed
from tocsin.components.status import LABELS as COMPONENT_LABELS
from tocsin.incidents.status import LABELS as INCIDENT_LABELS
from tocsin.lib import csrf
from tocsin.lib.markdown import render_markdown
from tocsin.lib.templating import html_environment
from tocsin.lib.timefmt import format_timestamp
from tocsin.pages.models import Page

# The admin runs its own small scripts (preview, confirmations); still nothing inline.
ADMIN_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
FLASH_COOKIE = "tocsin_flash"
_HTML = "text/html; charset=utf-8"


@cache
def environment() -> Environment:
    env = html_environment("tocsin.admin")
    env.filters.update(markdown=render_markdown, when=when, masked=masked)
    env.globals.update(
        component_labels=COMPONENT_LABELS,
        incident_labels=INCIDENT_LABELS,
        page_public_url=page_public_url,
    )
    return env


def when(moment: datetime | None, page: Page) -> str:
    """A time as the public page shows it: in the page's zone, `%a, %b %d, %Y, %I:%M %p`."""
    if moment is None:
        return ""
    try:
        zone = ZoneInfo(page.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return format_timestamp(moment, zone)


def masked(address: str) -> str:
    """A webhook URL with its secret part hidden (Slack, Discord and Teams URLs are
    credentials, security.md 19): scheme and host, then the last four characters."""
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return address
    host = parts.hostname or ""
    rest = address[len(f"{parts.scheme}://{parts.netloc}") :]
    if len(rest) <= 4:
        return f"{parts.scheme}://{host}{rest}"
    return f"{parts.scheme}://{host}/…{rest[-4:]}"


def page_public_url(page: Page) -> str:
    return page.url or "/"


def render(
    request: Request,
    template: str,
    *,
    ctx: OnPage | None = None,
    signed: Signed | None = None,
    status_code: int = 200,
    csrf_key: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render an admin screen. `ctx` (or `signed`) gives the chrome: the user, the page,
    the role and the form token; `csrf_key` serves screens before sign-in."""
    signed = ctx.signed if ctx is not None else signed
    key = csrf_key if csrf_key is not None else (signed.row.csrf_token if signed else "")
    flash = request.cookies.get(FLASH_COOKIE)
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            ctx=ctx,
            signed=signed,
            user=signed.user if signed else None,
            page=ctx.page if ctx else None,
            role=ctx.role.value if ctx else None,
            csrf=csrf.token(key) if key else "",
            flash=unquote(flash)[:300] if flash else None,
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status_code, media_type=_HTML)
    secure_admin(response)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/admin")
    return response


def secure_admin(response: Response) -> None:
    response.headers["content-security-policy"] = ADMIN_CSP
    # Admin pages hold private data: never kept by a shared cache or the back button.
    response.headers["cache-control"] = "no-store"


def redirect(url: str, *, flash: str | None = None) -> RedirectResponse:
    """303 after a successful post (so a reload does not post twice), with a message."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(
            FLASH_COOKIE, quote(flash[:300]), httponly=True, samesite="lax", path="/admin"
        )
    response.headers["cache-control"] = "no-store"
    return response
