"""Maintenance windows: schedule, edit, post updates, start now or complete early.

Window times are typed in the page's time zone (a `datetime-local` input has none) and
stored in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tocsin.accounts.models import Role
from tocsin.admin import forms
from tocsin.admin.auth import OnPage, OnPageDep, csrf_protect, needs
from tocsin.admin.forms import FormDep, flag, text
from tocsin.admin.render import redirect, render
from tocsin.admin.routes.incidents import (
    LABELS_OF_FIELDS,
    admin_url,
    find,
    follow_up,
    follow_up_view,
    options,
)
from tocsin.components import service as components
from tocsin.deps import SessionDep
from tocsin.errors import Invalid
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentEdit, MaintenanceCreate
from tocsin.incidents.status import (
    CLOSED_STATUSES,
    MAINTENANCE_STATUSES,
    IncidentKind,
    IncidentStatus,
)

router = APIRouter(
    prefix="/admin/pages/{page_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

_KIND = IncidentKind.MAINTENANCE
_RUNNING = (IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING)
_RECENT = 25
_LABELS = {**LABELS_OF_FIELDS, "name": "Name"}


@router.get("/maintenance", response_class=HTMLResponse)
def maintenance_list(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    everything = incidents.list_incidents(session, page_id=ctx.page.id, kind=_KIND)
    coming = [m for m in everything if m.status not in CLOSED_STATUSES]
    return render(
        request,
        "admin/maintenance.html",
        ctx=ctx,
        section="maintenance",
        coming=sorted(coming, key=lambda m: m.scheduled_for or m.started_at),
        done=[m for m in everything if m.status in CLOSED_STATUSES][:_RECENT],
        editable=ctx.can(Role.EDITOR),
    )


@dataclass
class Window:
    """The scheduling form's fields, blank or as posted (times as typed, in the page zone)."""

    name: str = ""
    starts: str = ""
    ends: str = ""
    body: str = ""
    component_ids: list[str] = field(default_factory=list)
    auto_start: bool = True
    auto_end: bool = True
    remind_prior: bool = True
    notify: bool = True

    @classmethod
    def posted(cls, form: FormData) -> Window:
        return cls(
            name=text(form, "name"),
            starts=text(form, "starts"),
            ends=text(form, "ends"),
            body=text(form, "body"),
            component_ids=forms.strings(form, "component_ids"),
            auto_start=flag(form, "auto_start"),
            auto_end=flag(form, "auto_end"),
            remind_prior=flag(form, "remind_prior"),
            notify=flag(form, "notify"),
        )

    @classmethod
    def of(cls, maintenance: Incident, ctx: OnPage) -> Window:
        return cls(
            name=maintenance.name,
            starts=forms.local_input(maintenance.scheduled_for, ctx.page),
            ends=forms.local_input(maintenance.scheduled_until, ctx.page),
            auto_start=maintenance.auto_start,
            auto_end=maintenance.auto_end,
            remind_prior=maintenance.scheduled_remind_prior,
        )

    def times(self, ctx: OnPage) -> dict[str, Any]:
        starts = forms.local_time(self.starts, ctx.page, "Starts")
        ends = forms.local_time(self.ends, ctx.page, "Ends")
        if starts is None or ends is None:
            raise Invalid("give the window's start and end")
        if ends <= starts:
            raise Invalid("the window must end after it starts")
        return {"scheduled_for": starts, "scheduled_until": ends}

    def schedule(self, ctx: OnPage) -> MaintenanceCreate:
        return MaintenanceCreate.model_validate(
            {
                "name": self.name.strip(),
                "body": self.body,
                "component_ids": self.component_ids,
                "auto_start": self.auto_start,
                "auto_end": self.auto_end,
                "remind_prior": self.remind_prior,
                "deliver_notifications": self.notify,
                **self.times(ctx),
            }
        )

    def edit(self, ctx: OnPage) -> IncidentEdit:
        return IncidentEdit.model_validate(
            {
                "name": self.name.strip(),
                "component_ids": self.component_ids,
                "auto_start": self.auto_start,
                "auto_end": self.auto_end,
                "remind_prior": self.remind_prior,
                **self.times(ctx),
            }
        )


def _schedule_form(
    request: Request,
    ctx: OnPage,
    session: Session,
    window: Window,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/maintenance_new.html",
        ctx=ctx,
        section="maintenance",
        status_code=status_code,
        error=error,
        form=window,
        tree=forms.component_tree(components.list_components(session, ctx.page.id)),
        audience=forms.audience(session, ctx.page.id, window.component_ids),
    )


