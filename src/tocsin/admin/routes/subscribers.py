"""Subscribers (list, add, import, export, unsubscribe) and the delivery log.

Everyone on the page may read the lists and the log; admins and owners change them and
export the list (a file of personal data leaves the admin with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session

from tocsin.accounts.models import Role
from tocsin.admin.auth import OnPage, OnPageDep, csrf_protect, needs
from tocsin.admin.render import redirect, render, secure_admin
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.db import utcnow
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import DomainError, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.notify import deliveries, enrolment, worker
from tocsin.notify import service as subscribers
from tocsin.notify.deliveries import LogFilter
from tocsin.notify.enrolment import ImportOptions
from tocsin.notify.models import DeliveryStatus, NotificationKind, Subscriber
from tocsin.notify.schemas import BulkAction, Mode, StateFilter, SubscriberListing

router = APIRouter(
    prefix="/admin/pages/{page_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

PER_PAGE = 50
# Keeps (page - 1) * PER_PAGE inside what every database accepts as OFFSET.
MAX_PAGE = 100_000
# The notifications summed up at the top of the page-wide delivery log.
RECENT_NOTIFICATIONS = 10
# An incident has one notification per update; far more than any real one posts.
INCIDENT_NOTIFICATIONS = 1000
CHANNELS = (
    ("email", "Email"),
    ("sms", "SMS"),
    ("webhook", "Webhook"),
    ("slack", "Slack"),
    ("discord", "Discord"),
    ("teams", "Microsoft Teams"),
)
STATES = (
    ("all", "Current (not unsubscribed)"),
    ("active", "Active"),
    ("unconfirmed", "Pending confirmation"),
    ("quarantined", "Quarantined"),
    ("unsubscribed", "Unsubscribed"),
)
STATUS_OPTIONS = [("", "Any status"), *((s.value, s.value.capitalize()) for s in DeliveryStatus)]
KINDS = {
    NotificationKind.INCIDENT_CREATED: "Incident opened",
    NotificationKind.INCIDENT_UPDATED: "Update",
    NotificationKind.INCIDENT_RESOLVED: "Resolved",
    NotificationKind.WRITEUP_PUBLISHED: "Write-up",
    NotificationKind.MAINTENANCE_SCHEDULED: "Maintenance scheduled",
    NotificationKind.MAINTENANCE_STARTED: "Maintenance started",
    NotificationKind.MAINTENANCE_UPDATED: "Maintenance update",
    NotificationKind.MAINTENANCE_COMPLETED: "Maintenance completed",
    NotificationKind.MAINTENANCE_REMINDER: "Maintenance reminder",
    NotificationKind.CONFIRM_SUBSCRIPTION: "Confirmation request",
}

Channel = Literal["", "email", "sms", "webhook", "slack", "discord", "teams"]
StatusParam = Literal["", "pending", "sending", "sent", "failed"]
Search = Annotated[str, Query(max_length=254)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]
_LIST_KEYS = ("q", "channel", "state", "page")


@dataclass(frozen=True)
class ListFilter:
    q: str = ""
    channel: Channel = ""
    state: StateFilter = "all"

    @property
    def mode(self) -> Mode | None:
        return self.channel or None

    def listing(self, number: int) -> SubscriberListing:
        # One row more than shown tells whether there is a next page.
        return SubscriberListing(
            mode=self.mode,
            state=self.state,
            q=self.q or None,
            offset=(number - 1) * PER_PAGE,
            limit=PER_PAGE + 1,
        )

    def query(self, number: int = 1) -> str:
        """The query string of this filter at page `number`."""
        pairs = {"q": self.q, "channel": self.channel, "state": self.state}
        if number > 1:
            pairs["page"] = str(number)
        return urlencode({k: v for k, v in pairs.items() if v and (k, v) != ("state", "all")})


@dataclass(frozen=True)
class Choice:
    """A top-level component, or a group with its components, on the component picker."""

    component: Component
    children: tuple[Component, ...]


class AddForm(BaseModel):
    mode: str = Field(default="email", max_length=20)
    email: str = Field(default="", max_length=2000)
    phone_number: str = Field(default="", max_length=200)
    phone_country: str = Field(default="", max_length=20)
    endpoint: str = Field(default="", max_length=4000)
    scope: str = Field(default="all", max_length=20)
    component_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=1000
    )
    skip_confirmation: list[str] = Field(default_factory=list, max_length=2)

    @property
    def address(self) -> str:
        if self.mode == "email":
            return self.email.strip()
        if self.mode == "sms":
            return self.phone_number.strip()
        return self.endpoint.strip()


class ComponentsForm(BaseModel):
    scope: str = Field(default="all", max_length=20)
    component_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=1000
    )


# --- the list --------------------------------------------------------------------------------


@router.get("/subscribers", response_class=HTMLResponse)
def list_screen(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    q: Search = "",
    channel: Channel = "",
    state: StateFilter = "all",
    page: PageNumber = 1,
) -> Response:
    where = ListFilter(q=q.strip(), channel=channel, state=state)
    rows = subscribers.list_subscribers(session, page_id=ctx.page.id, listing=where.listing(page))
    return render(
        request,
        "admin/subscribers.html",
        ctx=ctx,
        section="subscribers",
        tab="list",
        rows=rows[:PER_PAGE],
        has_next=len(rows) > PER_PAGE,
        number=page,
        where=where,
        counts=subscribers.count_by_mode_and_state(session, page_id=ctx.page.id),
        names=_names(session, ctx.page.id),
        channels=CHANNELS,
        channel_labels=dict(CHANNELS),
        states=STATES,
        state_labels=dict(STATES),
    )


@router.get("/subscribers/export.csv")
def export(
    ctx: OnPageDep,
    session: SessionDep,
    q: Search = "",
    channel: Channel = "",
    state: StateFilter = "all",
) -> Response:
    needs(ctx, Role.ADMIN)
    where = ListFilter(q=q.strip(), channel=channel, state=state)
    content = enrolment.export_csv(
        session, page_id=ctx.page.id, mode=where.mode, state=where.state, q=where.q or None
    )
    name = f"subscribers-{utcnow().date().isoformat()}.csv"
    response = Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
    secure_admin(response)
    return response


# --- adding one ----------------------------------------------------------------------------


@router.get("/subscribers/new", response_class=HTMLResponse)
def new_screen(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    needs(ctx, Role.ADMIN)
    return _add_form(request, ctx, session, AddForm())


@router.post("/subscribers/new", response_class=HTMLResponse)
def add(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[AddForm, Form()],
) -> Response:
    needs(ctx, Role.ADMIN)
    try:
        data = enrolment.subscriber_data(
            mode=form.mode,
            address=form.address,
            phone_country=form.phone_country.strip() or None,
            component_ids=_chosen(form.scope, form.component_ids),
            skip_confirmation="true" in form.skip_confirmation,
            allow_private=settings.webhooks_allow_private,
        )
        added = enrolment.enrol(session, page=ctx.page, data=data, actor=ctx.actor)
    except ValidationError as exc:
        return _add_form(request, ctx, session, form, error=enrolment.error_message(exc))
    except (ValueError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        return _add_form(request, ctx, session, form, error=message)
    if not added:
        return redirect(_list_url(ctx), flash=f"{form.address} is already subscribed.")
    done = "confirmed" if data.skip_confirmation_notification else "confirmation requested"
    return redirect(_list_url(ctx), flash=f"Subscribed {form.address} ({done}).")


def _add_form(
    request: Request,
    ctx: OnPage,
    session: Session,
    form: AddForm,
    *,
    error: str | None = None,
) -> Response:
    return render(
        request,
        "admin/subscribers_new.html",
        ctx=ctx,
        section="subscribers",
        tab="new",
        status_code=422 if error else 200,
        form=form,
        error=error,
        choices=_choices(components.list_components(session, ctx.page.id)),
        chosen=set(form.component_ids),
        channels=CHANNELS,
    )


def _chosen(scope: str, component_ids: list[str]) -> list[str] | None:
    if scope == "all":
        return None
    if not component_ids:
        raise ValueError("choose at least one component, or all components")
    return component_ids


# --- import --------------------------------------------------------------------------------


@router.get("/subscribers/import", response_class=HTMLResponse)
def import_screen(request: Request, ctx: OnPageDep) -> Response:
    needs(ctx, Role.ADMIN)
    return _import_form(request, ctx)


@router.post("/subscribers/import", response_class=HTMLResponse)
def import_file(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    skip_confirmation: Annotated[list[str] | None, Form(max_length=2)] = None,
) -> Response:
    needs(ctx, Role.ADMIN)
    raw = file.file.read(enrolment.MAX_BYTES + 1)
    if not raw:
        return _import_form(request, ctx, error="choose a CSV file to import")
    options = ImportOptions(
        skip_confirmation="true" in (skip_confirmation or []),
        allow_private=settings.webhooks_allow_private,
    )
    try:
        report = enrolment.import_csv(
            session, page=ctx.page, raw=raw, options=options, actor=ctx.actor
        )
    except DomainError as exc:
        return _import_form(request, ctx, error=exc.message)
    return render(
        request,
        "admin/subscribers_imported.html",
        ctx=ctx,
        section="subscribers",
        tab="import",
        report=report,
    )


def _import_form(request: Request, ctx: OnPage, *, error: str | None = None) -> Response:
    return render(
        request,
        "admin/subscribers_import.html",
        ctx=ctx,
        section="subscribers",
        tab="import",
        status_code=422 if error else 200,
        error=error,
        max_rows=enrolment.MAX_ROWS,
        max_mb=enrolment.MAX_BYTES // 1024 // 1024,
    )


# --- one subscriber ------------------------------------------------------------------------


@router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
def subscriber_screen(
    request: Request, ctx: OnPageDep, session: SessionDep, subscriber_id: str
) -> Response:
    row = subscribers.get_subscriber(session, page_id=ctx.page.id, subscriber_id=subscriber_id)
    return _subscriber_page(request, ctx, session, row)


@router.post("/subscribers/{subscriber_id}", response_class=HTMLResponse)
def change_components(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    subscriber_id: str,
    form: Annotated[ComponentsForm, Form()],
) -> Response:
    needs(ctx, Role.ADMIN)
    row = subscribers.get_subscriber(session, page_id=ctx.page.id, subscriber_id=subscriber_id)
    try:
        chosen = _chosen(form.scope, form.component_ids)
        subscribers.update_components(
            session, subscriber=row, component_ids=chosen, actor=ctx.actor
        )
    except (ValueError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        return _subscriber_page(request, ctx, session, row, error=message)
    return redirect(_subscriber_url(ctx, row), flash="Components saved.")


def _subscriber_page(
    request: Request,
    ctx: OnPage,
    session: Session,
    row: Subscriber,
    *,
    error: str | None = None,
) -> Response:
    everything = components.list_components(session, ctx.page.id)
    return render(
        request,
        "admin/subscribers_one.html",
        ctx=ctx,
        section="subscribers",
        tab="list",
        status_code=422 if error else 200,
        row=row,
        error=error,
        names={c.id: c.name for c in everything},
        choices=_choices(everything),
        chosen={link.component_id for link in row.components},
        channels=dict(CHANNELS),
        state_labels=dict(STATES),
    )


@router.post("/subscribers/{subscriber_id}/unsubscribe")
def unsubscribe(
    ctx: OnPageDep,
    session: SessionDep,
    subscriber_id: str,
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    needs(ctx, Role.ADMIN)
    row = subscribers.get_subscriber(session, page_id=ctx.page.id, subscriber_id=subscriber_id)
    subscribers.unsubscribe(session, subscriber=row, actor=ctx.actor)
    return redirect(_back(ctx, back), flash=f"Unsubscribed {row.address}.")


@router.post("/subscribers/{subscriber_id}/resend")
def resend(
    ctx: OnPageDep,
    session: SessionDep,
    subscriber_id: str,
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    needs(ctx, Role.ADMIN)
    row = subscribers.get_subscriber(session, page_id=ctx.page.id, subscriber_id=subscriber_id)
    enrolment.resend_confirmation(session, page=ctx.page, subscriber=row, actor=ctx.actor)
    return redirect(_back(ctx, back), flash=f"Confirmation sent again to {row.address}.")


@router.post("/subscribers/{subscriber_id}/reactivate")
def reactivate(
    ctx: OnPageDep,
    session: SessionDep,
    subscriber_id: str,
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    needs(ctx, Role.ADMIN)
    row = subscribers.get_subscriber(session, page_id=ctx.page.id, subscriber_id=subscriber_id)
    address = row.address
    changed = subscribers.bulk_reactivate(
        session, page_id=ctx.page.id, action=BulkAction(subscribers=[row.id]), actor=ctx.actor
    )
    flash = f"Reactivated {address}." if changed else f"{address} was not quarantined."
    return redirect(_back(ctx, back), flash=flash)


# --- the delivery log ------------------------------------------------------------------------


@router.get("/deliveries", response_class=HTMLResponse)
def page_log(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    q: Search = "",
    status: StatusParam = "",
    page: PageNumber = 1,
) -> Response:
    where = LogFilter(page_id=ctx.page.id, q=q.strip() or None, status=_status(status))
    fan_outs = worker.fan_outs(session, page_id=ctx.page.id, limit=RECENT_NOTIFICATIONS)
    return _log(request, ctx, session, where, page, fan_outs=fan_outs, incident=None)


@router.get("/incidents/{incident_id}/deliveries", response_class=HTMLResponse)
def incident_log(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    incident_id: str,
    q: Search = "",
    status: StatusParam = "",
    page: PageNumber = 1,
) -> Response:
    if not incident_id.isalnum():
        raise NotFound(f"incident {incident_id} not found")
    incident = incidents.get_incident(session, page_id=ctx.page.id, incident_id=incident_id)
    where = LogFilter(
        page_id=ctx.page.id, incident_id=incident.id, q=q.strip() or None, status=_status(status)
    )
    fan_outs = worker.fan_outs(session, incident_id=incident.id, limit=INCIDENT_NOTIFICATIONS)
    return _log(request, ctx, session, where, page, fan_outs=fan_outs, incident=incident)


def _log(
    request: Request,
    ctx: OnPage,
    session: Session,
    where: LogFilter,
    number: int,
    *,
    fan_outs: list[worker.FanOut],
    incident: Incident | None,
) -> Response:
    entries = deliveries.list_deliveries(
        session, where=where, offset=(number - 1) * PER_PAGE, limit=PER_PAGE + 1
    )
    query = {"q": where.q or "", "status": where.status.value if where.status else ""}
    return render(
        request,
        "admin/deliveries.html",
        ctx=ctx,
        section="subscribers",
        tab="deliveries",
        incident=incident,
        fan_outs=fan_outs,
        kinds=KINDS,
        totals=deliveries.count_by_status(session, where=where),
        entries=entries[:PER_PAGE],
        has_next=len(entries) > PER_PAGE,
        number=number,
        q=query["q"],
        status=query["status"],
        statuses=[s.value for s in DeliveryStatus],
        status_options=STATUS_OPTIONS,
        query={k: v for k, v in query.items() if v},
    )


def _status(value: StatusParam) -> DeliveryStatus | None:
    return DeliveryStatus(value) if value else None


# --- helpers -------------------------------------------------------------------------------


def _list_url(ctx: OnPage) -> str:
    return f"/admin/pages/{ctx.page.id}/subscribers"


def _subscriber_url(ctx: OnPage, row: Subscriber) -> str:
    return f"{_list_url(ctx)}/{row.id}"


def _back(ctx: OnPage, back: str) -> str:
    """The list as it was filtered, from its query string; never another address."""
    kept = [(k, v) for k, v in parse_qsl(back)[:10] if k in _LIST_KEYS]
    return _list_url(ctx) + (f"?{urlencode(kept)}" if kept else "")


def _names(session: Session, page_id: str) -> dict[str, str]:
    return {c.id: c.name for c in components.list_components(session, page_id)}


def _choices(rows: list[Component]) -> list[Choice]:
    children: dict[str, list[Component]] = {}
    for row in rows:
        if row.group_id is not None:
            children.setdefault(row.group_id, []).append(row)
    return [Choice(row, tuple(children.get(row.id, ()))) for row in rows if row.group_id is None]
