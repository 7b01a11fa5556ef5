from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component, group
from tocsin.audit.service import CLI
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.pages.models import Page


def _base(persona: Persona) -> str:
    return f"/api/v1/pages/{persona.page.id}/incidents"


def _text(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.text


def test_the_curl_story_shows_on_the_api_and_the_page(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    web = component(session, page, "Web")
    group(session, page, "Platform", [api, web])
    session.commit()
    base = _base(alice)

    created = client.post(
        base,
        headers=alice.headers,
        json={
            "incident": {
                "name": "Elevated API errors",
                "status": "investigating",
                "body": "We are looking into errors on the API.",
                "components": {api.id: "major_outage"},
            }
        },
    )
    assert created.status_code == 201
    incident = created.json()
    assert incident["impact"] == "critical"
    assert [c["name"] for c in incident["components"]] == ["API"]
    assert incident["components"][0]["status"] == "major_outage"
    first = incident["incident_updates"][0]
    assert first["affected_components"] == [
        {
            "code": api.id,
            "name": "Platform - API",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    assert incident["shortlink"] == f"http://testserver/incidents/{incident['id']}"
    one = f"{base}/{incident['id']}"
    assert "Elevated API errors" in _text(client, "/")
    assert "We are looking into errors on the API." in _text(client, f"/incidents/{incident['id']}")

    steps = [
        ("identified", "A bad deploy is the cause; rolling back.", "partial_outage"),
        ("monitoring", "The rollback is out; watching error rates.", "degraded_performance"),
        ("resolved", "Error rates are back to normal.", "operational"),
    ]
    for status, body, api_status in steps:
        form = {
            "incident[status]": status,
            "incident[body]": body,
            f"incident[components][{api.id}]": api_status,
        }
        response = client.patch(one, headers=alice.headers, data=form)
        assert response.status_code == 200
        latest = response.json()["incident_updates"][0]
        assert (latest["status"], latest["body"]) == (status, body)
        assert latest["affected_components"][0]["new_status"] == api_status
        assert body in _text(client, f"/incidents/{incident['id']}")

    final = client.get(f"{one}.json", headers=alice.headers).json()
    assert final["status"] == "resolved"
    assert final["resolved_at"] is not None
    assert final["monitoring_at"] is not None
    assert final["impact"] == "critical"
    assert [u["status"] for u in final["incident_updates"]] == [
        "resolved",
        "monitoring",
        "identified",
        "investigating",
    ]
    assert "Error rates are back to normal." in _text(client, "/")

    draft = client.put(
        f"{one}/postmortem",
        headers=alice.headers,
        json={"postmortem": {"body_draft": "## What happened\n\nA bad deploy."}},
    )
    assert draft.status_code == 200
    assert client.get(f"/incidents/{incident['id']}/write-up").status_code == 404
    published = client.put(
        f"{one}/postmortem/publish",
        headers=alice.headers,
        json={"postmortem": {"notify_subscribers": False}},
    )
    assert published.status_code == 200
    assert published.json()["body"] == "## What happened\n\nA bad deploy."
    after = client.get(one, headers=alice.headers).json()
    assert after["status"] == "postmortem"
    assert after["postmortem_published_at"] is not None
    writeup = _text(client, f"/incidents/{incident['id']}/write-up")
    assert "What happened" in writeup
    assert "A bad deploy." in writeup


def test_it_creates_from_a_rails_form(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    api = component(session, page, "API")
    web = component(session, page, "Web")
    session.commit()
    response = client.post(
        f"{_base(bob)}.json",
        headers={**bob.headers, "Content-Type": "application/x-www-form-urlencoded"},
        content=(
            "incident%5Bname%5D=Slow+pages"
            f"&incident[components][{api.id}]=degraded_performance"
            f"&incident[component_ids][]={web.id}"
            "&incident[deliver_notifications]=f"
        ),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Slow pages"
    assert body["impact"] == "minor"
    assert {c["name"]: c["status"] for c in body["components"]} == {
        "API": "degraded_performance",
        "Web": "operational",
    }
    assert body["incident_updates"][0]["deliver_notifications"] is False


def test_impact_override_wins_over_the_computed_impact(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    created = client.post(
        _base(alice),
        headers=alice.headers,
        json={"incident": {"name": "Blip", "components": {api.id: "partial_outage"}}},
    ).json()
    assert created["impact"] == "major"
    assert created["impact_override"] is None

    one = f"{_base(alice)}/{created['id']}"
    changed = client.patch(
        one, headers=alice.headers, json={"incident": {"impact_override": "minor"}}
    ).json()
    assert (changed["impact"], changed["impact_override"]) == ("minor", "minor")
    cleared = client.patch(
        one, headers=alice.headers, json={"incident": {"impact_override": None}}
    ).json()
    assert (cleared["impact"], cleared["impact_override"]) == ("major", None)


def test_renaming_posts_no_update_but_a_new_status_does(
    client: TestClient, page: Page, alice: Persona
) -> None:
    created = client.post(_base(alice), headers=alice.headers, json={"incident": {"name": "x"}})
    one = f"{_base(alice)}/{created.json()['id']}"
    renamed = client.patch(one, headers=alice.headers, json={"incident": {"name": "Login errors"}})
    assert renamed.json()["name"] == "Login errors"
    assert len(renamed.json()["incident_updates"]) == 1

    same = client.patch(one, headers=alice.headers, json={"incident": {"status": "investigating"}})
    assert len(same.json()["incident_updates"]) == 1
    moved = client.put(one, headers=alice.headers, json={"incident": {"status": "identified"}})
    assert len(moved.json()["incident_updates"]) == 2
    assert moved.json()["incident_updates"][0]["body"]


def test_metadata_and_backfill_round_trip(client: TestClient, page: Page, alice: Persona) -> None:
    response = client.post(
        _base(alice),
        headers=alice.headers,
        json={
            "incident": {
                "name": "Old outage",
                "backfilled": True,
                "backfill_date": "2024-05-01",
                "metadata": {"jira": {"issue": "OPS-1"}},
                "reminder_intervals": "[1, 5]",
                "auto_tweet_on_creation": True,
            }
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["backfilled"] is True
    assert body["status"] == "resolved"
    assert body["started_at"] == "2024-05-01T00:00:00.000Z"
    assert body["metadata"] == {"jira": {"issue": "OPS-1"}}
    assert body["incident_updates"][0]["deliver_notifications"] is False


def test_every_v1_key_is_present_and_never_an_empty_timestamp(
    client: TestClient, page: Page, alice: Persona
) -> None:
    body = client.post(
        _base(alice), headers=alice.headers, json={"incident": {"name": "Keys"}}
    ).json()
    expected = {
        "id", "components", "created_at", "impact", "impact_override", "incident_updates",
        "metadata", "monitoring_at", "name", "page_id", "postmortem_body",
        "postmortem_body_last_updated_at", "postmortem_ignored",
        "postmortem_notified_subscribers", "postmortem_notified_twitter",
        "postmortem_published_at", "resolved_at", "scheduled_auto_completed",
        "scheduled_auto_in_progress", "scheduled_for",
        "auto_transition_deliver_notifications_at_end",
        "auto_transition_deliver_notifications_at_start",
        "auto_transition_to_maintenance_state", "auto_transition_to_operational_state",
        "scheduled_remind_prior", "scheduled_reminded_at", "scheduled_until", "shortlink",
        "status", "updated_at", "reminder_intervals", "started_at", "backfilled", "draft",
    }  # fmt: skip
    assert set(body) == expected
    assert set(body["incident_updates"][0]) == {
        "id", "incident_id", "affected_components", "body", "created_at", "custom_tweet",
        "deliver_notifications", "display_at", "status", "tweet_id", "twitter_updated_at",
        "updated_at", "wants_twitter_update",
    }  # fmt: skip
    assert "" not in body.values()


def _seed(session: Session, page: Page, names: list[str]) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for n, name in enumerate(names):
        incidents.create_incident(
            session,
            page=page,
            data=IncidentCreate(name=name, body=f"Details about {name.lower()}."),
            actor=CLI,
            now=t0 + timedelta(hours=n),
        )
    session.commit()


def test_it_lists_newest_first_in_pages(
    client: TestClient, session: Session, page: Page, vera: Persona
) -> None:
    _seed(session, page, [f"Incident {n}" for n in range(5)])
    names = [i["name"] for i in client.get(_base(vera), headers=vera.headers).json()]
    assert names == [f"Incident {n}" for n in (4, 3, 2, 1, 0)]
    second: list[dict[str, Any]] = client.get(
        _base(vera), headers=vera.headers, params={"limit": 2, "page": 2}
    ).json()
    assert [i["name"] for i in second] == ["Incident 2", "Incident 1"]
    beyond = client.get(_base(vera), headers=vera.headers, params={"limit": 2, "page": 100})
    assert beyond.json() == []


def test_q_searches_names_statuses_and_update_text(
    client: TestClient, session: Session, page: Page, vera: Persona
) -> None:
    _seed(session, page, ["Database failover", "Login errors"])

    def search(q: str) -> list[str]:
        rows = client.get(_base(vera), headers=vera.headers, params={"q": q}).json()
        return [i["name"] for i in rows]

    assert search("failover") == ["Database failover"]
    assert search("LOGIN") == ["Login errors"]
    assert search("details about login") == ["Login errors"]
    assert search("investigating") == ["Login errors", "Database failover"]
    assert search("100%") == []


def test_unresolved_lists_only_open_incidents(
    client: TestClient, page: Page, alice: Persona
) -> None:
    for name, status in [("Open", "identified"), ("Closed", "resolved")]:
        client.post(
            _base(alice), headers=alice.headers, json={"incident": {"name": name, "status": status}}
        )
    unresolved = client.get(f"{_base(alice)}/unresolved.json", headers=alice.headers).json()
    assert [i["name"] for i in unresolved] == ["Open"]


def test_delete_answers_with_the_deleted_incident(
    client: TestClient, page: Page, alice: Persona
) -> None:
    created = client.post(_base(alice), headers=alice.headers, json={"incident": {"name": "Oops"}})
    one = f"{_base(alice)}/{created.json()['id']}"
    deleted = client.delete(one, headers={**alice.headers, "Content-Type": "application/json"})
    assert deleted.status_code == 200
    assert deleted.json()["name"] == "Oops"
    assert client.get(one, headers=alice.headers).status_code == 404


def test_a_viewer_reads_but_cannot_write(client: TestClient, page: Page, vera: Persona) -> None:
    assert client.get(_base(vera), headers=vera.headers).status_code == 200
    response = client.post(_base(vera), headers=vera.headers, json={"incident": {"name": "x"}})
    assert response.status_code == 403
    assert "error" in response.json()


def test_an_outsider_cannot_see_or_touch_the_page(
    client: TestClient, session: Session, page: Page, alice: Persona, charlie: Persona
) -> None:
    created = client.post(_base(alice), headers=alice.headers, json={"incident": {"name": "x"}})
    one = f"{_base(alice)}/{created.json()['id']}"
    assert client.get(_base(alice), headers=charlie.headers).status_code == 404
    assert client.get(one, headers=charlie.headers).status_code == 404
    assert client.delete(one, headers=charlie.headers).status_code == 404
    # Nor through his own page: the id belongs to another page.
    theirs = f"{_base(charlie)}/{created.json()['id']}"
    assert client.get(theirs, headers=charlie.headers).status_code == 404


def test_an_outsider_cannot_attach_another_pages_components(
    client: TestClient, session: Session, page: Page, charlie: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    for field in ({"components": {api.id: "major_outage"}}, {"component_ids": [api.id]}):
        response = client.post(
            _base(charlie), headers=charlie.headers, json={"incident": {"name": "x", **field}}
        )
        assert response.status_code == 404
    session.refresh(api)
    assert api.status.value == "operational"


def test_it_refuses_bad_input_with_a_422(client: TestClient, page: Page, alice: Persona) -> None:
    bad = [
        {"name": "x", "status": "on_fire"},
        {"name": "x" * 256},
        {"status": "investigating"},
        {"name": "x", "components": {"abc": "broken"}},
        {"name": "x", "metadata": {"jira": "OPS-1"}},
        {"name": "x", "backfilled": True, "component_ids": ["abc"]},
        {"name": "x", "scheduled_until": "2030-01-01T00:00:00Z"},
        {"name": "x", "body": "b" * 25_001},
    ]
    for incident in bad:
        response = client.post(_base(alice), headers=alice.headers, json={"incident": incident})
        assert response.status_code == 422, incident
        assert response.json()["error"]
    missing = client.post(_base(alice), headers=alice.headers, json={})
    assert missing.status_code == 422


def test_a_nul_in_text_is_replaced_not_stored(
    client: TestClient, page: Page, alice: Persona
) -> None:
    response = client.post(
        _base(alice), headers=alice.headers, json={"incident": {"name": "x\x00y"}}
    )
    assert response.status_code == 201
    assert response.json()["name"] == "x\ufffdy"


def test_a_realtime_incident_refuses_maintenance_statuses(
    client: TestClient, page: Page, alice: Persona
) -> None:
    created = client.post(_base(alice), headers=alice.headers, json={"incident": {"name": "x"}})
    one = f"{_base(alice)}/{created.json()['id']}"
    response = client.patch(one, headers=alice.headers, json={"incident": {"status": "verifying"}})
    assert response.status_code == 422
    assert "verifying" in response.json()["message"]
    dated = client.patch(
        one, headers=alice.headers, json={"incident": {"scheduled_for": "2030-01-01T00:00:00Z"}}
    )
    assert dated.status_code == 422
