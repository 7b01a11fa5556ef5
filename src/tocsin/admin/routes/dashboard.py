"""The page overview, and the Markdown preview every composer uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.accounts.models import Role
from tocsin.admin.auth import OnPageDep, csrf_protect, needs
from tocsin.admin.render import render, secure_admin
from tocsin.components import service as components
from tocsin.deps import SessionDep
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import POSTMORTEM_MAX
from tocsin.incidents.status import CLOSED_STATUSES, IncidentKind, IncidentStatus
from tocsin.lib.markdown import render_markdown

router = APIRouter(
    prefix="/admin/pages/{page_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

_OPEN = [s for s in IncidentStatus if s not in CLOSED_STATUSES]


@router.get("", response_class=HTMLResponse)
def overview(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    page_id = ctx.page.id
    open_incidents = incidents.list_incidents(
        session, page_id=page_id, kind=IncidentKind.INCIDENT, statuses=_OPEN
    )
    maintenances = incidents.list_incidents(
        session, page_id=page_id, kind=IncidentKind.MAINTENANCE, statuses=_OPEN
    )
    return render(
        request,
        "admin/dashboard.html",
        ctx=ctx,
        section="dashboard",
        open_incidents=[i for i in open_incidents if not i.draft],
        drafts=[i for i in open_incidents if i.draft],
        maintenances=sorted(maintenances, key=lambda i: i.scheduled_for or i.started_at),
        components=components.list_components(session, page_id),
    )


@router.post("/preview", response_class=HTMLResponse)
def preview(ctx: OnPageDep, body: Annotated[str, Form(max_length=POSTMORTEM_MAX)] = "") -> Response:
    """The Markdown as the public page will show it: the same renderer and sanitiser."""
    needs(ctx, Role.EDITOR)
    response = HTMLResponse(render_markdown(body) if body.strip() else "")
    secure_admin(response)
    return response
