"""Incidents: the list, the composer, and each incident's own page, where follow-ups,
resolving and the write-up happen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tocsin.accounts.models import Role
from tocsin.admin import forms
from tocsin.admin.auth import OnPage, OnPageDep, csrf_protect, needs
from tocsin.admin.forms import FormDep, flag, text
from tocsin.admin.render import redirect, render, secure_admin
from tocsin.components import service as components
from tocsin.components.status import ComponentStatus
from tocsin.deps import SessionDep
from tocsin.errors import Invalid, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents import templates
from tocsin.incidents.models import Incident, IncidentTemplate
from tocsin.incidents.schemas import (
    IncidentCreate,
    IncidentEdit,
    UpdateCreate,
    UpdateEdit,
    WriteupPublish,
)
from tocsin.incidents.status import (
    CLOSED_STATUSES,
    LABELS,
    Impact,
    IncidentKind,
    IncidentStatus,
    statuses_for,
)

router = APIRouter(
    prefix="/admin/pages/{page_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

COMPOSER_STATUSES = (
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
    IncidentStatus.RESOLVED,
)
IMPACTS = [
    ("", "Computed from components"),
    *((impact.value, impact.value.capitalize()) for impact in Impact if impact != "maintenance"),
]
LABELS_OF_FIELDS = {
    "name": "Title",
    "status": "Status",
    "body": "Message",
    "impact_override": "Impact",
    "started_at": "Started",
    "resolved_at": "Resolved",
    "url": "Write-up URL",
    "components": "Components",
    "component_ids": "Components",
}
_OPEN = [s for s in IncidentStatus if s not in CLOSED_STATUSES]
_RECENT = 25


def options(statuses: tuple[IncidentStatus, ...]) -> list[tuple[str, str]]:
    return [(s.value, LABELS[s]) for s in statuses]


def admin_url(ctx: OnPage, incident: Incident) -> str:
    area = "maintenance" if incident.kind is IncidentKind.MAINTENANCE else "incidents"
    return f"/admin/pages/{ctx.page.id}/{area}/{incident.id}"


def find(session: Session, ctx: OnPage, incident_id: str, kind: IncidentKind) -> Incident:
    """The page's incident (or maintenance) by id; another page's id answers 404."""
    incident = incidents.get_incident(session, page_id=ctx.page.id, incident_id=incident_id)
    if incident.kind is not kind:
        raise NotFound(f"{kind.value} {incident_id} not found")
    return incident


# --- the list ------------------------------------------------------------------------------


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request, ctx: OnPageDep, session: SessionDep, q: str = "", older: int = 0
) -> Response:
    query = q.strip()[:255] or None
    offset = max(older, 0)
    common: dict[str, Any] = {"page_id": ctx.page.id, "kind": IncidentKind.INCIDENT, "q": query}
    recent = incidents.list_incidents(
        session, statuses=CLOSED_STATUSES, limit=_RECENT + 1, offset=offset, **common
    )
    return render(
        request,
        "admin/incidents.html",
        ctx=ctx,
        section="incidents",
        q=query or "",
        open_incidents=incidents.list_incidents(session, statuses=_OPEN, **common),
        recent=recent[:_RECENT],
        offset=offset,
        more=len(recent) > _RECENT,
        step=_RECENT,
        editable=ctx.can(Role.EDITOR),
    )


# --- the composer --------------------------------------------------------------------------


@dataclass
class Composer:
    """What the new-incident form holds: blank, filled from a template, or as posted."""

    name: str = ""
    status: str = IncidentStatus.INVESTIGATING.value
    impact: str = ""
    body: str = ""
    chosen: dict[str, str] = field(default_factory=dict)
    notify: bool = True
    backfill: bool = False
    started: str = ""
    resolved: str = ""
    template: str = ""

    @classmethod
    def posted(cls, form: FormData) -> Composer:
        return cls(
            name=text(form, "name"),
            status=text(form, "status"),
            impact=text(form, "impact"),
            body=text(form, "body"),
            chosen=forms.component_choices(form),
            notify=flag(form, "notify"),
            backfill=flag(form, "backfill"),
            started=text(form, "started_at"),
            resolved=text(form, "resolved_at"),
        )

    def creation(self, session: Session, ctx: OnPage) -> IncidentCreate:
        if self.status not in COMPOSER_STATUSES:
            raise Invalid("choose a status: investigating, identified, monitoring or resolved")
        changed, attach = forms.split_changes(
            session, ctx.page.id, forms.component_statuses(self.chosen)
        )
        started = forms.local_time(self.started, ctx.page, "Started")
        if self.backfill and started is None:
            raise Invalid("a backfilled incident needs the time it started")
        return IncidentCreate.model_validate(
            {
                "name": self.name.strip(),
                "status": self.status,
                "body": self.body,
                "impact_override": self.impact or None,
                "components": changed,
                "component_ids": attach,
                "deliver_notifications": self.notify,
                "backfilled": self.backfill,
                "started_at": started if self.backfill else None,
                "resolved_at": (
                    forms.local_time(self.resolved, ctx.page, "Resolved") if self.backfill else None
                ),
            }
        )


def template_fill(
    template: IncidentTemplate, current: dict[str, ComponentStatus]
) -> dict[str, Any]:
    """What a template puts in the composer. Its components start at their current status:
    attached, and one click away from the status the incident gives them."""
    status = template.update_status
    return {
        "name": template.title,
        "body": template.body,
        "status": status.value if status in COMPOSER_STATUSES else "investigating",
        "components": {i: current[i].value for i in template.component_ids if i in current},
        "notify": template.should_send_notifications,
    }


def _composer(
    request: Request,
    ctx: OnPage,
    session: Session,
    form: Composer,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    everything = components.list_components(session, ctx.page.id)
    current = {c.id: c.status for c in everything}
    listed = templates.list_templates(session, page_id=ctx.page.id)
    return render(
        request,
        "admin/incident_new.html",
        ctx=ctx,
        section="incidents",
        status_code=status_code,
        form=form,
        error=error,
        templates=listed,
        template_data={t.id: template_fill(t, current) for t in listed},
        tree=forms.component_tree(everything),
        statuses=options(COMPOSER_STATUSES),
        impacts=IMPACTS,
        audience=forms.audience(session, ctx.page.id, [i for i in form.chosen if i in current]),
    )


@router.get("/incidents/new", response_class=HTMLResponse)
def new_incident(
    request: Request, ctx: OnPageDep, session: SessionDep, template: str = ""
) -> Response:
    needs(ctx, Role.EDITOR)
    form = Composer()
    if template:
        chosen = templates.get_template(session, page_id=ctx.page.id, template_id=template)
        current = {c.id: c.status for c in components.list_components(session, ctx.page.id)}
        fill = template_fill(chosen, current)
        form = Composer(
            name=fill["name"],
            status=fill["status"],
            body=fill["body"],
            chosen=fill["components"],
            notify=fill["notify"],
            template=chosen.id,
        )
    return _composer(request, ctx, session, form)


@router.post("/incidents/new", response_class=HTMLResponse)
def create_incident(
    request: Request, ctx: OnPageDep, session: SessionDep, posted: FormDep
) -> Response:
    needs(ctx, Role.EDITOR)
    form = Composer.posted(posted)
    as_draft = text(posted, "intent") == "draft"
    created: list[Incident] = []

    def create() -> None:
        data = form.creation(session, ctx)
        created.append(
            incidents.create_incident(
                session, page=ctx.page, data=data, actor=ctx.actor, draft=as_draft
            )
        )

    refused = forms.try_or_show(
        session,
        create,
        lambda message: _composer(request, ctx, session, form, error=message, status_code=422),
        LABELS_OF_FIELDS,
    )
    if refused:
        return refused
    flash = "Draft saved: not public until you publish it." if as_draft else "Incident published."
    return redirect(admin_url(ctx, created[0]), flash=flash)


@router.get("/incidents/audience")
def audience(
    ctx: OnPageDep,
    session: SessionDep,
    component: Annotated[list[str] | None, Query()] = None,
    incident: str = "",
) -> Response:
    """The "would notify" line for the components ticked so far, for the composer's script."""
    needs(ctx, Role.EDITOR)
    wanted = set(component or [])
    incident_id = None
    if incident:
        found = incidents.get_incident(session, page_id=ctx.page.id, incident_id=incident)
        wanted |= {link.component_id for link in found.components}
        incident_id = found.id
    known = {c.id for c in components.list_components(session, ctx.page.id)}
    line = forms.audience(session, ctx.page.id, sorted(wanted & known), incident_id)
    response = JSONResponse({"text": line})
    secure_admin(response)
    return response


