from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from factories import empty_database
from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.status import ComponentStatus
from tocsin.db import make_sessionmaker, transaction
from tocsin.demo import load_demo
from tocsin.errors import Invalid
from tocsin.incidents.status import IncidentKind, IncidentStatus
from tocsin.pages import service as pages
from tocsin.pages.render import Renderer
from tocsin.pages.state import load_state
from tocsin.pages.view import ComponentView, IncidentView, PageState

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
WINDOW_START = NOW - timedelta(days=90)


@pytest.fixture(scope="module")
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """The demo, loaded once per database for this module, then cleared away."""
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        page = pages.ensure_default_page(s, name="Status")
        load_demo(s, page=page, now=NOW, actor=CLI)
    yield factory
    empty_database(engine)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as s:
        yield s


@pytest.fixture
def state(session: Session) -> PageState:
    page = pages.default_page(session)
    assert page is not None
    return load_state(session, page=page, now=NOW, base_url="https://status.acme.example")


def _leaves(state: PageState) -> list[ComponentView]:
    return [leaf for top in state.components for leaf in (top.children if top.is_group else (top,))]


def _outage(state: PageState) -> IncidentView:
    [outage] = [i for i in state.incidents if i.name == "Payments API returning errors"]
    return outage


def test_it_names_the_page(state: PageState) -> None:
    assert state.page.name == "Acme Cloud"
    assert state.page.time_zone == "Etc/UTC"
    assert state.page.accent_color == "#4f46e5"


def test_it_creates_grouped_components(state: PageState) -> None:
    groups = {c.name: [m.name for m in c.children] for c in state.components if c.is_group}
    assert groups["Payments"] == ["Payments API", "Webhooks", "Billing portal"]
    assert {"Core platform", "Messaging"} <= groups.keys()
    leaves = _leaves(state)
    assert len(leaves) >= 12
    assert any(c.only_show_if_degraded for c in leaves)
    assert any(not c.showcase for c in leaves)


def test_it_ends_with_every_component_operational(state: PageState) -> None:
    assert {c.status for c in _leaves(state)} == {ComponentStatus.OPERATIONAL}
    assert state.description == "All Systems Operational"
    assert state.unresolved == ()
    assert state.active_maintenances == ()


def test_it_reproduces_the_example_outage(state: PageState) -> None:
    outage = _outage(state)
    assert [(a.name, a.status) for a in outage.affected] == [
        ("Payments API", ComponentStatus.PARTIAL_OUTAGE),
        ("Webhooks", ComponentStatus.DEGRADED_PERFORMANCE),
    ]
    assert [(u.status, u.body, u.display_at) for u in outage.updates] == [
        (
            IncidentStatus.RESOLVED,
            "Error rates are back to normal. We will publish a write-up.",
            datetime(2026, 3, 2, 16, 40, tzinfo=UTC),
        ),
        (
            IncidentStatus.MONITORING,
            "A fix has been deployed; we are watching error rates.",
            datetime(2026, 3, 2, 16, 35, tzinfo=UTC),
        ),
        (
            IncidentStatus.IDENTIFIED,
            "A bad configuration push to `payments-edge` is the cause. Rolling back.",
            datetime(2026, 3, 2, 15, 50, tzinfo=UTC),
        ),
        (
            IncidentStatus.INVESTIGATING,
            "We are seeing elevated error rates on the Payments API.",
            datetime(2026, 3, 2, 15, 12, tzinfo=UTC),
        ),
    ]
    assert outage.writeup is not None
    assert outage.writeup.url == "https://acme.example/blog/payments-postmortem"
    assert outage.writeup.published_at == datetime(2026, 3, 5, 10, 2, tzinfo=UTC)


def test_its_outage_page_reads_like_the_example(state: PageState) -> None:
    html = Renderer().incident(state, _outage(state).id)
    assert html is not None
    text = re.sub(r"<[^>]+>", "", html.decode())
    for line in (
        "Acme Cloud",
        "Payments API — Partial outage",
        "Webhooks — Degraded performance",
        "Read our write-up at https://acme.example/blog/payments-postmortem",
        "Thu, Mar 05, 2026, 10:02 AM",
        "Mon, Mar 02, 2026, 04:40 PM(2 days earlier)",
        "Mon, Mar 02, 2026, 04:35 PM",
        "Mon, Mar 02, 2026, 03:50 PM(45 minutes earlier)",
        "Mon, Mar 02, 2026, 03:12 PM(38 minutes earlier)",
    ):
        assert line in text
    assert "04:35 PM(" not in text
    assert "<code>payments-edge</code>" in html.decode()


def test_it_spreads_resolved_incidents_over_90_days(state: PageState) -> None:
    recent = [i for i in state.incidents if i.started_at >= WINDOW_START]
    assert len(recent) >= 12
    assert all(i.resolved_at is not None and i.resolved_at < NOW for i in recent)
    starts = sorted(i.started_at for i in recent)
    assert starts[0] < WINDOW_START + timedelta(days=7)
    assert starts[-1] > NOW - timedelta(days=7)
    assert {i.impact for i in recent} >= {"minor", "major", "critical"}
    assert sum(1 for i in recent if i.writeup and i.writeup.body) >= 2


def test_it_keeps_history_between_the_outage_and_the_window(state: PageState) -> None:
    between = [
        i for i in state.incidents if _outage(state).started_at < i.started_at < WINDOW_START
    ]
    assert len(between) >= 3


def test_its_status_history_spans_the_window(session: Session, state: PageState) -> None:
    ids = [c.id for c in _leaves(state)]
    history = components.status_history(session, component_ids=ids, since=WINDOW_START)
    changes = sorted(at for per in history.values() for at, _ in per if at > WINDOW_START)
    assert changes[0] < WINDOW_START + timedelta(days=7)
    assert changes[-1] > NOW - timedelta(days=7)
    assert all(at < NOW for at in changes)
    statuses = {status for per in history.values() for _, status in per}
    assert {
        ComponentStatus.DEGRADED_PERFORMANCE,
        ComponentStatus.PARTIAL_OUTAGE,
        ComponentStatus.MAJOR_OUTAGE,
        ComponentStatus.UNDER_MAINTENANCE,
    } <= statuses


def test_it_schedules_one_upcoming_maintenance(state: PageState) -> None:
    [upcoming] = state.upcoming_maintenances
    assert upcoming.scheduled_for is not None and upcoming.scheduled_until is not None
    assert NOW < upcoming.scheduled_for < NOW + timedelta(days=7)
    assert upcoming.scheduled_until - upcoming.scheduled_for == timedelta(hours=2)
    assert {a.name for a in upcoming.affected} == {"Database", "REST API"}


def test_it_records_a_completed_maintenance(state: PageState) -> None:
    done = [m for m in state.maintenances if m.status is IncidentStatus.COMPLETED]
    assert len(done) == 1
    assert done[0].kind is IncidentKind.MAINTENANCE
    labels = [u.status for u in done[0].updates]
    assert labels == [
        IncidentStatus.COMPLETED,
        IncidentStatus.VERIFYING,
        IncidentStatus.IN_PROGRESS,
        IncidentStatus.SCHEDULED,
    ]


def test_it_refuses_a_time_before_the_outage_write_up(factory: sessionmaker[Session]) -> None:
    with pytest.raises(Invalid), transaction(factory) as s:
        page = pages.default_page(s)
        assert page is not None
        load_demo(s, page=page, now=datetime(2026, 3, 4, tzinfo=UTC), actor=CLI)
