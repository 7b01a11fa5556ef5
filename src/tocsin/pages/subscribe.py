"""The public subscribe form and the pages that subscription emails link to.

- `/subscribe`: the form. Every answer to a valid post is the same "check your email"
  page, whether the address is new, already subscribed or came back (no enumeration);
  only a new or still unconfirmed subscription gets a confirmation email.
- `/subscriptions/confirm/{id}`, `/subscriptions/{id}` (manage) and
  `/subscriptions/unsubscribe/{id}` carry a signed token (`notify.links`). A GET only
  shows a page with a button, because link scanners fetch GET links; the change is a
  POST. The unsubscribe POST is RFC 8058's one-click: it needs nothing but the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import NotFound
from tocsin.lib import csrf, ratelimit
from tocsin.lib.ratelimit import Decision, Limit
from tocsin.lib.templating import html_environment
from tocsin.notify import enrolment, links
from tocsin.notify import service as subscribers
from tocsin.notify.models import Subscriber, SubscriberState
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages import i18n
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.render import valid_accent, web_url
from tocsin.settings import Settings

router = APIRouter(include_in_schema=False)

# security.md D.21: per client, per address (at most 3 confirmations a day) and per page,
# all checked before anything is written or queued.
CLIENT_LIMIT = Limit(limit=5, per_seconds=3600)
ADDRESS_LIMIT = Limit(limit=3, per_seconds=86400)
PAGE_LIMIT = Limit(limit=500, per_seconds=3600)

CSRF_COOKIE = "tocsin_csrf"
_TOKEN = Annotated[str, Query(max_length=200)]
_HTML = "text/html; charset=utf-8"
_CONTROL = frozenset(map(chr, [*range(32), 127]))


class SubscribeForm(BaseModel):
    email: str = Field(default="", max_length=1000)
    component_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=1000
    )
    csrf_token: str = Field(default="", max_length=200)
    # A honeypot: hidden from people, filled in by naive bots.
    website: str = Field(default="", max_length=1000)


class ComponentsForm(BaseModel):
    component_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=1000
    )


@dataclass(frozen=True)
class Choice:
    """A component or a group (with its components) to tick on the form."""

    id: str
    name: str
    children: tuple[Choice, ...] = ()


# --- the form ------------------------------------------------------------------------------


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    page = _host_page(request, session)
    return _form(request, session, settings, page, SubscribeForm())


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[SubscribeForm, Form()],
) -> Response:
    page = _host_page(request, session)
    client = _client(request)
    refused = _hit(session, f"subscribe:client:{client}", CLIENT_LIMIT)
    if refused is not None:
        return _too_many(page, refused)
    if not _csrf_ok(request, settings, form.csrf_token):
        error = "This form has expired. Please submit it again."
        return _form(request, session, settings, page, form, error=error, status=403)
    if form.website:
        return _sent(page)
    try:
        data = _subscriber_data(session, page, form)
    except ValueError as exc:
        return _form(request, session, settings, page, form, error=str(exc), status=422)
    refused = _hit(session, f"subscribe:address:{page.id}:{data.email}", ADDRESS_LIMIT) or _hit(
        session, f"subscribe:page:{page.id}", PAGE_LIMIT
    )
    if refused is not None:
        return _too_many(page, refused)
    # A confirmed address hears nothing more (its every message carries a manage link); one
    # still unconfirmed gets its confirmation again. The requester learns neither.
    actor = Actor("subscribe form", ip=client)
    enrolment.enrol(session, page=page, data=data, actor=actor, resend=True)
    return _sent(page)


def _subscriber_data(session: Session, page: Page, form: SubscribeForm) -> SubscriberCreate:
    """The validated subscription; ValueError with a message for the person otherwise."""
    # CR, LF and NUL would be stripped by the address check; refuse them outright instead.
    if not form.email.strip() or _CONTROL.intersection(form.email):
        raise ValueError("Enter a valid email address.")
    known = {choice.id for choice in _flatten(_choices(session, page))}
    if not known.issuperset(form.component_ids):
        raise ValueError("Choose components from the list.")
    try:
        return SubscriberCreate(
            mode="email", email=form.email, component_ids=form.component_ids or None
        )
    except ValidationError:
        raise ValueError("Enter a valid email address.") from None


def _form(
    request: Request,
    session: Session,
    settings: Settings,
    page: Page,
    form: SubscribeForm,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The form, filled in with what was sent, and a fresh CSRF token and cookie."""
    nonce = csrf.nonce(request.cookies.get(CSRF_COOKIE))
    response = _render(
        "pages/subscribe.html",
        page,
        status=status,
        email=form.email,
        chosen=set(form.component_ids),
        choices=_choices(session, page),
        error=error,
        csrf_token=csrf.token(_csrf_key(settings, nonce)),
    )
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        path="/subscribe",
        httponly=True,
        samesite="lax",
        secure=settings.base_url.startswith("https://"),
    )
    return response


def _sent(page: Page) -> Response:
    return _render("pages/subscribe_sent.html", page)