# --- one incident --------------------------------------------------------------------------


def follow_up_view(
    session: Session, ctx: OnPage, incident: Incident, posted: FormData
) -> dict[str, Any]:
    """What an incident's or a window's page shows around its follow-up form: components by
    name, those attached, the picker with each status chosen (as posted, else the attached
    components at their current status) and who an update would reach."""
    everything = components.list_components(session, ctx.page.id)
    current = {c.id: c.status for c in everything}
    attached = {link.component_id for link in incident.components}
    if any(k.startswith(forms.COMPONENT_PREFIX) for k in posted):
        chosen = forms.component_choices(posted)
    else:
        chosen = {i: current[i].value for i in attached if i in current}
    return {
        "names": {c.id: c.name for c in everything},
        "attached": [c for c in everything if c.id in attached],
        "tree": forms.component_tree(everything),
        "chosen": chosen,
        "audience": forms.audience(
            session, ctx.page.id, sorted((attached | chosen.keys()) & current.keys()), incident.id
        ),
    }


def follow_up(
    session: Session, incident: Incident, form: FormData, allowed: tuple[IncidentStatus, ...]
) -> UpdateCreate:
    """An update as posted: only the components whose status really changes are changes."""
    status = text(form, "status")
    if status not in allowed:
        names = ", ".join(s.value for s in allowed)
        raise Invalid(f"choose a status: {names}")
    chosen = forms.component_statuses(forms.component_choices(form))
    changed, attach = forms.split_changes(session, incident.page_id, chosen)
    return UpdateCreate.model_validate(
        {
            "status": status,
            "body": text(form, "body").strip() or None,
            "components": changed or None,
            "component_ids": attach or None,
            "deliver_notifications": flag(form, "notify"),
        }
    )