@router.get("/maintenance/new", response_class=HTMLResponse)
def new_maintenance(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    needs(ctx, Role.EDITOR)
    return _schedule_form(request, ctx, session, Window())


@router.post("/maintenance/new", response_class=HTMLResponse)
def schedule(request: Request, ctx: OnPageDep, session: SessionDep, form: FormDep) -> Response:
    needs(ctx, Role.EDITOR)
    window = Window.posted(form)
    scheduled: list[Incident] = []

    def create() -> None:
        data = window.schedule(ctx)
        scheduled.append(
            incidents.schedule_maintenance(session, page=ctx.page, data=data, actor=ctx.actor)
        )

    refused = forms.try_or_show(
        session,
        create,
        lambda message: _schedule_form(
            request, ctx, session, window, error=message, status_code=422
        ),
        _LABELS,
    )
    return refused or redirect(admin_url(ctx, scheduled[0]), flash="Maintenance scheduled.")


# --- one window ----------------------------------------------------------------------------


def _show(
    request: Request,
    ctx: OnPage,
    session: Session,
    maintenance: Incident,
    *,
    form: FormData | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The window's page; after a refused post, that post's input is kept in its form."""
    posted = form if form is not None else FormData()
    editing = "starts" in posted
    return render(
        request,
        "admin/maintenance_window.html",
        ctx=ctx,
        section="maintenance",
        status_code=status_code,
        error=error,
        incident=maintenance,
        **follow_up_view(session, ctx, maintenance, posted),
        window=Window.posted(posted) if editing else Window.of(maintenance, ctx),
        editing=editing,
        follow={
            "status": text(posted, "status", maintenance.status.value),
            "body": text(posted, "body") if not editing else "",
            "notify": flag(posted, "notify", default=True),
        },
        statuses=options(MAINTENANCE_STATUSES),
        editable=ctx.can(Role.EDITOR),
        can_delete=ctx.can(Role.ADMIN),
        scheduled=maintenance.status is IncidentStatus.SCHEDULED,
        running=maintenance.status in _RUNNING,
    )


@router.get("/maintenance/{maintenance_id}", response_class=HTMLResponse)
def maintenance_page(
    request: Request, ctx: OnPageDep, session: SessionDep, maintenance_id: str
) -> Response:
    return _show(request, ctx, session, find(session, ctx, maintenance_id, _KIND))


def _act(
    request: Request,
    ctx: OnPage,
    session: Session,
    maintenance: Incident,
    form: FormData,
    action: Callable[[], object],
    flash: str,
) -> Response:
    refused = forms.try_or_show(
        session,
        action,
        lambda message: _show(
            request, ctx, session, maintenance, form=form, error=message, status_code=422
        ),
        _LABELS,
    )
    return refused or redirect(admin_url(ctx, maintenance), flash=flash)


@router.post("/maintenance/{maintenance_id}/edit", response_class=HTMLResponse)
def edit(
    request: Request, ctx: OnPageDep, session: SessionDep, maintenance_id: str, form: FormDep
) -> Response:
    """Rename, move the window, attach components or change the automation; posts nothing."""
    needs(ctx, Role.EDITOR)
    maintenance = find(session, ctx, maintenance_id, _KIND)

    def change() -> None:
        data = Window.posted(form).edit(ctx)
        incidents.edit_incident(session, incident=maintenance, data=data, actor=ctx.actor)

    return _act(request, ctx, session, maintenance, form, change, "Saved.")


@router.post("/maintenance/{maintenance_id}/updates", response_class=HTMLResponse)
def post_update(
    request: Request, ctx: OnPageDep, session: SessionDep, maintenance_id: str, form: FormDep
) -> Response:
    needs(ctx, Role.EDITOR)
    maintenance = find(session, ctx, maintenance_id, _KIND)

    def post() -> None:
        data = follow_up(session, maintenance, form, MAINTENANCE_STATUSES)
        incidents.post_update(session, incident=maintenance, data=data, actor=ctx.actor)

    return _act(request, ctx, session, maintenance, form, post, "Update posted.")


@router.post("/maintenance/{maintenance_id}/start", response_class=HTMLResponse)
def start(
    request: Request, ctx: OnPageDep, session: SessionDep, maintenance_id: str, form: FormDep
) -> Response:
    """Begin now, ahead of the window: attached components go under maintenance."""
    needs(ctx, Role.EDITOR)
    maintenance = find(session, ctx, maintenance_id, _KIND)

    def begin() -> None:
        if maintenance.status is not IncidentStatus.SCHEDULED:
            raise Invalid("only a scheduled maintenance can be started")
        incidents.start_maintenance(session, maintenance=maintenance, actor=ctx.actor)

    return _act(request, ctx, session, maintenance, form, begin, "Maintenance started.")


@router.post("/maintenance/{maintenance_id}/complete", response_class=HTMLResponse)
def complete(
    request: Request, ctx: OnPageDep, session: SessionDep, maintenance_id: str, form: FormDep
) -> Response:
    """End now, before the window closes: components go back as they were."""
    needs(ctx, Role.EDITOR)
    maintenance = find(session, ctx, maintenance_id, _KIND)

    def finish() -> None:
        if maintenance.status not in _RUNNING:
            raise Invalid("only a maintenance in progress can be completed")
        incidents.complete_maintenance(session, maintenance=maintenance, actor=ctx.actor)

    return _act(request, ctx, session, maintenance, form, finish, "Maintenance completed.")


@router.post("/maintenance/{maintenance_id}/delete", response_class=HTMLResponse)
def delete(ctx: OnPageDep, session: SessionDep, maintenance_id: str) -> Response:
    needs(ctx, Role.ADMIN)
    maintenance = find(session, ctx, maintenance_id, _KIND)
    name = maintenance.name
    incidents.delete_incident(session, incident=maintenance, actor=ctx.actor)
    return redirect(f"/admin/pages/{ctx.page.id}/maintenance", flash=f"Deleted “{name[:80]}”.")
