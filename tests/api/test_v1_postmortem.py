from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import Persona
from tocsin.pages.models import Page


def _resolved(client: TestClient, persona: Persona) -> str:
    base = f"/api/v1/pages/{persona.page.id}/incidents"
    created = client.post(
        base, headers=persona.headers, json={"incident": {"name": "Outage", "status": "resolved"}}
    )
    return f"{base}/{created.json()['id']}"


def test_a_draft_is_private_until_published(client: TestClient, page: Page, bob: Persona) -> None:
    one = _resolved(client, bob)
    incident_id = one.rsplit("/", 1)[1]
    assert client.get(f"{one}/postmortem", headers=bob.headers).status_code == 404

    saved = client.put(
        f"{one}/postmortem", headers=bob.headers, json={"postmortem": {"body_draft": "Draft text"}}
    )
    assert saved.status_code == 200
    assert saved.json()["body_draft"] == "Draft text"
    assert saved.json()["published_at"] is None
    assert client.get(f"/incidents/{incident_id}/write-up").status_code == 404

    published = client.put(f"{one}/postmortem/publish", headers=bob.headers, json={})
    assert published.status_code == 200
    assert published.json()["body"] == "Draft text"
    assert "Draft text" in client.get(f"/incidents/{incident_id}/write-up").text
    assert client.get(one, headers=bob.headers).json()["postmortem_body"] == "Draft text"

    reverted = client.put(f"{one}/postmortem/revert", headers=bob.headers, json={})
    assert reverted.status_code == 200
    assert (reverted.json()["body"], reverted.json()["body_draft"]) == (None, "Draft text")
    assert client.get(one, headers=bob.headers).json()["status"] == "resolved"
    assert client.get(f"/incidents/{incident_id}/write-up").status_code == 404


def test_publishing_without_a_draft_is_refused(
    client: TestClient, page: Page, bob: Persona
) -> None:
    one = _resolved(client, bob)
    response = client.put(f"{one}/postmortem/publish", headers=bob.headers, json={})
    assert response.status_code == 422


def test_delete_removes_draft_and_publication(client: TestClient, page: Page, bob: Persona) -> None:
    one = _resolved(client, bob)
    client.put(f"{one}/postmortem", headers=bob.headers, json={"postmortem": {"body_draft": "x"}})
    client.put(f"{one}/postmortem/publish", headers=bob.headers, json={})
    deleted = client.delete(f"{one}/postmortem.json", headers=bob.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.get(f"{one}/postmortem", headers=bob.headers).status_code == 404
    assert client.get(one, headers=bob.headers).json()["postmortem_published_at"] is None


def test_postmortem_rules(client: TestClient, page: Page, alice: Persona, vera: Persona) -> None:
    one = _resolved(client, alice)
    body = {"postmortem": {"body_draft": "x"}}
    assert client.put(f"{one}/postmortem", headers=vera.headers, json=body).status_code == 403
    assert client.put(f"{one}/postmortem", headers=alice.headers, json={}).status_code == 422
    huge = {"postmortem": {"body_draft": "x" * 100_001}}
    assert client.put(f"{one}/postmortem", headers=alice.headers, json=huge).status_code == 422
    base = f"/api/v1/pages/{alice.page.id}/incidents"
    maintenance = client.post(
        base,
        headers=alice.headers,
        json={
            "incident": {
                "name": "Upgrade",
                "scheduled_for": "2030-01-01T00:00:00Z",
                "scheduled_until": "2030-01-01T02:00:00Z",
            }
        },
    ).json()
    response = client.put(
        f"{base}/{maintenance['id']}/postmortem", headers=alice.headers, json=body
    )
    assert response.status_code == 422
