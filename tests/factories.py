"""Small typed builders with deterministic values, all going through the services."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.schemas import ComponentCreate, GroupCreate
from tocsin.pages.models import Page

T0 = datetime(2026, 3, 2, 15, 12, tzinfo=UTC)


def component(
    session: Session, page: Page, name: str, *, group: Component | None = None, **fields: object
) -> Component:
    data = ComponentCreate.model_validate(
        {"name": name, "group_id": group.id if group else None, **fields}
    )
    return components.create_component(
        session, page=page, data=data, actor=CLI, now=datetime(2026, 1, 1, tzinfo=UTC)
    )


def group(session: Session, page: Page, name: str, members: list[Component]) -> Component:
    return components.create_group(
        session,
        page=page,
        data=GroupCreate(name=name, component_ids=[m.id for m in members]),
        actor=CLI,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
