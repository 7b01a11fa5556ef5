from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from factories import component
from tocsin.components import service as components
from tocsin.components.status import ComponentStatus, StatusCause
from tocsin.pages.models import Page

SINCE = datetime(2026, 2, 7, tzinfo=UTC)


def _day(day: int) -> datetime:
    return datetime(2026, 2, day, 12, tzinfo=UTC)


def test_since_starts_each_history_with_the_status_then_in_force(
    session: Session, page: Page
) -> None:
    api = component(session, page, "API")
    quiet = component(session, page, "Quiet")
    for day, status in (
        (1, ComponentStatus.DEGRADED_PERFORMANCE),
        (5, ComponentStatus.MAJOR_OUTAGE),
        (10, ComponentStatus.OPERATIONAL),
        (12, ComponentStatus.PARTIAL_OUTAGE),
    ):
        components.set_status(
            session, component=api, status=status, cause=StatusCause.MANUAL, now=_day(day)
        )
    session.commit()

    history = components.status_history(session, component_ids=[api.id, quiet.id], since=SINCE)

    assert history[api.id] == [
        (_day(5), ComponentStatus.MAJOR_OUTAGE),
        (_day(10), ComponentStatus.OPERATIONAL),
        (_day(12), ComponentStatus.PARTIAL_OUTAGE),
    ]
    assert history[quiet.id] == [(datetime(2026, 1, 1, tzinfo=UTC), ComponentStatus.OPERATIONAL)]


def test_since_keeps_everything_after_it_and_nothing_before_a_component_existed(
    session: Session, page: Page
) -> None:
    api = component(session, page, "API")
    session.commit()

    history = components.status_history(
        session, component_ids=[api.id], since=datetime(2025, 1, 1, tzinfo=UTC)
    )

    assert history[api.id] == [(datetime(2026, 1, 1, tzinfo=UTC), ComponentStatus.OPERATIONAL)]
    full = components.status_history(session, component_ids=[api.id])
    assert full == history