def _show(
    request: Request,
    ctx: OnPage,
    session: Session,
    incident: Incident,
    *,
    form: FormData | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The incident's page; after a refused post, that post's input is kept in its form."""
    posted = form if form is not None else FormData()
    return render(
        request,
        "admin/incident.html",
        ctx=ctx,
        section="incidents",
        status_code=status_code,
        error=error,
        incident=incident,
        **follow_up_view(session, ctx, incident, posted),
        values=_values(incident, posted),
        statuses=options(statuses_for(IncidentKind.INCIDENT)),
        impacts=IMPACTS,
        editable=ctx.can(Role.EDITOR),
        can_delete=ctx.can(Role.ADMIN),
        closed=incident.status in CLOSED_STATUSES,
    )


def _values(incident: Incident, posted: FormData) -> dict[str, Any]:
    """The page's form fields: as posted when a post was refused, else from the incident."""
    impact = incident.impact_override.value if incident.impact_override else ""
    writeup = incident.postmortem_body_draft or incident.postmortem_body or ""
    return {
        "status": text(posted, "status", incident.status.value),
        "body": text(posted, "body"),
        "notify": flag(posted, "notify", default=True),
        "name": text(posted, "name", incident.name),
        "impact": text(posted, "impact", impact),
        "writeup_url": text(posted, "writeup_url", incident.writeup_url or ""),
        "postmortem": text(posted, "postmortem", writeup),
        "writeup_notify": flag(posted, "writeup_notify", default=True),
    }


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    request: Request, ctx: OnPageDep, session: SessionDep, incident_id: str
) -> Response:
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)
    return _show(request, ctx, session, incident)


def _act(
    request: Request,
    ctx: OnPage,
    session: Session,
    incident: Incident,
    form: FormData,
    action: Callable[[], object],
    flash: str,
) -> Response:
    """Do `action` for an editor, then back to the incident; a refusal re-renders its page."""
    refused = forms.try_or_show(
        session,
        action,
        lambda message: _show(
            request, ctx, session, incident, form=form, error=message, status_code=422
        ),
        LABELS_OF_FIELDS,
    )
    return refused or redirect(admin_url(ctx, incident), flash=flash)


@router.post("/incidents/{incident_id}/updates", response_class=HTMLResponse)
def post_update(
    request: Request, ctx: OnPageDep, session: SessionDep, incident_id: str, form: FormDep
) -> Response:
    needs(ctx, Role.EDITOR)
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)

    def post() -> None:
        data = follow_up(session, incident, form, statuses_for(IncidentKind.INCIDENT))
        incidents.post_update(session, incident=incident, data=data, actor=ctx.actor)

    return _act(request, ctx, session, incident, form, post, "Update posted.")


@router.post("/incidents/{incident_id}/resolve", response_class=HTMLResponse)
def resolve(
    request: Request, ctx: OnPageDep, session: SessionDep, incident_id: str, form: FormDep
) -> Response:
    """Post "Resolved"; the components this incident degraded go back to operational."""
    needs(ctx, Role.EDITOR)
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)
    data = UpdateCreate(
        status=IncidentStatus.RESOLVED,
        deliver_notifications=flag(form, "notify", default=True),
    )

    def post() -> None:
        incidents.post_update(session, incident=incident, data=data, actor=ctx.actor)

    return _act(request, ctx, session, incident, form, post, "Resolved.")


