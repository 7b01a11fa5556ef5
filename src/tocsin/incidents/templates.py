"""Incident templates: canned text editors start an incident from.

Template text is stored and returned exactly as written. Nothing here renders it, so
`{{ ... }}` or `{% ... %}` in a body is just text.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.db import utcnow
from tocsin.errors import NotFound
from tocsin.incidents.models import IncidentTemplate
from tocsin.incidents.schemas import TemplateCreate, TemplateUpdate
from tocsin.pages.models import Page


def list_templates(
    session: Session, *, page_id: str, limit: int | None = None, offset: int = 0
) -> list[IncidentTemplate]:
    """The page's templates in name order."""
    query = (
        select(IncidentTemplate)
        .where(IncidentTemplate.page_id == page_id)
        .order_by(IncidentTemplate.name, IncidentTemplate.id)
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(session.scalars(query))


def get_template(session: Session, *, page_id: str, template_id: str) -> IncidentTemplate:
    template = session.get(IncidentTemplate, template_id)
    if template is None or template.page_id != page_id:
        raise NotFound(f"incident template {template_id} not found")
    return template


def create_template(
    session: Session, *, page: Page, data: TemplateCreate, actor: Actor
) -> IncidentTemplate:
    """Save a template; NotFound or Invalid if a component is not a leaf of this page."""
    ids = _checked(session, page.id, data.component_ids)
    now = utcnow()
    template = IncidentTemplate(
        page_id=page.id,
        name=data.name,
        title=data.title,
        body=data.body,
        update_status=data.update_status,
        should_send_notifications=data.should_send_notifications,
        component_ids=ids,
        created_at=now,
        updated_at=now,
    )
    session.add(template)
    session.flush()
    _audit(session, actor, "incident_template.create", template, data.model_dump(mode="json"))
    return template


def update_template(
    session: Session, *, template: IncidentTemplate, data: TemplateUpdate, actor: Actor
) -> IncidentTemplate:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "component_ids" in changes:
        changes["component_ids"] = _checked(session, template.page_id, changes["component_ids"])
    for key, value in changes.items():
        setattr(template, key, value)
    template.updated_at = utcnow()
    session.flush()
    _audit(
        session,
        actor,
        "incident_template.update",
        template,
        data.model_dump(mode="json", exclude_unset=True),
    )
    return template


def delete_template(session: Session, *, template: IncidentTemplate, actor: Actor) -> None:
    _audit(session, actor, "incident_template.delete", template, {"name": template.name})
    session.delete(template)
    session.flush()


def _checked(session: Session, page_id: str, ids: list[str]) -> list[str]:
    return [c.id for c in components.get_leaves(session, page_id=page_id, ids=ids)]


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    template: IncidentTemplate,
    changes: dict[str, object],
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        page_id=template.page_id,
        object_type="incident_template",
        object_id=template.id,
        changes=changes,
    )
