from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from factories import component
from tocsin import worker
from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.status import ComponentStatus, StatusCause
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import MaintenanceCreate
from tocsin.incidents.status import Impact, IncidentStatus
from tocsin.pages.models import Page

START = datetime(2026, 12, 1, 2, tzinfo=UTC)
END = START + timedelta(hours=2)


def _schedule(session: Session, page: Page, component_ids: list[str]) -> Incident:
    data = MaintenanceCreate(
        name="Database upgrade",
        scheduled_for=START,
        scheduled_until=END,
        component_ids=component_ids,
    )
    return incidents.schedule_maintenance(
        session, page=page, data=data, actor=CLI, now=START - timedelta(days=3)
    )


def test_it_starts_and_ends_by_itself(session: Session, page: Page) -> None:
    db = component(session, page, "Database")
    maintenance = _schedule(session, page, [db.id])
    assert incidents.advance_maintenances(session, now=START - timedelta(seconds=1)) == 0
    assert maintenance.status is IncidentStatus.SCHEDULED
    assert maintenance.impact is Impact.MAINTENANCE

    assert incidents.advance_maintenances(session, now=START) == 1
    assert maintenance.status is IncidentStatus.IN_PROGRESS
    assert db.status is ComponentStatus.UNDER_MAINTENANCE

    assert incidents.advance_maintenances(session, now=END + timedelta(seconds=5)) == 1
    assert maintenance.status is IncidentStatus.COMPLETED
    assert db.status is ComponentStatus.OPERATIONAL
    assert [u.status for u in maintenance.updates][-3:] == [
        IncidentStatus.SCHEDULED,
        IncidentStatus.IN_PROGRESS,
        IncidentStatus.COMPLETED,
    ]


def test_it_records_maintenance_as_the_cause(session: Session, page: Page) -> None:
    db = component(session, page, "Database")
    _schedule(session, page, [db.id])
    incidents.advance_maintenances(session, now=START)
    session.flush()
    from tocsin.components.models import StatusChange

    change = (
        session.query(StatusChange)
        .filter_by(component_id=db.id)
        .order_by(StatusChange.changed_at.desc())
        .first()
    )
    assert change is not None
    assert change.cause is StatusCause.MAINTENANCE


def test_it_does_not_hide_an_outage_under_maintenance(session: Session, page: Page) -> None:
    db = component(session, page, "Database")
    components.set_status(
        session, component=db, status=ComponentStatus.MAJOR_OUTAGE, cause=StatusCause.MANUAL
    )
    _schedule(session, page, [db.id])
    incidents.advance_maintenances(session, now=START)
    assert db.status is ComponentStatus.MAJOR_OUTAGE


def test_the_worker_round_commits_the_transition(
    factory: sessionmaker[Session], page: Page
) -> None:
    with factory() as session:
        db = component(session, page, "Database")
        maintenance = _schedule(session, page, [db.id])
        maintenance.scheduled_for = datetime.now(UTC) - timedelta(minutes=1)
        session.commit()
        maintenance_id = maintenance.id

    assert worker.run_scheduled_jobs(factory) == 1
    with factory() as session:
        assert session.get(Incident, maintenance_id).status is IncidentStatus.IN_PROGRESS  # type: ignore[union-attr]


def test_a_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="after scheduled_for"):
        MaintenanceCreate(name="x", scheduled_for=END, scheduled_until=START)


def test_subscribers_are_reminded_once_within_the_hour_before(session: Session, page: Page) -> None:
    from tocsin.notify.models import Notification, NotificationKind

    db = component(session, page, "Database")
    _schedule(session, page, [db.id])
    assert incidents.send_maintenance_reminders(session, now=START - timedelta(hours=2)) == 0
    assert incidents.send_maintenance_reminders(session, now=START - timedelta(minutes=50)) == 1
    assert incidents.send_maintenance_reminders(session, now=START - timedelta(minutes=40)) == 0
    kinds = session.scalars(select(Notification.kind)).all()
    assert kinds.count(NotificationKind.MAINTENANCE_REMINDER) == 1
