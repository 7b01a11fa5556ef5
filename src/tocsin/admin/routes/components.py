"""The components board: any editor changes a status in one click; admins and owners
shape the page (create, edit, group, reorder, delete)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from tocsin.accounts.models import Role
from tocsin.admin import forms
from tocsin.admin.auth import OnPage, OnPageDep, csrf_protect, needs
from tocsin.admin.render import redirect, render
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.schemas import ComponentCreate, ComponentUpdate, GroupCreate
from tocsin.components.status import LABELS, ComponentStatus, worst
from tocsin.deps import SessionDep
from tocsin.errors import DomainError, Invalid, NotFound

router = APIRouter(
    prefix="/admin/pages/{page_id}/components",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

# The buttons run from fine to worst, then planned work, as people read an outage.
STATUSES = [
    ComponentStatus.OPERATIONAL,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
    ComponentStatus.UNDER_MAINTENANCE,
]
MAX_IDS = 1000
_FIELD_LABELS = {
    "name": "Name",
    "description": "Description",
    "group_id": "Group",
    "start_date": "Start date",
    "component_ids": "Components",
}

_Text = Annotated[str, Form(max_length=10_000)]
_Short = Annotated[str, Form(max_length=64)]
_Values = Annotated[list[str], Form(default_factory=list)]


@dataclass(frozen=True)
class Node:
    """A top-level row of the board: a component, or a group with its members."""

    component: Component
    status: ComponentStatus
    """A group's status is the worst of its members', as the public page shows it."""
    children: list[Component]


def board_tree(rows: list[Component]) -> list[Node]:
    members: dict[str, list[Component]] = {}
    for row in rows:
        if row.group_id is not None:
            members.setdefault(row.group_id, []).append(row)
    nodes = []
    for row in rows:
        if row.group_id is None:
            children = members.get(row.id, [])
            status = worst(c.status for c in children) if row.is_group else row.status
            nodes.append(Node(row, status, children))
    return nodes


def _board_url(ctx: OnPage, component_id: str | None = None) -> str:
    anchor = f"#c-{component_id}" if component_id else ""
    return f"/admin/pages/{ctx.page.id}/components{anchor}"


def _board(
    request: Request,
    ctx: OnPage,
    session: Session,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/components.html",
        ctx=ctx,
        section="components",
        status_code=status_code,
        tree=board_tree(components.list_components(session, ctx.page.id)),
        statuses=STATUSES,
        error=error,
    )


def _refuse(request: Request, ctx: OnPage, session: Session, message: str) -> HTMLResponse:
    """The board with `message`, keeping nothing of this request: its transaction commits
    when the handler returns, so a change a service made before it refused would
    otherwise be saved."""
    response = _board(request, ctx, session, error=message, status_code=422)
    session.rollback()
    return response


@router.get("", response_class=HTMLResponse)
def board(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    return _board(request, ctx, session)


@router.post("/order", response_class=HTMLResponse)
def order(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    ids: Annotated[list[str], Form(alias="id", default_factory=list)],
) -> Response:
    """Save the order of one level (the top level or one group), from the drag and drop
    script or a plain form: one `id` field per component, in the new order."""
    needs(ctx, Role.ADMIN)
    if not ids:
        return _refuse(request, ctx, session, "the new order must list the components to order")
    if len(ids) > MAX_IDS:
        return _refuse(request, ctx, session, f"order at most {MAX_IDS} components at once")
    first = components.get_component(session, page_id=ctx.page.id, component_id=ids[0])
    try:
        components.reorder(
            session,
            page_id=ctx.page.id,
            parent_id=first.group_id,
            ordered_ids=ids,
            actor=ctx.actor,
        )
    except Invalid as exc:
        return _refuse(request, ctx, session, exc.message)
    where = f" in {first.group.name}" if first.group else ""
    return redirect(_board_url(ctx, first.id), flash=f"Saved the new order{where}.")


@router.post("/{component_id}/status", response_class=HTMLResponse)
def change_status(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    component_id: str,
    status: _Short = "",
) -> Response:
    needs(ctx, Role.EDITOR)
    component = components.get_component(session, page_id=ctx.page.id, component_id=component_id)
    try:
        new = ComponentStatus(status)
    except ValueError:
        return _refuse(request, ctx, session, f"{status!r} is not a component status")
    old = component.status
    if old is new and not component.is_group:
        return redirect(
            _board_url(ctx, component.id), flash=f"{component.name} was already {LABELS[new]}."
        )
    try:
        components.update_component(
            session, component=component, data=ComponentUpdate(status=new), actor=ctx.actor
        )
    except DomainError as exc:
        return _refuse(request, ctx, session, exc.message)
    return redirect(
        _board_url(ctx, component.id),
        flash=f"{component.name}: {LABELS[old]} → {LABELS[new]}.",
    )


@router.post("/{component_id}/move", response_class=HTMLResponse)
def move(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    component_id: str,
    direction: _Short = "",
) -> Response:
    needs(ctx, Role.ADMIN)
    component = components.get_component(session, page_id=ctx.page.id, component_id=component_id)
    offsets = {"up": -1, "down": 1}
    if direction not in offsets:
        return _refuse(request, ctx, session, "move a component up or down")
    moved = components.move(
        session, component=component, offset=offsets[direction], actor=ctx.actor
    )
    end = "top" if direction == "up" else "bottom"
    flash = (
        f"Moved {component.name} {direction}." if moved else f"{component.name} is at the {end}."
    )
    return redirect(_board_url(ctx, component.id), flash=flash)


# --- Components --------------------------------------------------------------------------


def component_fields(
    *,
    name: _Text = "",
    description: _Text = "",
    group_id: _Short = "",
    start_date: _Short = "",
    showcase: _Values,
    only_show_if_degraded: _Values,
    show_response_times: _Values,
) -> dict[str, Any]:
    """The component form as schema input; a ticked box sends "false" then "true"."""
    return {
        "name": name.strip(),
        "description": description.strip() or None,
        "group_id": group_id or None,
        "start_date": start_date or None,
        "showcase": "true" in showcase,
        "only_show_if_degraded": "true" in only_show_if_degraded,
        "show_response_times": "true" in show_response_times,
    }


ComponentFields = Annotated[dict[str, Any], Depends(component_fields)]


def _values_of(component: Component) -> dict[str, Any]:
    return {
        "name": component.name,
        "description": component.description,
        "group_id": component.group_id,
        "start_date": component.start_date.isoformat() if component.start_date else None,
        "showcase": component.showcase,
        "only_show_if_degraded": component.only_show_if_degraded,
        "show_response_times": component.show_response_times,
    }


def _component_form(
    request: Request,
    ctx: OnPage,
    session: Session,
    *,
    values: dict[str, Any],
    component: Component | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    groups = [
        (c.id, c.name) for c in components.list_components(session, ctx.page.id) if c.is_group
    ]
    return render(
        request,
        "admin/components_form.html",
        ctx=ctx,
        section="components",
        status_code=status_code,
        component=component,
        values=values,
        group_options=[("", "No group (top level)"), *groups],
        error=error,
    )


@router.get("/new", response_class=HTMLResponse)
def new_component(
    request: Request, ctx: OnPageDep, session: SessionDep, group: str = ""
) -> Response:
    needs(ctx, Role.ADMIN)
    values = {
        "name": "",
        "description": None,
        "group_id": group or None,
        "start_date": None,
        "showcase": True,
        "only_show_if_degraded": False,
        "show_response_times": False,
    }
    return _component_form(request, ctx, session, values=values)


@router.post("/new", response_class=HTMLResponse)
def create_component(
    request: Request, ctx: OnPageDep, session: SessionDep, values: ComponentFields
) -> Response:
    needs(ctx, Role.ADMIN)
    created: list[Component] = []

    def create() -> None:
        data = ComponentCreate.model_validate(values)
        created.append(
            components.create_component(session, page=ctx.page, data=data, actor=ctx.actor)
        )

    refused = forms.try_or_show(
        session,
        create,
        lambda message: _component_form(
            request, ctx, session, values=values, error=message, status_code=422
        ),
        _FIELD_LABELS,
    )
    if refused:
        return refused
    return redirect(_board_url(ctx, created[0].id), flash=f"Added {created[0].name}.")


def _leaf(session: Session, ctx: OnPage, component_id: str) -> Component:
    component = components.get_component(session, page_id=ctx.page.id, component_id=component_id)
    if component.is_group:
        raise NotFound(f"component {component_id} not found")
    return component


@router.get("/{component_id}/edit", response_class=HTMLResponse)
def edit_component(
    request: Request, ctx: OnPageDep, session: SessionDep, component_id: str
) -> Response:
    needs(ctx, Role.ADMIN)
    component = _leaf(session, ctx, component_id)
    return _component_form(request, ctx, session, values=_values_of(component), component=component)


@router.post("/{component_id}/edit", response_class=HTMLResponse)
def save_component(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    component_id: str,
    values: ComponentFields,
) -> Response:
    needs(ctx, Role.ADMIN)
    component = _leaf(session, ctx, component_id)
    refused = forms.try_or_show(
        session,
        lambda: components.update_component(
            session,
            component=component,
            data=ComponentUpdate.model_validate(values),
            actor=ctx.actor,
        ),
        lambda message: _component_form(
            request,
            ctx,
            session,
            values=values,
            component=component,
            error=message,
            status_code=422,
        ),
        _FIELD_LABELS,
    )
    if refused:
        return refused
    return redirect(_board_url(ctx, component.id), flash=f"Saved {component.name}.")


# --- Groups ------------------------------------------------------------------------------


def group_fields(*, name: _Text = "", description: _Text = "", member: _Values) -> dict[str, Any]:
    return {
        "name": name.strip(),
        "description": description.strip() or None,
        "component_ids": member[:MAX_IDS],
    }


GroupFields = Annotated[dict[str, Any], Depends(group_fields)]


def _group_form(
    request: Request,
    ctx: OnPage,
    session: Session,
    *,
    values: dict[str, Any],
    group: Component | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = components.list_components(session, ctx.page.id)
    groups = {c.id: c.name for c in rows if c.is_group}
    return render(
        request,
        "admin/components_group.html",
        ctx=ctx,
        section="components",
        status_code=status_code,
        group=group,
        values=values,
        leaves=[c for c in rows if not c.is_group],
        group_names=groups,
        error=error,
    )


def _group(session: Session, ctx: OnPage, group_id: str) -> Component:
    group = components.get_component(session, page_id=ctx.page.id, component_id=group_id)
    if not group.is_group:
        raise NotFound(f"group {group_id} not found")
    return group


@router.get("/groups/new", response_class=HTMLResponse)
def new_group(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    needs(ctx, Role.ADMIN)
    values: dict[str, Any] = {"name": "", "description": None, "component_ids": []}
    return _group_form(request, ctx, session, values=values)


@router.post("/groups/new", response_class=HTMLResponse)
def create_group(
    request: Request, ctx: OnPageDep, session: SessionDep, values: GroupFields
) -> Response:
    needs(ctx, Role.ADMIN)
    created: list[Component] = []

    def create() -> None:
        data = GroupCreate.model_validate(values)
        created.append(components.create_group(session, page=ctx.page, data=data, actor=ctx.actor))

    refused = forms.try_or_show(
        session,
        create,
        lambda message: _group_form(
            request, ctx, session, values=values, error=message, status_code=422
        ),
        _FIELD_LABELS,
    )
    if refused:
        return refused
    group = created[0]
    return redirect(_board_url(ctx, group.id), flash=f"Added the group {group.name}.")


@router.get("/groups/{group_id}/edit", response_class=HTMLResponse)
def edit_group(request: Request, ctx: OnPageDep, session: SessionDep, group_id: str) -> Response:
    needs(ctx, Role.ADMIN)
    group = _group(session, ctx, group_id)
    values = {
        "name": group.name,
        "description": group.description,
        "component_ids": [c.id for c in group.children],
    }
    return _group_form(request, ctx, session, values=values, group=group)


@router.post("/groups/{group_id}/edit", response_class=HTMLResponse)
def save_group(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    group_id: str,
    values: GroupFields,
) -> Response:
    needs(ctx, Role.ADMIN)
    group = _group(session, ctx, group_id)
    refused = forms.try_or_show(
        session,
        lambda: components.update_group(
            session, group=group, data=GroupCreate.model_validate(values), actor=ctx.actor
        ),
        lambda message: _group_form(
            request, ctx, session, values=values, group=group, error=message, status_code=422
        ),
        _FIELD_LABELS,
    )
    if refused:
        return refused
    return redirect(_board_url(ctx, group.id), flash=f"Saved the group {group.name}.")


# --- Deleting ----------------------------------------------------------------------------


@router.get("/{component_id}/delete", response_class=HTMLResponse)
def confirm_delete(
    request: Request, ctx: OnPageDep, session: SessionDep, component_id: str
) -> Response:
    needs(ctx, Role.ADMIN)
    component = components.get_component(session, page_id=ctx.page.id, component_id=component_id)
    return render(
        request,
        "admin/components_delete.html",
        ctx=ctx,
        section="components",
        component=component,
    )


@router.post("/{component_id}/delete", response_class=HTMLResponse)
def delete(request: Request, ctx: OnPageDep, session: SessionDep, component_id: str) -> Response:
    needs(ctx, Role.ADMIN)
    component = components.get_component(session, page_id=ctx.page.id, component_id=component_id)
    name = component.name
    components.delete_component(session, component=component, actor=ctx.actor)
    return redirect(_board_url(ctx), flash=f"Deleted {name}.")