def _too_many(page: Page, refused: Decision) -> Response:
    return _render(
        "pages/subscribe_limited.html",
        page,
        status=429,
        headers={"Retry-After": str(refused.retry_after)},
    )


def _hit(session: Session, key: str, limit: Limit) -> Decision | None:
    """None if allowed, else the refusal."""
    decision = ratelimit.hit(session, key, limit)
    return None if decision.allowed else decision


def _client(request: Request) -> str:
    # The server's view of the peer: behind a proxy, list it in TOCSIN_FORWARDED_ALLOW_IPS
    # so this is the real client, never a header anyone can send.
    return request.client.host if request.client else "unknown"


# --- CSRF: a signed double submit -----------------------------------------------------------


def _csrf_key(settings: Settings, nonce: str) -> str:
    # Keyed by the secret key as well as the nonce: whoever could set the cookie from
    # elsewhere still could not compute a token for it.
    return f"{settings.resolved_secret_key()}:subscribe-form:{nonce}"


def _csrf_ok(request: Request, settings: Settings, token: str) -> bool:
    """The form's token matches the cookie, and the post does not come from another site.

    Another site can neither read nor set our cookie, so it cannot forge a matching pair:
    this stops pages elsewhere from spreading subscription bombing across their visitors.
    """
    nonce = request.cookies.get(CSRF_COOKIE, "")
    return (
        csrf.same_origin(request.headers, settings.base_url)
        and bool(nonce)
        and csrf.matches(_csrf_key(settings, nonce), token)
    )


# --- confirm ------------------------------------------------------------------------------


@router.get("/subscriptions/confirm/{subscriber_id}", response_class=HTMLResponse)
def confirm_page(
    subscriber_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: _TOKEN = "",
) -> Response:
    subscriber, problem = _confirmable(session, settings, subscriber_id, token)
    if subscriber is None:
        return problem or _invalid(request, session)
    return _render(
        "pages/subscription_confirm.html",
        _page_of(session, subscriber),
        private=True,
        action=_url("/subscriptions/confirm", subscriber.id, token),
    )


@router.post("/subscriptions/confirm/{subscriber_id}", response_class=HTMLResponse)
def confirm(
    subscriber_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: _TOKEN = "",
) -> Response:
    subscriber, problem = _confirmable(session, settings, subscriber_id, token)
    if subscriber is None:
        return problem or _invalid(request, session)
    page = _page_of(session, subscriber)
    if subscriber.unsubscribed_at is not None:
        return _unsubscribed(page, status=409)
    subscribers.confirm(session, subscriber=subscriber, actor=_actor(request))
    return _render(
        "pages/subscription_confirmed.html",
        page,
        private=True,
        manage_url=_signed(settings, links.MANAGE, "/subscriptions", subscriber),
    )


def _confirmable(
    session: Session, settings: Settings, subscriber_id: str, token: str
) -> tuple[Subscriber | None, Response | None]:
    """The subscriber if the confirmation token is good; else the page to show, if any
    (an expired link gets its own, and only a link we signed can tell that)."""
    subscriber = subscribers.find_subscriber(session, subscriber_id)
    if subscriber is None:
        return None, None
    secret = settings.resolved_secret_key()
    if links.check(secret, links.CONFIRM, subscriber, token):
        return subscriber, None
    if token.partition(".")[0] and links.check(secret, links.CONFIRM, subscriber, token, now=0):
        page = _page_of(session, subscriber)
        return None, _render("pages/subscription_expired.html", page, status=410, private=True)
    return None, None


# --- manage ---------------------------------------------------------------------------------


@router.get("/subscriptions/{subscriber_id}", response_class=HTMLResponse)
def manage_page(
    subscriber_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: _TOKEN = "",
) -> Response:
    subscriber = _checked(session, settings, links.MANAGE, subscriber_id, token)
    if subscriber is None:
        return _invalid(request, session)
    return _manage(session, settings, subscriber, token)


@router.post("/subscriptions/{subscriber_id}", response_class=HTMLResponse)
def manage(
    subscriber_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[ComponentsForm, Form()],
    token: _TOKEN = "",
) -> Response:
    subscriber = _checked(session, settings, links.MANAGE, subscriber_id, token)
    if subscriber is None:
        return _invalid(request, session)
    if subscriber.state is SubscriberState.UNSUBSCRIBED or subscriber.incident_id is not None:
        return _manage(session, settings, subscriber, token)
    page = _page_of(session, subscriber)
    known = {choice.id for choice in _flatten(_choices(session, page))}
    if not known.issuperset(form.component_ids):
        error = "Choose components from the list."
        return _manage(session, settings, subscriber, token, error=error, status=422)
    subscribers.update_components(
        session,
        subscriber=subscriber,
        component_ids=form.component_ids or None,
        actor=_actor(request),
    )
    return _manage(session, settings, subscriber, token, saved=True)


