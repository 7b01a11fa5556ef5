from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component
from tocsin.pages.models import Page

SSTI = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% include '/etc/passwd' %}",
    "{{ ['id']|map('system')|join }}",
    "{% render '/etc/passwd' %} {{7*7}} {incident.secret}",
]


def _base(persona: Persona) -> str:
    return f"/api/v1/pages/{persona.page.id}/incident_templates"


def test_it_creates_lists_edits_and_deletes_templates(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    db = component(session, page, "Database")
    session.commit()
    created = client.post(
        _base(bob),
        headers=bob.headers,
        json={
            "template": {
                "name": "DB slow",
                "title": "Database latency",
                "body": "We are investigating slow queries.",
                "update_status": "identified",
                "component_ids": [db.id],
                "should_tweet": True,
                "group_id": "abc",
            }
        },
    )
    assert created.status_code == 201
    template = created.json()
    assert set(template) == {
        "id", "components", "name", "title", "body", "group_id", "update_status",
        "should_tweet", "should_send_notifications",
    }  # fmt: skip
    assert [c["name"] for c in template["components"]] == ["Database"]
    assert template["update_status"] == "identified"
    assert template["should_send_notifications"] is True

    listed = client.get(f"{_base(bob)}.json", headers=bob.headers, params={"per_page": 1})
    assert [t["id"] for t in listed.json()] == [template["id"]]
    assert client.get(_base(bob), headers=bob.headers, params={"page": 2}).json() == []

    one = f"{_base(bob)}/{template['id']}"
    edited = client.patch(one, headers=bob.headers, json={"template": {"title": "DB latency"}})
    assert edited.json()["title"] == "DB latency"
    assert client.get(one, headers=bob.headers).json()["title"] == "DB latency"
    deleted = client.delete(one, headers=bob.headers)
    assert (deleted.status_code, deleted.json()["name"]) == (200, "DB slow")
    assert client.get(one, headers=bob.headers).status_code == 404


def test_template_text_is_kept_verbatim_never_rendered(
    client: TestClient, page: Page, alice: Persona
) -> None:
    for payload in SSTI:
        created = client.post(
            _base(alice),
            headers=alice.headers,
            json={"template": {"name": payload, "title": payload, "body": payload}},
        )
        assert created.status_code == 201
        fetched = client.get(f"{_base(alice)}/{created.json()['id']}", headers=alice.headers)
        assert fetched.json()["body"] == payload
        assert fetched.json()["title"] == payload
    assert "49" not in client.get(_base(alice), headers=alice.headers).text


def test_templates_are_checked_and_guarded(
    client: TestClient, session: Session, page: Page, vera: Persona, charlie: Persona
) -> None:
    db = component(session, page, "Database")
    session.commit()
    body = {"template": {"name": "n", "title": "t", "body": "b"}}
    assert client.get(_base(vera), headers=vera.headers).status_code == 200
    assert client.post(_base(vera), headers=vera.headers, json=body).status_code == 403
    assert client.get(_base(vera), headers=charlie.headers).status_code == 404
    foreign = {"template": {**body["template"], "component_ids": [db.id]}}
    assert client.post(_base(charlie), headers=charlie.headers, json=foreign).status_code == 404
    missing = {"template": {"name": "n", "title": "t"}}
    assert client.post(_base(charlie), headers=charlie.headers, json=missing).status_code == 422
    bad = {"template": {**body["template"], "update_status": "on_fire"}}
    assert client.post(_base(charlie), headers=charlie.headers, json=bad).status_code == 422
