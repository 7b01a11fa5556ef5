from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import component
from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.schemas import ComponentUpdate
from tocsin.components.status import ComponentStatus
from tocsin.incidents import service as incidents
from tocsin.incidents import templates
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import TemplateCreate
from tocsin.incidents.status import IncidentStatus
from tocsin.monitors import automation
from tocsin.monitors import service as monitors
from tocsin.monitors.models import Monitor, MonitorState
from tocsin.monitors.probes import ProbeResult
from tocsin.monitors.schemas import MonitorCreate
from tocsin.notify.models import Notification
from tocsin.pages.models import Page

T0 = datetime(2026, 5, 4, 17, 6, tzinfo=UTC)
FAIL = ProbeResult(ok=False, latency_ms=None, error="could not resolve api.internal.example")
PASS = ProbeResult(ok=True, latency_ms=12.5)

SSTI = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% include '/etc/passwd' %}",
    "{{ ['id']|map('system')|join }}",
    "{% render '/etc/passwd' %}",
    "{{7*7}}",
]


def make_monitor(session: Session, page: Page, api: Component, **fields: object) -> Monitor:
    data = MonitorCreate.model_validate(
        {
            "name": "API health",
            "kind": "http",
            "target": "https://api.example.com/health",
            "interval_seconds": 30,
            "component_ids": [api.id],
            "failure_threshold": 3,
            "window": 5,
            "recovery_threshold": 2,
            **fields,
        }
    )
    monitor = monitors.create_monitor(
        session, page=page, data=data, actor=CLI, allow_private=True, now=T0
    )
    session.commit()
    return monitor


def feed(session: Session, monitor: Monitor, outcomes: str, start: datetime) -> datetime:
    """Observe "1"/"0" outcomes 30 s apart from `start`; return the time of the last one."""
    at = start
    for index, char in enumerate(outcomes):
        at = start + timedelta(seconds=30 * index)
        monitors.observe(
            session, monitor=monitor, result=PASS if char == "1" else FAIL, checked_at=at
        )
    session.commit()
    return at


def notifications(session: Session, incident_id: str) -> int:
    query = select(func.count()).where(Notification.incident_id == incident_id)
    return session.scalar(query) or 0


