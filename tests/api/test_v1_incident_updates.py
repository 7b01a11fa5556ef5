from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component
from tocsin.pages.models import Page


def _incident(client: TestClient, persona: Persona) -> str:
    base = f"/api/v1/pages/{persona.page.id}/incidents"
    created = client.post(base, headers=persona.headers, json={"incident": {"name": "Outage"}})
    one = f"{base}/{created.json()['id']}"
    client.patch(one, headers=persona.headers, json={"incident": {"status": "identified"}})
    return one


def test_editing_an_update_changes_its_text_time_and_order(
    client: TestClient, page: Page, bob: Persona
) -> None:
    one = _incident(client, bob)
    before = client.get(one, headers=bob.headers).json()["incident_updates"]
    latest = before[0]
    assert [u["status"] for u in before] == ["identified", "investigating"]

    response = client.patch(
        f"{one}/incident_updates/{latest['id']}",
        headers=bob.headers,
        json={
            "incident_update": {
                "body": "Fixed typo.",
                "display_at": "2020-01-01T00:00:00",
                "wants_twitter_update": True,
            }
        },
    )
    assert response.status_code == 200
    edited = response.json()
    assert edited["body"] == "Fixed typo."
    assert edited["display_at"] == "2020-01-01T00:00:00.000Z"
    after = client.get(one, headers=bob.headers).json()["incident_updates"]
    assert [u["status"] for u in after] == ["investigating", "identified"]
    assert "Fixed typo." in client.get(one.replace(f"/api/v1/pages/{bob.page.id}", "")).text


def test_put_edits_an_update_too(client: TestClient, page: Page, bob: Persona) -> None:
    one = _incident(client, bob)
    update_id = client.get(one, headers=bob.headers).json()["incident_updates"][0]["id"]
    response = client.put(
        f"{one}/incident_updates/{update_id}.json",
        headers={**bob.headers, "Content-Type": "application/x-www-form-urlencoded"},
        content="incident_update[deliver_notifications]=false",
    )
    assert response.status_code == 200
    assert response.json()["deliver_notifications"] is False


def test_components_map_records_old_and_new_status(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    db = component(session, page, "Database")
    session.commit()
    one = _incident(client, alice)
    first = client.patch(
        one, headers=alice.headers, json={"incident": {"components": {db.id: "partial_outage"}}}
    ).json()
    second = client.patch(
        one, headers=alice.headers, json={"incident": {"components": {db.id: "operational"}}}
    ).json()
    assert first["incident_updates"][0]["affected_components"] == [
        {
            "code": db.id,
            "name": "Database",
            "old_status": "operational",
            "new_status": "partial_outage",
        }
    ]
    assert second["incident_updates"][0]["affected_components"][0]["old_status"] == "partial_outage"
    assert second["components"][0]["status"] == "operational"
    assert second["impact"] == "major"


def test_an_unknown_update_or_a_viewer_is_refused(
    client: TestClient, page: Page, alice: Persona, vera: Persona, charlie: Persona
) -> None:
    one = _incident(client, alice)
    update_id = client.get(one, headers=alice.headers).json()["incident_updates"][0]["id"]
    body = {"incident_update": {"body": "x"}}
    assert (
        client.patch(f"{one}/incident_updates/nope", headers=alice.headers, json=body).status_code
        == 404
    )
    path = f"{one}/incident_updates/{update_id}"
    assert client.patch(path, headers=vera.headers, json=body).status_code == 403
    assert client.patch(path, headers=charlie.headers, json=body).status_code == 404
    too_long = {"incident_update": {"body": "x" * 25_001}}
    assert client.patch(path, headers=alice.headers, json=too_long).status_code == 422