@router.post("/incidents/{incident_id}/edit", response_class=HTMLResponse)
def edit(
    request: Request, ctx: OnPageDep, session: SessionDep, incident_id: str, form: FormDep
) -> Response:
    """Rename, set the impact or attach components without posting an update."""
    needs(ctx, Role.EDITOR)
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)

    def change() -> None:
        data = IncidentEdit.model_validate(
            {
                "name": text(form, "name").strip(),
                "impact_override": text(form, "impact") or None,
                "component_ids": forms.strings(form, "component_ids"),
            }
        )
        incidents.edit_incident(session, incident=incident, data=data, actor=ctx.actor)

    return _act(request, ctx, session, incident, form, change, "Saved.")


@router.post("/incidents/{incident_id}/updates/{update_id}/edit", response_class=HTMLResponse)
def edit_update(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    incident_id: str,
    update_id: str,
    form: FormDep,
) -> Response:
    """Correct an update's text; subscribers are not told again."""
    needs(ctx, Role.EDITOR)
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)
    update = incidents.get_update(session, incident=incident, update_id=update_id)

    def change() -> None:
        body = text(form, "update_body").strip()
        if not body:
            raise Invalid("an update needs some text")
        incidents.edit_update(session, update=update, data=UpdateEdit(body=body), actor=ctx.actor)

    return _act(request, ctx, session, incident, form, change, "Update corrected.")


@router.post("/incidents/{incident_id}/writeup", response_class=HTMLResponse)
def writeup(
    request: Request, ctx: OnPageDep, session: SessionDep, incident_id: str, form: FormDep
) -> Response:
    """Publish a link, or save or publish a Markdown write-up (`intent` says which)."""
    needs(ctx, Role.EDITOR)
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)
    intent = text(form, "intent")
    body = text(form, "postmortem")
    notify = flag(form, "writeup_notify")

    def publish_link() -> None:
        url = text(form, "writeup_url").strip()
        if not url.startswith(("https://", "http://")):
            raise Invalid("the write-up URL must start with https:// (or http://)")
        data = WriteupPublish(url=url, notify_subscribers=notify)
        incidents.publish_writeup(session, incident=incident, data=data, actor=ctx.actor)

    def save() -> None:
        if not body.strip():
            raise Invalid("the write-up is empty")
        incidents.save_postmortem_draft(session, incident=incident, body=body, actor=ctx.actor)
        if intent == "publish":
            data = WriteupPublish(body=body, notify_subscribers=notify)
            incidents.publish_writeup(session, incident=incident, data=data, actor=ctx.actor)

    if intent == "link":
        return _act(request, ctx, session, incident, form, publish_link, "Write-up published.")
    flash = "Write-up published." if intent == "publish" else "Draft saved; not public yet."
    return _act(request, ctx, session, incident, form, save, flash)


@router.post("/incidents/{incident_id}/writeup/retract", response_class=HTMLResponse)
def retract(
    request: Request, ctx: OnPageDep, session: SessionDep, incident_id: str, form: FormDep
) -> Response:
    needs(ctx, Role.EDITOR)
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)

    def take_back() -> None:
        incidents.retract_writeup(session, incident=incident, actor=ctx.actor)

    return _act(request, ctx, session, incident, form, take_back, "Write-up unpublished.")


@router.post("/incidents/{incident_id}/publish", response_class=HTMLResponse)
def publish(
    request: Request, ctx: OnPageDep, session: SessionDep, incident_id: str, form: FormDep
) -> Response:
    """Make a draft public (and announce it, unless it was saved without notifications)."""
    needs(ctx, Role.EDITOR)
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)

    def go_public() -> None:
        incidents.publish_draft(session, incident=incident, actor=ctx.actor)

    return _act(request, ctx, session, incident, form, go_public, "Incident published.")


@router.post("/incidents/{incident_id}/delete", response_class=HTMLResponse)
def delete(ctx: OnPageDep, session: SessionDep, incident_id: str) -> Response:
    needs(ctx, Role.ADMIN)
    incident = find(session, ctx, incident_id, IncidentKind.INCIDENT)
    name = incident.name
    incidents.delete_incident(session, incident=incident, actor=ctx.actor)
    return redirect(f"/admin/pages/{ctx.page.id}/incidents", flash=f"Deleted “{name[:80]}”.")