def test_failures_move_the_component_and_open_an_incident_from_the_default(
    session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    monitor = make_monitor(session, page, api, auto_incident=True)

    feed(session, monitor, "00", T0)
    assert api.status is ComponentStatus.OPERATIONAL
    assert monitor.incident_id is None

    feed(session, monitor, "0", T0 + timedelta(minutes=1))
    assert monitor.state is MonitorState.DOWN
    assert api.status is ComponentStatus.MAJOR_OUTAGE
    incident = session.get(Incident, monitor.incident_id)
    assert incident is not None
    assert incident.name == "Payments API unavailable"
    assert incident.status is IncidentStatus.INVESTIGATING
    assert not incident.draft
    assert [c.component_id for c in incident.components] == [api.id]
    assert "Payments API" in incident.updates[0].body
    # The probe's error can name internal hosts: it stays out of the default public text.
    assert "api.internal.example" not in incident.updates[0].body
    assert notifications(session, incident.id) == 1


def test_a_template_is_filled_by_plain_substitution(session: Session, page: Page) -> None:
    api = component(session, page, "Payments API")
    body = "{{monitor.name}} on {{ component.name }} failed: {{error}}. " + " ".join(SSTI)
    template = templates.create_template(
        session,
        page=page,
        data=TemplateCreate(
            name="Checks failing",
            title="{{component.name}} down {{7*7}}",
            body=body,
            update_status=IncidentStatus.IDENTIFIED,
            should_send_notifications=False,
        ),
        actor=CLI,
    )
    # Values are data: a monitor named like a placeholder is never expanded again.
    monitor = make_monitor(
        session,
        page,
        api,
        name="{{error}} {{7*7}}",
        auto_incident=True,
        incident_template_id=template.id,
        failure_threshold=1,
        window=1,
    )

    feed(session, monitor, "0", T0)

    incident = session.get(Incident, monitor.incident_id)
    assert incident is not None
    assert incident.name == "Payments API down {{7*7}}"
    assert incident.status is IncidentStatus.IDENTIFIED
    text = incident.updates[0].body
    assert text.startswith(
        "{{error}} {{7*7}} on Payments API failed: could not resolve api.internal.example. "
    )
    for payload in SSTI:
        assert payload in text
    assert "49" not in text
    assert notifications(session, incident.id) == 0


def test_recovery_posts_monitoring_then_resolved_after_a_quiet_period(
    session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    monitor = make_monitor(session, page, api, auto_incident=True, quiet_period_seconds=300)
    down_at = feed(session, monitor, "000", T0)
    incident_id = monitor.incident_id
    assert incident_id is not None

    up_at = feed(session, monitor, "11", down_at + timedelta(seconds=30))
    incident = incidents.get_incident(session, page_id=page.id, incident_id=incident_id)
    assert monitor.state is MonitorState.UP
    assert incident.status is IncidentStatus.MONITORING
    assert api.status is ComponentStatus.OPERATIONAL
    assert monitor.recovered_at == up_at

    # A blip too short to take the monitor down restarts the quiet period.
    blip = feed(session, monitor, "1" * 5 + "0" + "1" * 9, up_at + timedelta(seconds=30))
    assert incident.status is IncidentStatus.MONITORING
    assert monitor.recovered_at == up_at + timedelta(seconds=30 * 6)

    # The blip was 270 s ago; one more passing check makes 300 s.
    feed(session, monitor, "1", blip + timedelta(seconds=30))
    assert monitor.recovered_at is None
    assert incident.status is IncidentStatus.RESOLVED
    assert monitor.incident_id is None
    assert [u.status for u in sorted(incident.updates, key=lambda u: u.display_at)] == [
        IncidentStatus.INVESTIGATING,
        IncidentStatus.MONITORING,
        IncidentStatus.RESOLVED,
    ]
    assert notifications(session, incident_id) == 3


def test_failing_again_while_monitoring_reopens_the_same_incident(
    session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    monitor = make_monitor(session, page, api, auto_incident=True)
    at = feed(session, monitor, "000" + "11", T0)
    first = monitor.incident_id

    feed(session, monitor, "000", at + timedelta(seconds=30))

    assert monitor.incident_id == first
    incident = incidents.get_incident(session, page_id=page.id, incident_id=str(first))
    assert incident.status is IncidentStatus.INVESTIGATING
    assert api.status is ComponentStatus.MAJOR_OUTAGE
    assert session.scalar(select(func.count()).select_from(Incident)) == 1


def test_without_auto_incident_only_the_components_move(session: Session, page: Page) -> None:
    api = component(session, page, "Payments API")
    monitor = make_monitor(session, page, api, failure_status="partial_outage")

    at = feed(session, monitor, "000", T0)
    assert api.status is ComponentStatus.PARTIAL_OUTAGE
    feed(session, monitor, "11", at + timedelta(seconds=30))

    assert api.status is ComponentStatus.OPERATIONAL
    assert session.scalar(select(func.count()).select_from(Incident)) == 0


def test_recovery_leaves_a_status_set_by_hand_or_held_by_another_monitor(
    session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    first = make_monitor(session, page, api, failure_threshold=1, window=1)
    monitors.update_monitor(
        session,
        monitor=first,
        data=monitors.MonitorUpdate(component_ids=[api.id, hooks.id]),
        actor=CLI,
        allow_private=True,
    )
    second = make_monitor(session, page, api, name="API from EU", failure_threshold=1, window=1)
    feed(session, first, "0", T0)
    feed(session, second, "0", T0)
    components.update_component(
        session,
        component=hooks,
        data=ComponentUpdate(status=ComponentStatus.DEGRADED_PERFORMANCE),
        actor=CLI,
    )

    feed(session, first, "11", T0 + timedelta(minutes=1))

    assert api.status is ComponentStatus.MAJOR_OUTAGE  # the EU check still fails
    assert hooks.status is ComponentStatus.DEGRADED_PERFORMANCE
    feed(session, second, "11", T0 + timedelta(minutes=2))
    assert api.status is ComponentStatus.OPERATIONAL


def test_a_draft_incident_stays_off_public_views_until_published(
    session: Session, page: Page, client: TestClient
) -> None:
    api = component(session, page, "Payments API")
    monitor = make_monitor(session, page, api, auto_incident=True, draft=True)
    feed(session, monitor, "000", T0)
    incident = session.get(Incident, monitor.incident_id)
    assert incident is not None and incident.draft
    assert notifications(session, incident.id) == 0

    summary = client.get("/api/v2/summary.json").json()
    assert summary["incidents"] == []
    assert "Payments API unavailable" not in client.get("/").text
    assert client.get("/api/v2/incidents.json").json()["incidents"] == []

    incidents.publish_draft(session, incident=incident, actor=CLI)
    session.commit()

    summary = client.get("/api/v2/summary.json").json()
    assert [i["name"] for i in summary["incidents"]] == ["Payments API unavailable"]
    assert "Payments API unavailable" in client.get("/").text
    assert notifications(session, incident.id) == 1


def test_substitution_knows_only_its_fixed_names() -> None:
    values = {"monitor.name": "{{error}}", "component.name": "DB", "error": "boom"}
    text = "{{monitor.name}}|{{component.name}}|{{error}}|{{page.secret}}|{monitor.name}"
    assert automation.substitute(text, values) == "{{error}}|DB|boom|{{page.secret}}|{monitor.name}"
