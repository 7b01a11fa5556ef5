from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component
from tocsin.components.models import Component
from tocsin.incidents.models import Incident
from tocsin.incidents.status import IncidentStatus
from tocsin.monitors import alerts
from tocsin.monitors.models import AlertSource, Monitor, MonitorKind, MonitorState
from tocsin.pages.models import Page


def url(page: Page, suffix: str = "") -> str:
    return f"/api/v1/pages/{page.id}/alert_sources{suffix}"


def create_source(
    client: TestClient, who: Persona, kind: str, rules: list[dict[str, Any]]
) -> dict[str, Any]:
    response = client.post(
        url(who.page),
        json={"alert_source": {"name": "Prometheus", "kind": kind, "rules": rules}},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def am_alert(status: str, fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "ApiDown", **labels},
        "annotations": {"summary": "API is down"},
        "startsAt": "2026-05-04T17:06:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint,
    }


def alertmanager(*alerts_: dict[str, Any]) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts_)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ApiDown"}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "tocsin",
        "groupLabels": {"alertname": "ApiDown"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts_),
    }


def status_of(session: Session, row: Component) -> str:
    session.expire_all()
    found = session.get(Component, row.id)
    assert found is not None
    return found.status.value


def test_an_admin_creates_a_source_and_sees_the_token_once(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()

    created = create_source(
        client, alice, "alertmanager", [{"match": {"service": "api"}, "component_ids": [api.id]}]
    )

    assert created["hook_url"] == f"http://testserver/hooks/alertmanager/{created['token']}"
    stored = session.scalars(select(AlertSource)).one()
    assert stored.token_digest == alerts.digest(created["token"])
    assert created["token"] not in str(stored.rules)
    monitor = session.get(Monitor, created["rules"][0]["monitor_id"])
    assert monitor is not None and monitor.kind is MonitorKind.ALERT
    assert monitor.component_ids == [api.id]
    listed = client.get(url(page), headers=alice.headers).json()
    assert [s["id"] for s in listed] == [created["id"]]
    assert "token" not in listed[0] and "hook_url" not in listed[0]


def test_only_admins_manage_sources(
    client: TestClient, session: Session, page: Page, bob: Persona, charlie: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    body = {
        "alert_source": {"name": "x", "kind": "generic", "rules": [{"component_ids": [api.id]}]}
    }

    assert client.post(url(page), json=body, headers=bob.headers).status_code == 403
    assert client.get(url(page), headers=bob.headers).status_code == 403
    assert client.get(url(page), headers=charlie.headers).status_code == 404


def test_it_refuses_rules_naming_unknown_components(
    client: TestClient, page: Page, alice: Persona
) -> None:
    body = {
        "alert_source": {"name": "x", "kind": "generic", "rules": [{"component_ids": ["nope"]}]}
    }
    assert client.post(url(page), json=body, headers=alice.headers).status_code == 404
    bad = {"alert_source": {"name": "x", "kind": "pagerduty", "rules": []}}
    assert client.post(url(page), json=bad, headers=alice.headers).status_code == 422


def test_alertmanager_firing_and_resolved_drive_the_component_and_incident(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    web = component(session, page, "Web")
    session.commit()
    created = create_source(
        client,
        alice,
        "alertmanager",
        [
            {
                "match": {"service": "api"},
                "component_ids": [api.id],
                "auto_incident": True,
                "quiet_period_seconds": 0,
            },
            {"match": {"service": "web"}, "component_ids": [web.id]},
        ],
    )
    hook = f"/hooks/alertmanager/{created['token']}"

    answer = client.post(hook, json=alertmanager(am_alert("firing", "a1", service="api")))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"alerts": 1, "matched_rules": 1}
    assert (status_of(session, api), status_of(session, web)) == ("major_outage", "operational")
    incident = session.scalars(select(Incident)).one()
    assert incident.status is IncidentStatus.INVESTIGATING
    assert "API unavailable" in client.get("/").text

    client.post(hook, json=alertmanager(am_alert("resolved", "a1", service="api")))
    assert status_of(session, api) == "operational"
    session.expire_all()
    assert session.scalars(select(Incident)).one().status is IncidentStatus.MONITORING
    # The quiet period is over at the next notification that finds nothing firing.
    client.post(hook, json=alertmanager(am_alert("resolved", "a1", service="api")))
    session.expire_all()
    assert session.scalars(select(Incident)).one().status is IncidentStatus.RESOLVED


def test_a_rule_stays_down_while_any_of_its_alerts_fires(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    rule = {"match": {"service": "api"}, "component_ids": [api.id]}
    hook = f"/hooks/alertmanager/{create_source(client, alice, 'alertmanager', [rule])['token']}"

    client.post(hook, json=alertmanager(am_alert("firing", "a1", service="api", zone="eu")))
    client.post(hook, json=alertmanager(am_alert("firing", "a2", service="api", zone="us")))
    client.post(hook, json=alertmanager(am_alert("resolved", "a1", service="api", zone="eu")))
    assert status_of(session, api) == "major_outage"

    client.post(hook, json=alertmanager(am_alert("resolved", "a2", service="api", zone="us")))
    assert status_of(session, api) == "operational"


def test_n_of_m_rules_apply_to_alerts(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    rule = {"component_ids": [api.id], "failure_threshold": 2, "window": 3}
    hook = f"/hooks/generic/{create_source(client, alice, 'generic', [rule])['token']}"

    client.post(hook, json={"status": "firing", "message": "queue backed up"})
    assert status_of(session, api) == "operational"
    client.post(hook, json={"status": "firing", "message": "queue backed up"})
    assert status_of(session, api) == "major_outage"
    client.post(hook, json={"status": "ok"})
    assert status_of(session, api) == "operational"


def test_grafana_payloads_are_understood(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    rule = {
        "match": {"team": "core"},
        "component_ids": [api.id],
        "failure_status": "partial_outage",
    }
    hook = f"/hooks/grafana/{create_source(client, alice, 'grafana', [rule])['token']}"
    grafana = {
        "receiver": "tocsin",
        "status": "firing",
        "orgId": 1,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighLatency", "team": "core"},
                "annotations": {"description": "p99 above 2s"},
                "startsAt": "2026-05-04T17:06:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "c6eadffa33fcdf37",
                "values": {"B": 2.5},
            }
        ],
        "groupLabels": {},
        "title": "[FIRING:1]",
        "state": "alerting",
        "message": "...",
    }

    assert client.post(hook, json=grafana).status_code == 200
    assert status_of(session, api) == "partial_outage"
    monitor = session.scalars(select(Monitor)).one()
    assert monitor.last_error == "HighLatency: p99 above 2s"
    assert monitor.state is MonitorState.DOWN


def test_bad_tokens_bodies_and_sizes_are_refused(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    token = create_source(client, alice, "alertmanager", [{"component_ids": [api.id]}])["token"]

    assert client.post(f"/hooks/alertmanager/{'x' * 43}", json={}).status_code == 404
    assert client.post(f"/hooks/grafana/{token}", json={"alerts": []}).status_code == 404
    assert client.post(f"/hooks/nagios/{token}", json={}).status_code == 404
    assert client.post("/hooks/alertmanager/short", json={}).status_code == 404
    hook = f"/hooks/alertmanager/{token}"
    assert client.post(hook, content=b"not json").status_code == 422
    assert client.post(hook, json={"alerts": [{"status": "burning"}]}).status_code == 422
    assert client.post(hook, content=b"[" + b" " * 1_000_001 + b"]").status_code == 413
    assert client.get(hook).status_code == 405
    assert status_of(session, api) == "operational"


def test_deleting_a_source_releases_its_components(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    created = create_source(client, alice, "generic", [{"component_ids": [api.id]}])
    client.post(f"/hooks/generic/{created['token']}", json={"status": "firing"})
    assert status_of(session, api) == "major_outage"

    response = client.delete(url(page, f"/{created['id']}"), headers=alice.headers)

    assert response.status_code == 200
    assert status_of(session, api) == "operational"
    assert session.scalar(select(func.count()).select_from(Monitor)) == 0
    hook = f"/hooks/generic/{created['token']}"
    assert client.post(hook, json={"status": "firing"}).status_code == 404
