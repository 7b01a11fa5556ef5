"""A change rebuilds only what it touched, and serves exactly what a full rebuild would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.schemas import ComponentCreate, ComponentUpdate, GroupCreate
from tocsin.components.status import ComponentStatus, StatusCause
from tocsin.db import utcnow
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import (
    IncidentCreate,
    IncidentEdit,
    MaintenanceCreate,
    UpdateCreate,
    WriteupPublish,
)
from tocsin.incidents.status import IncidentStatus
from tocsin.main import create_app
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.render import HISTORY_PER_PAGE, Renderer
from tocsin.pages.schemas import PageUpdate
from tocsin.pages.snapshot import build_snapshot
from tocsin.pages.state import load, load_state, reload
from tocsin.pages.store import SnapshotStore
from tocsin.settings import Settings

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

Step = Callable[[Session, Page], None]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def app(settings: Settings, clock: time_machine.Traveller) -> Iterator[TestClient]:
    """An app whose snapshots change only through the commits of its own sessions."""
    quiet = settings.model_copy(update={"snapshot_poll_seconds": 3600})
    with TestClient(create_app(quiet)) as client:
        yield client


def _store(client: TestClient) -> SnapshotStore:
    store: SnapshotStore = client.app.state.snapshots  # type: ignore[attr-defined]
    return store


def _factory(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.sessionmaker  # type: ignore[attr-defined]
    return factory


def _named(session: Session, page: Page, name: str) -> Component:
    return next(c for c in components.list_components(session, page.id) if c.name == name)


def _incident(session: Session, page: Page, name: str) -> Incident:
    found = incidents.list_incidents(session, page_id=page.id, q=name)
    return next(i for i in found if i.name == name)


def _open(session: Session, page: Page) -> None:
    api = _named(session, page, "API")
    incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(
            name="Elevated API errors",
            body="We are looking into it.",
            components={api.id: ComponentStatus.PARTIAL_OUTAGE},
        ),
        actor=CLI,
    )


def _follow_up(session: Session, page: Page) -> None:
    incident = _incident(session, page, "Elevated API errors")
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(status=IncidentStatus.IDENTIFIED, body="A bad deploy; rolling back."),
        actor=CLI,
    )


def _rename_incident(session: Session, page: Page) -> None:
    incident = _incident(session, page, "Elevated API errors")
    incidents.edit_incident(
        session, incident=incident, data=IncidentEdit(name="API errors"), actor=CLI
    )


def _resolve(session: Session, page: Page) -> None:
    api = _named(session, page, "API")
    incident = _incident(session, page, "API errors")
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(
            status=IncidentStatus.RESOLVED,
            body="Back to normal.",
            components={api.id: ComponentStatus.OPERATIONAL},
        ),
        actor=CLI,
    )


def _write_up(session: Session, page: Page) -> None:
    incident = _incident(session, page, "API errors")
    incidents.publish_writeup(
        session,
        incident=incident,
        data=WriteupPublish(body="# What happened\n\nA deploy."),
        actor=CLI,
    )


def _schedule(session: Session, page: Page) -> None:
    incidents.schedule_maintenance(
        session,
        page=page,
        data=MaintenanceCreate(
            name="Database upgrade",
            scheduled_for=utcnow() + timedelta(days=2),
            scheduled_until=utcnow() + timedelta(days=2, hours=1),
            component_ids=[_named(session, page, "Search").id],
        ),
        actor=CLI,
    )


def _rename_component(session: Session, page: Page) -> None:
    components.update_component(
        session,
        component=_named(session, page, "API"),
        data=ComponentUpdate(name="Public API"),
        actor=CLI,
    )


def _add_component(session: Session, page: Page) -> None:
    components.create_component(session, page=page, data=ComponentCreate(name="Email"), actor=CLI)


def _degrade(session: Session, page: Page) -> None:
    components.set_status(
        session,
        component=_named(session, page, "Email"),
        status=ComponentStatus.DEGRADED_PERFORMANCE,
        cause=StatusCause.MANUAL,
    )


def _delete_incident(session: Session, page: Page) -> None:
    incident = _incident(session, page, "Past incident 3")
    incidents.delete_incident(session, incident=incident, actor=CLI)


def _delete_component(session: Session, page: Page) -> None:
    components.delete_component(session, component=_named(session, page, "Search"), actor=CLI)


def _rename_page(session: Session, page: Page) -> None:
    pages.update_page(session, page=page, data=PageUpdate(name="Acme Status"), actor=CLI)


# The clock stands still between most steps, as the uptime bars are only read again
# every minute (and when components change): a full rebuild would read them anew.
STEPS: list[tuple[Step, timedelta]] = [
    (_open, timedelta(0)),
    (_follow_up, timedelta(0)),
    (_rename_incident, timedelta(0)),
    (_resolve, timedelta(0)),
    (_write_up, timedelta(0)),
    (_schedule, timedelta(0)),
    (_rename_component, timedelta(0)),
    (_add_component, timedelta(0)),
    (_degrade, timedelta(minutes=5)),
    (_delete_incident, timedelta(0)),
    (_delete_component, timedelta(0)),
    (_rename_page, timedelta(0)),
]


def _seed(session: Session, page: Page) -> None:
    """Two components in a group, one alone, and enough past incidents for two
    history pages."""
    api = components.create_component(
        session, page=page, data=ComponentCreate(name="API"), actor=CLI
    )
    web = components.create_component(
        session, page=page, data=ComponentCreate(name="Web"), actor=CLI
    )
    components.create_group(
        session, page=page, data=GroupCreate(name="Edge", component_ids=[api.id, web.id]), actor=CLI
    )
    components.create_component(session, page=page, data=ComponentCreate(name="Search"), actor=CLI)
    for n in range(HISTORY_PER_PAGE + 5):
        began = T0 - timedelta(days=n + 1)
        incidents.create_incident(
            session,
            page=page,
            data=IncidentCreate(
                name=f"Past incident {n}",
                backfilled=True,
                started_at=began,
                resolved_at=began + timedelta(minutes=30),
                body=f"Resolved ({n}).",
            ),
            actor=CLI,
        )


def test_every_change_serves_the_bytes_of_a_full_rebuild(
    app: TestClient, page: Page, clock: time_machine.Traveller
) -> None:
    store = _store(app)
    factory = _factory(app)
    renderer = Renderer()
    for step, wait in [(_seed, timedelta(0)), *STEPS]:
        clock.shift(wait)
        with factory() as session:
            step(session, pages.get_page(session, page.id))
            session.commit()
        served = store.current.pages[page.id]
        with factory() as session:
            current = pages.get_page(session, page.id)
            state = load_state(session, page=current, now=utcnow(), base_url="http://testserver")
        full = build_snapshot(state, renderer)
        assert served.artifacts.keys() == full.artifacts.keys(), step.__name__
        for path, artifact in full.artifacts.items():
            assert served.artifacts[path] == artifact, (step.__name__, path)


def test_an_update_renders_only_the_pages_it_touched(session: Session, page: Page) -> None:
    _seed(session, page)
    _open(session, page)
    session.commit()
    renderer = Renderer()
    loaded = load(session, page=page, now=utcnow(), base_url="http://testserver")
    before = build_snapshot(loaded.state, renderer)

    _follow_up(session, page)
    session.commit()
    live = _incident(session, page, "Elevated API errors").id
    again = reload(
        session,
        loaded,
        page=page,
        now=utcnow(),
        base_url="http://testserver",
        incident_ids={live},
        components=False,
    )
    after = build_snapshot(again.state, renderer, previous=before, changed=again.changed)

    changed = {path for path, a in after.artifacts.items() if before.artifacts.get(path) is not a}
    assert f"/incidents/{live}" in changed
    assert not any(p.startswith("/incidents/") and p != f"/incidents/{live}" for p in changed)
    assert "/history?page=2" not in changed
    assert not any(p.endswith("badge.svg") for p in changed)
    assert again.state.components is loaded.state.components


@pytest.mark.parametrize(
    "change",
    [
        pages.Touched(everything=True),
        pages.Touched(components=True),
        pages.Touched(incidents={"abc123", "def456"}),
        pages.Touched(components=True, incidents={"abc123"}),
    ],
)
def test_a_change_crosses_processes_in_its_notify_payload(change: pages.Touched) -> None:
    assert pages.decode_notice(change.encode("page1")) == ("page1", change, None)
    assert pages.decode_notice(change.encode("page1", "me")) == ("page1", change, "me")


def test_a_bare_page_id_means_everything_changed() -> None:
    assert pages.decode_notice("page1") == ("page1", pages.Touched(everything=True), None)
    assert pages.decode_notice("page1 o:me").change == pages.Touched(everything=True)


def test_the_app_s_sessions_sign_their_notifications(app: TestClient) -> None:
    with _factory(app)() as session:
        assert session.info[pages.ORIGIN] == _store(app).origin
