from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from factories import T0, component
from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.status import ComponentStatus
from tocsin.errors import Invalid, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, UpdateCreate, UpdateEdit, WriteupPublish
from tocsin.incidents.status import Impact, IncidentStatus
from tocsin.pages.models import Page

PARTIAL = ComponentStatus.PARTIAL_OUTAGE
DEGRADED = ComponentStatus.DEGRADED_PERFORMANCE
MAJOR = ComponentStatus.MAJOR_OUTAGE
OPERATIONAL = ComponentStatus.OPERATIONAL


def _open(session: Session, page: Page, statuses: dict[str, ComponentStatus], **fields: object):  # type: ignore[no-untyped-def]
    data = IncidentCreate.model_validate(
        {"name": "Payments API returning errors", "components": statuses, **fields}
    )
    return incidents.create_incident(session, page=page, data=data, actor=CLI, now=T0)


def test_it_moves_components_and_computes_impact(session: Session, page: Page) -> None:
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    incident = _open(session, page, {api.id: PARTIAL, hooks.id: DEGRADED})
    session.commit()

    assert (api.status, hooks.status) == (PARTIAL, DEGRADED)
    assert incident.impact is Impact.MAJOR
    first = incident.updates[0]
    assert first.body == "We are currently investigating this issue."
    assert {(c.component_id, c.old_status, c.new_status) for c in first.changes} == {
        (api.id, OPERATIONAL, PARTIAL),
        (hooks.id, OPERATIONAL, DEGRADED),
    }
    history = components.status_history(session, component_ids=[api.id])[api.id]
    assert history[-1] == (T0, PARTIAL)


def test_impact_is_the_worst_ever_set_and_an_override_wins(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    incident = _open(session, page, {api.id: MAJOR})
    incidents.post_update(
        session, incident=incident, data=UpdateCreate(components={api.id: DEGRADED}), actor=CLI
    )
    assert incident.impact is Impact.CRITICAL
    incidents.post_update(
        session, incident=incident, data=UpdateCreate(impact_override=Impact.MINOR), actor=CLI
    )
    assert incident.impact is Impact.MINOR


def test_an_incident_without_components_has_no_impact(session: Session, page: Page) -> None:
    assert _open(session, page, {}).impact is Impact.NONE


def test_resolving_restores_the_components_it_degraded(session: Session, page: Page) -> None:
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    incident = _open(session, page, {api.id: PARTIAL, hooks.id: DEGRADED})
    later = T0 + timedelta(minutes=88)
    update = incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(status=IncidentStatus.RESOLVED, body="Back to normal."),
        actor=CLI,
        now=later,
    )
    session.commit()

    assert (api.status, hooks.status) == (OPERATIONAL, OPERATIONAL)
    assert incident.resolved_at == later
    assert {c.new_status for c in update.changes} == {OPERATIONAL}
    assert incident.impact is Impact.MAJOR


def test_resolving_leaves_a_component_another_incident_still_holds(
    session: Session, page: Page
) -> None:
    api = component(session, page, "API")
    first = _open(session, page, {api.id: PARTIAL})
    _open(session, page, {api.id: PARTIAL})
    incidents.post_update(
        session, incident=first, data=UpdateCreate(status=IncidentStatus.RESOLVED), actor=CLI
    )
    assert api.status is PARTIAL


def test_resolving_leaves_a_component_someone_moved_since(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    incident = _open(session, page, {api.id: PARTIAL})
    components.set_status(
        session, component=api, status=MAJOR, cause=components.StatusCause.MONITOR
    )
    incidents.post_update(
        session, incident=incident, data=UpdateCreate(status=IncidentStatus.RESOLVED), actor=CLI
    )
    assert api.status is MAJOR


def test_an_explicit_map_on_resolve_is_applied_as_given(session: Session, page: Page) -> None:
    api = component(session, page, "API")
    incident = _open(session, page, {api.id: MAJOR})
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(status=IncidentStatus.RESOLVED, components={api.id: DEGRADED}),
        actor=CLI,
    )
    assert api.status is DEGRADED


def test_monitoring_and_resolved_times_are_stamped_once(session: Session, page: Page) -> None:
    incident = _open(session, page, {})
    t1, t2 = T0 + timedelta(minutes=5), T0 + timedelta(minutes=9)
    for status, at in ((IncidentStatus.MONITORING, t1), (IncidentStatus.MONITORING, t2)):
        incidents.post_update(
            session, incident=incident, data=UpdateCreate(status=status), actor=CLI, now=at
        )
    assert incident.monitoring_at == t1
    assert incident.resolved_at is None


def test_maintenance_statuses_are_refused_on_incidents(session: Session, page: Page) -> None:
    incident = _open(session, page, {})
    with pytest.raises(Invalid, match="not valid for a incident"):
        incidents.post_update(
            session,
            incident=incident,
            data=UpdateCreate(status=IncidentStatus.IN_PROGRESS),
            actor=CLI,
        )


def test_unknown_components_are_refused(session: Session, page: Page) -> None:
    with pytest.raises(NotFound, match="component nope"):
        _open(session, page, {"nope": MAJOR})


def test_a_backfilled_incident_is_resolved_history(session: Session, page: Page) -> None:
    started = datetime(2025, 12, 1, 9, tzinfo=UTC)
    ended = started + timedelta(hours=2)
    incident = _open(
        session,
        page,
        {},
        backfilled=True,
        started_at=started,
        resolved_at=ended,
        body="Old outage.",
    )
    assert incident.status is IncidentStatus.RESOLVED
    assert (incident.started_at, incident.resolved_at) == (started, ended)
    assert incident.updates[0].display_at == ended
    assert incident.updates[0].deliver_notifications is False


def test_a_backfilled_incident_cannot_touch_components() -> None:
    with pytest.raises(ValidationError, match="backfilled"):
        IncidentCreate(name="x", backfilled=True, components={"abc": MAJOR})


def test_editing_an_update_changes_its_display_time(session: Session, page: Page) -> None:
    incident = _open(session, page, {})
    update = incident.updates[0]
    earlier = T0 - timedelta(minutes=30)
    incidents.edit_update(
        session, update=update, data=UpdateEdit(display_at=earlier, body="Fixed typo."), actor=CLI
    )
    session.commit()
    assert (update.display_at, update.body) == (earlier, "Fixed typo.")


def test_publishing_a_writeup_moves_a_resolved_incident_to_postmortem(
    session: Session, page: Page
) -> None:
    incident = _open(session, page, {}, status=IncidentStatus.RESOLVED)
    published = datetime(2026, 3, 5, 10, 2, tzinfo=UTC)
    incidents.publish_writeup(
        session,
        incident=incident,
        data=WriteupPublish(
            url="https://acme.example/blog/payments-postmortem", published_at=published
        ),
        actor=CLI,
    )
    assert incident.status is IncidentStatus.POSTMORTEM
    assert incident.postmortem_published_at == published
    incidents.retract_writeup(session, incident=incident, actor=CLI)
    assert incident.status is IncidentStatus.RESOLVED


def test_a_writeup_is_a_url_or_a_body() -> None:
    with pytest.raises(ValidationError, match="either"):
        WriteupPublish(url="https://x.example/a", body="# Post-mortem")
    with pytest.raises(ValidationError):
        WriteupPublish(url="javascript:alert(1)")
