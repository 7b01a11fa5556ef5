from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component
from tocsin.incidents import service as incidents
from tocsin.pages.models import Page

START = datetime(2030, 6, 1, 2, tzinfo=UTC)
END = START + timedelta(hours=2)


def _schedule(client: TestClient, persona: Persona, component_ids: list[str]) -> dict[str, object]:
    response = client.post(
        f"/api/v1/pages/{persona.page.id}/incidents",
        headers=persona.headers,
        json={
            "incident": {
                "name": "Database upgrade",
                "status": "scheduled",
                "scheduled_for": START.isoformat(),
                "scheduled_until": END.replace(tzinfo=None).isoformat(),
                "component_ids": component_ids,
                "scheduled_auto_in_progress": True,
                "scheduled_auto_completed": True,
                "scheduled_remind_prior": True,
            }
        },
    )
    assert response.status_code == 201
    body: dict[str, object] = response.json()
    return body


def _names(client: TestClient, persona: Persona, which: str) -> list[str]:
    rows = client.get(
        f"/api/v1/pages/{persona.page.id}/incidents/{which}", headers=persona.headers
    ).json()
    return [row["name"] for row in rows]


def test_it_schedules_starts_and_completes(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    db = component(session, page, "Database")
    session.commit()
    created = _schedule(client, bob, [db.id])
    assert created["status"] == "scheduled"
    assert created["impact"] == "maintenance"
    assert created["scheduled_for"] == "2030-06-01T02:00:00.000Z"
    assert created["scheduled_until"] == "2030-06-01T04:00:00.000Z"
    assert created["scheduled_remind_prior"] is True
    assert created["scheduled_auto_in_progress"] is True
    assert _names(client, bob, "upcoming") == ["Database upgrade"]
    assert _names(client, bob, "active_maintenance") == []
    assert _names(client, bob, "scheduled") == ["Database upgrade"]
    assert "Database upgrade" in client.get("/").text

    incidents.advance_maintenances(session, now=START)
    session.commit()
    assert _names(client, bob, "upcoming") == []
    assert _names(client, bob, "active_maintenance.json") == ["Database upgrade"]
    one = client.get(
        f"/api/v1/pages/{page.id}/incidents/{created['id']}", headers=bob.headers
    ).json()
    assert one["components"][0]["status"] == "under_maintenance"

    incidents.advance_maintenances(session, now=END)
    session.commit()
    assert _names(client, bob, "active_maintenance") == []
    assert _names(client, bob, "scheduled") == ["Database upgrade"]


def test_patching_a_maintenance_status_starts_it_like_the_worker(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    db = component(session, page, "Database")
    session.commit()
    one = f"/api/v1/pages/{page.id}/incidents/{_schedule(client, bob, [db.id])['id']}"
    started = client.patch(one, headers=bob.headers, json={"incident": {"status": "in_progress"}})
    assert started.status_code == 200
    assert started.json()["components"][0]["status"] == "under_maintenance"
    assert started.json()["incident_updates"][0]["affected_components"][0]["new_status"] == (
        "under_maintenance"
    )
    verifying = client.patch(one, headers=bob.headers, json={"incident": {"status": "verifying"}})
    assert verifying.json()["monitoring_at"] is not None
    done = client.patch(
        one,
        headers=bob.headers,
        json={"incident": {"status": "completed", "body": "All done."}},
    ).json()
    assert done["components"][0]["status"] == "operational"
    assert done["resolved_at"] is not None
    assert done["incident_updates"][0]["body"] == "All done."


def test_rescheduling_edits_the_window_without_an_update(
    client: TestClient, page: Page, bob: Persona
) -> None:
    one = f"/api/v1/pages/{page.id}/incidents/{_schedule(client, bob, [])['id']}"
    later = (START + timedelta(days=1)).isoformat()
    moved = client.patch(
        one,
        headers=bob.headers,
        json={
            "incident": {
                "scheduled_for": later,
                "scheduled_until": (END + timedelta(days=1)).isoformat(),
            }
        },
    ).json()
    assert moved["scheduled_for"] == "2030-06-02T02:00:00.000Z"
    assert len(moved["incident_updates"]) == 1
    backwards = client.patch(
        one, headers=bob.headers, json={"incident": {"scheduled_until": START.isoformat()}}
    )
    assert backwards.status_code == 422


def test_maintenance_input_is_validated(client: TestClient, page: Page, bob: Persona) -> None:
    base = f"/api/v1/pages/{page.id}/incidents"
    bad = [
        {"name": "x", "scheduled_for": END.isoformat(), "scheduled_until": START.isoformat()},
        {"name": "x", "status": "scheduled"},
        {"name": "x", "status": "identified", "scheduled_for": START.isoformat(),
         "scheduled_until": END.isoformat()},
    ]  # fmt: skip
    for incident in bad:
        response = client.post(base, headers=bob.headers, json={"incident": incident})
        assert response.status_code == 422, incident
    one = f"{base}/{_schedule(client, bob, [])['id']}"
    realtime = client.patch(one, headers=bob.headers, json={"incident": {"status": "resolved"}})
    assert realtime.status_code == 422
