"""Incident templates: canned titles and messages the composer starts from."""

from __future__ import annotations

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
from tocsin.admin.routes.incidents import COMPOSER_STATUSES, options
from tocsin.components import service as components
from tocsin.deps import SessionDep
from tocsin.incidents import templates
from tocsin.incidents.models import IncidentTemplate
from tocsin.incidents.schemas import TemplateCreate, TemplateUpdate

_LABELS = {"name": "Name", "title": "Title", "body": "Message", "update_status": "Status"}

router = APIRouter(
    prefix="/admin/pages/{page_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)


def _listing(ctx: OnPage) -> str:
    return f"/admin/pages/{ctx.page.id}/templates"


@router.get("/templates", response_class=HTMLResponse)
def template_list(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    return render(
        request,
        "admin/templates.html",
        ctx=ctx,
        section="incidents",
        templates=templates.list_templates(session, page_id=ctx.page.id),
        editable=ctx.can(Role.EDITOR),
    )


def _fields(form: FormData) -> dict[str, Any]:
    return {
        "name": text(form, "name").strip(),
        "title": text(form, "title").strip(),
        "body": text(form, "body"),
        "update_status": text(form, "update_status"),
        "should_send_notifications": flag(form, "notify"),
        "component_ids": forms.strings(form, "component_ids"),
    }


def _blank() -> dict[str, Any]:
    return {
        "name": "",
        "title": "",
        "body": "",
        "update_status": "investigating",
        "should_send_notifications": True,
        "component_ids": [],
    }


def _of(template: IncidentTemplate) -> dict[str, Any]:
    return {
        "name": template.name,
        "title": template.title,
        "body": template.body,
        "update_status": template.update_status.value,
        "should_send_notifications": template.should_send_notifications,
        "component_ids": template.component_ids,
    }


def _form(
    request: Request,
    ctx: OnPage,
    session: Session,
    values: dict[str, Any],
    *,
    template: IncidentTemplate | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/templates_form.html",
        ctx=ctx,
        section="incidents",
        status_code=status_code,
        error=error,
        saved=template,
        values=values,
        tree=forms.component_tree(components.list_components(session, ctx.page.id)),
        statuses=options(COMPOSER_STATUSES),
        editable=ctx.can(Role.EDITOR),
    )


@router.get("/templates/new", response_class=HTMLResponse)
def new_template(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    needs(ctx, Role.EDITOR)
    return _form(request, ctx, session, _blank())


@router.post("/templates/new", response_class=HTMLResponse)
def create_template(
    request: Request, ctx: OnPageDep, session: SessionDep, form: FormDep
) -> Response:
    needs(ctx, Role.EDITOR)
    values = _fields(form)

    def create() -> None:
        data = TemplateCreate.model_validate(values)
        templates.create_template(session, page=ctx.page, data=data, actor=ctx.actor)

    refused = forms.try_or_show(
        session,
        create,
        lambda message: _form(request, ctx, session, values, error=message, status_code=422),
        _LABELS,
    )
    return refused or redirect(_listing(ctx), flash=f"Template “{values['name'][:80]}” saved.")


@router.get("/templates/{template_id}", response_class=HTMLResponse)
def template_page(
    request: Request, ctx: OnPageDep, session: SessionDep, template_id: str
) -> Response:
    template = templates.get_template(session, page_id=ctx.page.id, template_id=template_id)
    return _form(request, ctx, session, _of(template), template=template)


@router.post("/templates/{template_id}", response_class=HTMLResponse)
def update_template(
    request: Request, ctx: OnPageDep, session: SessionDep, template_id: str, form: FormDep
) -> Response:
    needs(ctx, Role.EDITOR)
    template = templates.get_template(session, page_id=ctx.page.id, template_id=template_id)
    values = _fields(form)

    def change() -> None:
        data = TemplateUpdate.model_validate(values)
        templates.update_template(session, template=template, data=data, actor=ctx.actor)

    refused = forms.try_or_show(
        session,
        change,
        lambda message: _form(
            request, ctx, session, values, template=template, error=message, status_code=422
        ),
        _LABELS,
    )
    return refused or redirect(_listing(ctx), flash="Template saved.")


@router.post("/templates/{template_id}/delete", response_class=HTMLResponse)
def delete_template(ctx: OnPageDep, session: SessionDep, template_id: str) -> Response:
    needs(ctx, Role.EDITOR)
    template = templates.get_template(session, page_id=ctx.page.id, template_id=template_id)
    templates.delete_template(session, template=template, actor=ctx.actor)
    return redirect(_listing(ctx), flash="Template deleted.")