def _manage(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    token: str,
    *,
    saved: bool = False,
    error: str | None = None,
    status: int = 200,
) -> Response:
    page = _page_of(session, subscriber)
    if subscriber.state is SubscriberState.UNSUBSCRIBED:
        return _unsubscribed(page)
    chosen = {link.component_id for link in subscriber.components}
    return _render(
        "pages/subscription_manage.html",
        page,
        status=status,
        private=True,
        subscriber=subscriber,
        choices=_choices(session, page) if subscriber.incident_id is None else [],
        chosen=chosen,
        saved=saved,
        error=error,
        action=_url("/subscriptions", subscriber.id, token),
        unsubscribe_url=_signed(
            settings, links.UNSUBSCRIBE, "/subscriptions/unsubscribe", subscriber
        ),
    )


# --- unsubscribe ----------------------------------------------------------------------------


@router.get("/subscriptions/unsubscribe/{subscriber_id}", response_class=HTMLResponse)
def unsubscribe_page(
    subscriber_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: _TOKEN = "",
) -> Response:
    subscriber = _checked(session, settings, links.UNSUBSCRIBE, subscriber_id, token)
    if subscriber is None:
        return _invalid(request, session)
    page = _page_of(session, subscriber)
    if subscriber.state is SubscriberState.UNSUBSCRIBED:
        return _unsubscribed(page)
    action = _url("/subscriptions/unsubscribe", subscriber.id, token)
    return _render("pages/subscription_unsubscribe.html", page, private=True, action=action)


@router.post("/subscriptions/unsubscribe/{subscriber_id}", response_class=HTMLResponse)
def unsubscribe(
    subscriber_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: _TOKEN = "",
) -> Response:
    """RFC 8058 one-click: the mail client posts `List-Unsubscribe=One-Click`, and no
    other input (nor cookie) is needed. Whatever the body, the signed URL is the proof."""
    subscriber = _checked(session, settings, links.UNSUBSCRIBE, subscriber_id, token)
    if subscriber is None:
        return _invalid(request, session)
    subscribers.unsubscribe(session, subscriber=subscriber, actor=_actor(request))
    return _unsubscribed(_page_of(session, subscriber))


def _unsubscribed(page: Page, *, status: int = 200) -> Response:
    return _render("pages/subscription_unsubscribed.html", page, status=status, private=True)


# --- shared ---------------------------------------------------------------------------------


def _checked(
    session: Session, settings: Settings, purpose: str, subscriber_id: str, token: str
) -> Subscriber | None:
    """The subscriber, if `token` is its signed token for `purpose`."""
    subscriber = subscribers.find_subscriber(session, subscriber_id)
    secret = settings.resolved_secret_key()
    if subscriber is None or not links.check(secret, purpose, subscriber, token):
        return None
    return subscriber


def _invalid(request: Request, session: Session) -> Response:
    """The same answer for an unknown id and a bad token, so ids cannot be probed."""
    page = pages.page_for_host(session, request.headers.get("host"))
    return _render("pages/subscription_invalid.html", page, status=404, private=True)


def _actor(request: Request) -> Actor:
    return Actor("subscriber", ip=_client(request))


def _host_page(request: Request, session: Session) -> Page:
    page = pages.page_for_host(session, request.headers.get("host"))
    if page is None:
        raise NotFound("this install has no status page yet; run `tocsin migrate`")
    return page


def _page_of(session: Session, subscriber: Subscriber) -> Page:
    return pages.get_page(session, subscriber.page_id)


def _url(path: str, subscriber_id: str, token: str) -> str:
    return f"{path}/{subscriber_id}?token={quote(token, safe='')}"


def _signed(settings: Settings, purpose: str, path: str, subscriber: Subscriber) -> str:
    token = links.token(settings.resolved_secret_key(), purpose, subscriber)
    return _url(path, subscriber.id, token)


def _choices(session: Session, page: Page) -> list[Choice]:
    """Groups with their components, and ungrouped components, in page order."""
    rows = components.list_components(session, page.id)
    members: dict[str, list[Choice]] = {}
    for row in rows:
        if row.group_id is not None:
            members.setdefault(row.group_id, []).append(Choice(row.id, row.name))
    return [
        Choice(row.id, row.name, tuple(members.get(row.id, ())))
        for row in rows
        if row.group_id is None
    ]


def _flatten(choices: list[Choice]) -> list[Choice]:
    return [c for choice in choices for c in (choice, *choice.children)]


@cache
def _environment() -> Environment:
    env = html_environment("tocsin.pages")
    i18n.install(env)
    return env


def _render(
    template: str,
    page: Page | None,
    *,
    status: int = 200,
    private: bool = False,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Response:
    """A page in the status page's layout. Nothing here may be cached; `private` pages
    carry a token in their address, which must not leak through the Referer header."""
    html = (
        _environment()
        .get_template(template)
        .render(
            page=page,
            accent=valid_accent(page.accent_color) if page else None,
            logo_url=web_url(page.logo_url, allow_root_relative=True) if page else None,
            language=i18n.language(page.language if page else None),
            **context,
        )
    )
    all_headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", **(headers or {})}
    if private:
        all_headers["Referrer-Policy"] = "no-referrer"
    return Response(html.encode(), status_code=status, media_type=_HTML, headers=all_headers)
