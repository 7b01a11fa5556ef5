from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import component, group
from tocsin.audit.models import AuditEvent
from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.schemas import ComponentUpdate
from tocsin.components.status import ComponentStatus
from tocsin.errors import Invalid, NotFound
from tocsin.pages.models import Page


def test_it_records_every_status_change_with_time_and_cause(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    at = datetime(2026, 2, 1, 12, tzinfo=UTC)
    components.update_component(
        session, component=api, data=ComponentUpdate(status=ComponentStatus.MAJOR_OUTAGE), actor=CLI
    )
    session.commit()

    history = components.status_history(session, component_ids=[api.id])[api.id]
    assert [status for _, status in history] == [
        ComponentStatus.OPERATIONAL,
        ComponentStatus.MAJOR_OUTAGE,
    ]
    assert history[1][0] > at
    assert history[0][0].tzinfo is not None


def test_it_ignores_a_change_to_the_same_status(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    changed = components.set_status(
        session,
        component=api,
        status=ComponentStatus.OPERATIONAL,
        cause=components.StatusCause.MANUAL,
    )
    assert changed is False
    assert len(components.status_history(session, component_ids=[api.id])[api.id]) == 1


def test_positions_count_within_each_level(session: Session, page: Page) -> None:
    web = component(session, page, "Website")
    api = component(session, page, "API")
    core = group(session, page, "Core", [web, api])
    cdn = component(session, page, "CDN")
    docs = component(session, page, "Docs", group=core)
    session.commit()

    assert (web.position, api.position, docs.position) == (1, 2, 3)
    assert core.position < cdn.position
    assert [c.name for c in core.children] == ["Website", "API", "Docs"]


def test_groups_are_one_level_deep(session: Session, page: Page) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    with pytest.raises(Invalid, match="not a group"):
        component(session, page, "Nested", group=web)
    with pytest.raises(Invalid, match="inside another group"):
        components.update_component(
            session, component=core, data=ComponentUpdate(group_id=core.id), actor=CLI
        )


def test_a_group_has_no_status_of_its_own(session: Session, page: Page) -> None:
    core = group(session, page, "Core", [component(session, page, "Website")])
    with pytest.raises(Invalid, match="worst of its components"):
        components.update_component(
            session,
            component=core,
            data=ComponentUpdate(status=ComponentStatus.MAJOR_OUTAGE),
            actor=CLI,
        )


def test_deleting_a_group_keeps_its_components(session: Session, page: Page) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    components.delete_component(session, component=core, actor=CLI)
    session.commit()

    assert [c.name for c in components.list_components(session, page.id)] == ["Website"]
    assert web.group_id is None


def test_components_of_another_page_are_not_found(session: Session, page: Page) -> None:
    other = Page(name="Other")
    session.add(other)
    session.flush()
    foreign = component(session, other, "Secret")
    with pytest.raises(NotFound):
        components.get_component(session, page_id=page.id, component_id=foreign.id)


def test_every_change_is_audited(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    components.update_component(
        session, component=api, data=ComponentUpdate(name="Public API"), actor=CLI
    )
    session.commit()

    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.created_at)).all()
    assert actions[-2:] == ["component.create", "component.update"]
