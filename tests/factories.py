"""Small typed builders with deterministic values, all going through the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.schemas import ComponentCreate, GroupCreate
from tocsin.components.status import ComponentStatus
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, UpdateCreate, WriteupPublish
from tocsin.incidents.status import IncidentStatus
from tocsin.models import Base
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.schemas import PageUpdate

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


def reference_outage(session: Session, page: Page) -> str:
    """The made-up outage of incident-page.md, committed; returns its id."""
    pages.update_page(session, page=page, data=PageUpdate(name="Acme Cloud"), actor=CLI)
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    group(session, page, "Payments", [api, hooks])
    incident = incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(
            name="Payments API returning errors",
            body="We are seeing elevated error rates on the Payments API.",
            components={
                api.id: ComponentStatus.PARTIAL_OUTAGE,
                hooks.id: ComponentStatus.DEGRADED_PERFORMANCE,
            },
        ),
        actor=CLI,
        now=T0,
    )
    steps = [
        (
            38,
            IncidentStatus.IDENTIFIED,
            "A bad configuration push to `payments-edge` is the cause. Rolling back.",
        ),
        (83, IncidentStatus.MONITORING, "A fix has been deployed; we are watching error rates."),
        (
            88,
            IncidentStatus.RESOLVED,
            "Error rates are back to normal. We will publish a write-up.",
        ),
    ]
    for minutes, status, body in steps:
        incidents.post_update(
            session,
            incident=incident,
            data=UpdateCreate(status=status, body=body),
            actor=CLI,
            now=T0 + timedelta(minutes=minutes),
        )
    incidents.publish_writeup(
        session,
        incident=incident,
        data=WriteupPublish(
            url="https://acme.example/blog/payments-postmortem",
            published_at=datetime(2026, 3, 5, 10, 2, tzinfo=UTC),
        ),
        actor=CLI,
    )
    session.commit()
    return incident.id


def empty_database(engine: Engine) -> None:
    """Delete every row, children first, so the next test starts from nothing."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
