from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from conftest import Persona
from factories import component
from tocsin.db import utcnow
from tocsin.main import create_app
from tocsin.monitors import service as monitors
from tocsin.monitors.probes import ProbeResult
from tocsin.pages.models import Page
from tocsin.settings import Settings


def url(page: Page, suffix: str = "") -> str:
    return f"/api/v1/pages/{page.id}/monitors{suffix}"


def body(**fields: Any) -> dict[str, Any]:
    return {
        "monitor": {
            "name": "API",
            "kind": "http",
            "target": "https://api.example.com/health",
            "interval_seconds": 30,
            "timeout_seconds": 10,
            **fields,
        }
    }


def create(client: TestClient, who: Persona, **fields: Any) -> dict[str, Any]:
    response = client.post(url(who.page), json=body(**fields), headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def strict_client(settings: Settings, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    """TOCSIN_MONITORS_ALLOW_PRIVATE=false."""
    strict = settings.model_copy(update={"monitors_allow_private": False})
    with TestClient(create_app(strict)) as client:
        yield client


def test_an_editor_creates_a_monitor(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()

    created = create(
        client,
        bob,
        component_ids=[api.id],
        failure_status="partial_outage",
        failure_threshold=2,
        window=4,
        recovery_threshold=3,
        auto_incident=True,
        draft=True,
        config={"expected_status": [200], "keyword": "ok"},
    )

    assert created["name"] == "API"
    assert created["component_ids"] == [api.id]
    assert (created["failure_threshold"], created["window"], created["recovery_threshold"]) == (
        2,
        4,
        3,
    )
    assert created["failure_status"] == "partial_outage"
    assert created["draft"] is True
    assert created["config"] == {"expected_status": [200], "keyword": "ok"}
    assert created["state"] == "unknown"
    assert created["ping_url"] is None


def test_roles_decide_who_reads_and_writes(
    client: TestClient, page: Page, alice: Persona, bob: Persona, vera: Persona, charlie: Persona
) -> None:
    created = create(client, alice, config={"headers": {"Authorization": "Bearer s3cret"}})
    one = url(page, f"/{created['id']}")

    listed = client.get(url(page), headers=vera.headers)
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()] == [created["id"]]
    # Configs may hold credentials: viewers do not see them.
    assert listed.json()[0]["config"] is None
    assert client.get(one, headers=bob.headers).json()["config"]["headers"]

    assert client.post(url(page), json=body(), headers=vera.headers).status_code == 403
    assert (
        client.patch(one, json={"monitor": {"name": "x"}}, headers=vera.headers).status_code == 403
    )
    assert client.delete(one, headers=vera.headers).status_code == 403
    assert client.post(one + "/run", headers=vera.headers).status_code == 403
    assert client.get(one, headers=charlie.headers).status_code == 404
    assert client.get(url(page), headers=charlie.headers).status_code == 404
    assert client.get(url(page)).status_code == 401


def test_a_heartbeat_gets_a_ping_url_shown_to_editors(
    client: TestClient, page: Page, bob: Persona, vera: Persona
) -> None:
    created = create(client, bob, kind="heartbeat", target="", config={"grace_seconds": 120})

    assert created["ping_url"].startswith("http://testserver/ping/")
    one = url(page, f"/{created['id']}")
    assert client.get(one, headers=vera.headers).json()["ping_url"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"interval_seconds": 5}, "interval_seconds"),
        ({"timeout_seconds": 30}, "shorter than interval"),
        ({"kind": "ftp"}, "kind"),
        ({"kind": "alert"}, "alert sources"),
        ({"failure_threshold": 6, "window": 5}, "cannot exceed window"),
        ({"failure_status": "operational"}, "failure_status"),
        ({"draft": True}, "draft needs auto_incident"),
        ({"config": {"nope": 1}}, "nope"),
        ({"target": "ftp://example.com/"}, "http"),
        ({"kind": "tcp", "target": "example.com"}, "host:port"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_it_refuses_invalid_monitors(
    client: TestClient, bob: Persona, fields: dict[str, Any], message: str
) -> None:
    response = client.post(url(bob.page), json=body(**fields), headers=bob.headers)
    assert response.status_code == 422, response.text
    assert message in response.json()["message"]


def test_it_refuses_components_and_templates_of_other_pages(
    client: TestClient, session: Session, bob: Persona, charlie: Persona
) -> None:
    theirs = component(session, charlie.page, "Their API")
    session.commit()
    response = client.post(url(bob.page), json=body(component_ids=[theirs.id]), headers=bob.headers)
    assert response.status_code == 404
    response = client.post(
        url(bob.page), json=body(incident_template_id="nope"), headers=bob.headers
    )
    assert response.status_code == 404


def test_it_updates_and_deletes(client: TestClient, page: Page, bob: Persona) -> None:
    created = create(client, bob)
    one = url(page, f"/{created['id']}")

    response = client.patch(
        one, json={"monitor": {"interval_seconds": 120, "paused": True}}, headers=bob.headers
    )
    assert response.status_code == 200
    assert (response.json()["interval_seconds"], response.json()["paused"]) == (120, True)
    # Changes are checked together with what is already there.
    response = client.patch(one, json={"monitor": {"interval_seconds": 10}}, headers=bob.headers)
    assert response.status_code == 422
    assert "shorter than interval" in response.json()["message"]

    deleted = client.delete(one, headers=bob.headers)
    assert deleted.status_code == 200
    assert deleted.json()["id"] == created["id"]
    assert client.get(one, headers=bob.headers).status_code == 404


def test_run_makes_the_monitor_due_and_results_list_the_latest(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    created = create(client, bob)
    one = url(page, f"/{created['id']}")

    response = client.post(one + "/run", headers=bob.headers)
    assert response.status_code == 202
    monitor = monitors.get_monitor(session, page_id=page.id, monitor_id=created["id"])
    assert monitor.next_run_at <= utcnow()

    start = utcnow()
    for seconds, ok in ((0, True), (30, False)):
        monitors.observe(
            session,
            monitor=monitor,
            result=ProbeResult(ok=ok, latency_ms=5.0 if ok else None, error=None if ok else "boom"),
            checked_at=start + timedelta(seconds=seconds),
        )
    session.commit()

    results = client.get(one + "/results?limit=10", headers=bob.headers).json()
    assert [(r["ok"], r["error"]) for r in results] == [(False, "boom"), (True, None)]
    assert client.get(one + "/results?limit=1000", headers=bob.headers).status_code == 422


@pytest.mark.parametrize(
    ("kind", "target", "config"),
    [
        ("http", "http://127.0.0.1:6379/", {}),
        ("http", "http://localhost/", {}),
        ("http", "http://[::1]/", {}),
        ("http", "http://10.0.0.5/", {}),
        ("http", "http://2130706433/", {}),
        ("http", "http://0x7f000001/", {}),
        ("http", "http://0177.0.0.1/", {}),
        ("http", "http://127.1/", {}),
        ("http", "http://[::ffff:127.0.0.1]/", {}),
        ("tcp", "192.168.1.1:5432", {}),
        ("tls", "[fd00::1]:443", {}),
        ("dns", "example.com", {"resolvers": ["10.0.0.53"]}),
    ],
)
def test_private_targets_are_refused_when_not_allowed(
    strict_client: TestClient, bob: Persona, kind: str, target: str, config: dict[str, Any]
) -> None:
    response = strict_client.post(
        url(bob.page), json=body(kind=kind, target=target, config=config), headers=bob.headers
    )
    assert response.status_code == 422, response.text
    assert "monitor.target" in response.json()["message"]


def test_public_targets_are_fine_when_private_ones_are_not(
    strict_client: TestClient, bob: Persona
) -> None:
    response = strict_client.post(url(bob.page), json=body(), headers=bob.headers)
    assert response.status_code == 201


def test_metadata_addresses_are_refused_even_when_private_targets_are_allowed(
    client: TestClient, bob: Persona
) -> None:
    for target in ("http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/"):
        response = client.post(url(bob.page), json=body(target=target), headers=bob.headers)
        assert response.status_code == 422
    local = client.post(
        url(bob.page), json=body(target="http://127.0.0.1:8080/"), headers=bob.headers
    )
    assert local.status_code == 201
