"""Incident templates in the management API v1 (statuspage-api.md §2.3, §2.4).

Template text is returned exactly as stored; it is never rendered (security.md B.10).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy.orm import Session

from tocsin.accounts.models import Role
from tocsin.api.auth import PrincipalDep, page_for
from tocsin.api.body import openapi_body, parse, unwrap
from tocsin.api.v1.common import MAX_PER_PAGE, BodyDep
from tocsin.api.v1.incidents import (
    ERRORS,
    Context,
    IdPath,
    Ids,
    PageNumber,
    PerPage,
    WireModel,
    context,
)
from tocsin.api.v1.serialize import component
from tocsin.deps import SessionDep, SettingsDep
from tocsin.incidents import templates
from tocsin.incidents.models import IncidentTemplate
from tocsin.incidents.schemas import BODY_MAX, TemplateCreate, TemplateUpdate
from tocsin.incidents.status import IncidentStatus
from tocsin.pages.models import Page

router = APIRouter(tags=["incident templates"])

_PAGE = "/pages/{page_id}/incident_templates"
_ONE = _PAGE + "/{template_id}"


class TemplateBody(WireModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    title: str | None = Field(default=None, min_length=1, max_length=255)
    body: str | None = Field(default=None, min_length=1, max_length=BODY_MAX)
    group_id: str | None = Field(default=None, max_length=64, description="Ignored.")
    update_status: IncidentStatus | None = None
    should_tweet: bool | None = Field(default=None, description="Ignored.")
    should_send_notifications: bool | None = None
    component_ids: Ids | None = Field(default=None, max_length=1000)


class TemplateCreateBody(TemplateBody):
    name: str = Field(min_length=1, max_length=255)
    title: str = Field(min_length=1, max_length=255)
    body: str = Field(min_length=1, max_length=BODY_MAX)


_FIELDS = {"name", "title", "body", "update_status", "should_send_notifications", "component_ids"}


def template_object(template: IncidentTemplate, ctx: Context) -> dict[str, Any]:
    return {
        "id": template.id,
        "components": [
            component(ctx.rows[i], ctx.zone) for i in template.component_ids if i in ctx.rows
        ],
        "name": template.name,
        "title": template.title,
        "body": template.body,
        "group_id": None,
        "update_status": template.update_status.value,
        "should_tweet": False,
        "should_send_notifications": template.should_send_notifications,
    }


def _found(session: Session, page: Page, template_id: str) -> IncidentTemplate:
    return templates.get_template(session, page_id=page.id, template_id=template_id)


@router.get(_PAGE, responses=ERRORS)
def list_templates(
    page_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    per_page: PerPage = MAX_PER_PAGE,
    page: PageNumber = 1,
) -> list[dict[str, Any]]:
    found = page_for(session, principal, page_id, needs=Role.VIEWER)
    size = min(per_page, MAX_PER_PAGE)
    rows = templates.list_templates(session, page_id=found.id, limit=size, offset=(page - 1) * size)
    ctx = context(session, found, settings)
    return [template_object(row, ctx) for row in rows]


@router.post(
    _PAGE,
    status_code=201,
    responses=ERRORS,
    openapi_extra=openapi_body(TemplateCreateBody, "template"),
)
def create_template(
    page_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    wire = parse(TemplateCreateBody, unwrap(body, "template"), where="template")
    data = parse(
        TemplateCreate, wire.model_dump(include=_FIELDS, exclude_none=True), where="template"
    )
    template = templates.create_template(session, page=page, data=data, actor=principal.actor)
    return template_object(template, context(session, page, settings))


@router.get(_ONE, responses=ERRORS)
def get_template(
    page_id: IdPath,
    template_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    return template_object(_found(session, page, template_id), context(session, page, settings))


@router.patch(_ONE, responses=ERRORS, openapi_extra=openapi_body(TemplateBody, "template"))
@router.put(_ONE, responses=ERRORS, openapi_extra=openapi_body(TemplateBody, "template"))
def update_template(
    page_id: IdPath,
    template_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    template = _found(session, page, template_id)
    wire = parse(TemplateBody, unwrap(body, "template"), where="template")
    data = parse(
        TemplateUpdate, wire.model_dump(include=_FIELDS, exclude_none=True), where="template"
    )
    templates.update_template(session, template=template, data=data, actor=principal.actor)
    return template_object(template, context(session, page, settings))


@router.delete(_ONE, responses=ERRORS)
def delete_template(
    page_id: IdPath,
    template_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Delete the template and answer with it as it was."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    template = _found(session, page, template_id)
    gone = template_object(template, context(session, page, settings))
    templates.delete_template(session, template=template, actor=principal.actor)
    return gone
