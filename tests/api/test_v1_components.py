from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component, group
from tocsin.components import service as components
from tocsin.pages.models import Page

COMPONENT_KEYS = [
    "id",
    "page_id",
    "group_id",
    "created_at",
    "updated_at",
    "group",
    "name",
    "description",
    "position",
    "status",
    "showcase",
    "only_show_if_degraded",
    "automation_email",
    "start_date",
]


def create(client: TestClient, persona: Persona, page: Page, **fields: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/pages/{page.id}/components", headers=persona.headers, json={"component": fields}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_it_creates_a_component_from_json(client: TestClient, bob: Persona, page: Page) -> None:
    body = create(
        client,
        bob,
        page,
        name="API",
        description="Public REST API",
        status="degraded_performance",
        showcase=False,
        start_date="2026-01-15",
        automation_email="ignored@example.com",
    )
    assert list(body) == COMPONENT_KEYS
    assert body["name"] == "API"
    assert body["status"] == "degraded_performance"
    assert (body["showcase"], body["group"], body["group_id"]) == (False, False, None)
    assert body["start_date"] == "2026-01-15"
    assert body["page_id"] == page.id

    fetched = client.get(f"/api/v1/pages/{page.id}/components/{body['id']}", headers=bob.headers)
    assert fetched.json() == body


def test_it_creates_a_component_from_a_form(client: TestClient, bob: Persona, page: Page) -> None:
    response = client.post(
        f"/api/v1/pages/{page.id}/components.json",
        headers=bob.headers,
        data={
            "component[name]": "API",
            "component[status]": "major_outage",
            "component[only_show_if_degraded]": "t",
            "component[showcase]": "0",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["status"]) == ("API", "major_outage")
    assert (body["only_show_if_degraded"], body["showcase"]) == (True, False)


def test_it_lists_groups_with_their_members_in_page_order(
    client: TestClient, session: Session, vera: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    api = component(session, page, "API", status="partial_outage")
    group(session, page, "Core", [web, api])
    component(session, page, "CDN")
    session.commit()

    response = client.get(f"/api/v1/pages/{page.id}/components", headers=vera.headers)
    assert response.status_code == 200
    rows = response.json()
    assert [(r["name"], r["group"]) for r in rows] == [
        ("Core", True),
        ("Website", False),
        ("API", False),
        ("CDN", False),
    ]
    core = rows[0]
    assert core["status"] == "partial_outage"
    assert {r["group_id"] for r in rows[1:3]} == {core["id"]}


def test_it_paginates_lists(
    client: TestClient, session: Session, vera: Persona, page: Page
) -> None:
    for number in range(1, 6):
        component(session, page, f"C{number}")
    session.commit()
    url = f"/api/v1/pages/{page.id}/components"

    def names(**params: Any) -> list[str]:
        response = client.get(url, headers=vera.headers, params=params)
        assert response.status_code == 200
        return [row["name"] for row in response.json()]

    assert names(per_page=2) == ["C1", "C2"]
    assert names(per_page=2, page=3) == ["C5"]
    assert names(per_page=2, page=4) == []
    assert names(limit=100, page=100) == []
    assert names(per_page=5000) == ["C1", "C2", "C3", "C4", "C5"]
    assert client.get(url, headers=vera.headers, params={"page": 0}).status_code == 422


def test_it_changes_status_and_records_it(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    api = create(client, bob, page, name="API")
    response = client.patch(
        f"/api/v1/pages/{page.id}/components/{api['id']}",
        headers=bob.headers,
        json={"component": {"status": "major_outage", "name": None}},
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["name"]) == ("major_outage", "API")

    history = components.status_history(session, component_ids=[api["id"]])[api["id"]]
    assert [status.value for _, status in history] == ["operational", "major_outage"]


def test_put_works_like_patch_and_accepts_forms(
    client: TestClient, bob: Persona, page: Page
) -> None:
    api = create(client, bob, page, name="API")
    response = client.put(
        f"/api/v1/pages/{page.id}/components/{api['id']}.json",
        headers=bob.headers,
        data={"component[description]": "v2", "component[showcase]": "false"},
    )
    assert response.status_code == 200
    assert (response.json()["description"], response.json()["showcase"]) == ("v2", False)


def test_it_deletes_a_component(client: TestClient, bob: Persona, page: Page) -> None:
    api = create(client, bob, page, name="API")
    url = f"/api/v1/pages/{page.id}/components/{api['id']}"
    response = client.delete(url, headers=bob.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(url, headers=bob.headers).status_code == 404


def test_it_moves_components_in_and_out_of_groups(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    session.commit()
    api = create(client, bob, page, name="API", group_id=core.id)
    assert api["group_id"] == core.id
    url = f"/api/v1/pages/{page.id}/components/{api['id']}"

    out = client.patch(url, headers=bob.headers, json={"component": {"group_id": None}})
    assert out.json()["group_id"] is None
    back = client.patch(url, headers=bob.headers, data={"component[group_id]": core.id})
    assert back.json()["group_id"] == core.id
    out_again = client.patch(url, headers=bob.headers, data={"component[group_id]": "null"})
    assert out_again.json()["group_id"] is None


def test_a_component_cannot_join_a_non_group(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    session.commit()
    response = client.post(
        f"/api/v1/pages/{page.id}/components",
        headers=bob.headers,
        json={"component": {"name": "API", "group_id": web.id}},
    )
    assert response.status_code == 422, response.text
    assert "not a group" in response.json()["error"]


def test_it_rejects_invalid_components(client: TestClient, bob: Persona, page: Page) -> None:
    url = f"/api/v1/pages/{page.id}/components"
    cases = [
        {"component": {}},
        {"component": {"name": ""}},
        {"component": {"name": "x" * 256}},
        {"component": {"name": "API", "description": "x" * 2001}},
        {"component": {"name": "API", "status": "on_fire"}},
        {"component": {"name": "API", "showcase": "perhaps"}},
        {"component": {"name": "API", "start_date": "yesterday"}},
        {"component": ["API"]},
        {"name": "API"},
    ]
    for body in cases:
        response = client.post(url, headers=bob.headers, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"].strip()
    broken = client.post(
        url, headers={**bob.headers, "Content-Type": "application/json"}, content=b"{"
    )
    assert broken.status_code == 422


def test_unknown_components_are_not_found(client: TestClient, vera: Persona, page: Page) -> None:
    for suffix in ("", "/uptime"):
        response = client.get(
            f"/api/v1/pages/{page.id}/components/nosuchthing{suffix}", headers=vera.headers
        )
        assert response.status_code == 404
        assert response.json()["error"]


def test_viewers_cannot_write(client: TestClient, vera: Persona, bob: Persona, page: Page) -> None:
    api = create(client, bob, page, name="API")
    url = f"/api/v1/pages/{page.id}/components"
    attempts = [
        client.post(url, headers=vera.headers, json={"component": {"name": "X"}}),
        client.patch(f"{url}/{api['id']}", headers=vera.headers, json={"component": {"name": "X"}}),
        client.delete(f"{url}/{api['id']}", headers=vera.headers),
    ]
    assert [r.status_code for r in attempts] == [403, 403, 403]
    assert client.get(f"{url}/{api['id']}", headers=vera.headers).json()["name"] == "API"


def test_other_pages_components_stay_hidden(
    client: TestClient, session: Session, charlie: Persona, page: Page
) -> None:
    api = component(session, page, "API")
    session.commit()
    listing = client.get(f"/api/v1/pages/{page.id}/components", headers=charlie.headers)
    assert listing.status_code == 404
    own = client.get(
        f"/api/v1/pages/{charlie.page.id}/components/{api.id}", headers=charlie.headers
    )
    assert own.status_code == 404


def test_a_component_cannot_move_into_another_pages_group(
    client: TestClient, session: Session, charlie: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    session.commit()
    mine = create(client, charlie, charlie.page, name="Mine")
    response = client.patch(
        f"/api/v1/pages/{charlie.page.id}/components/{mine['id']}",
        headers=charlie.headers,
        json={"component": {"group_id": core.id}},
    )
    assert response.status_code == 404
    session.expire_all()
    assert [c.name for c in core.children] == ["Website"]


def test_a_group_row_reads_as_a_component_but_takes_no_status(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    session.commit()
    url = f"/api/v1/pages/{page.id}/components/{core.id}"
    assert client.get(url, headers=bob.headers).json()["group"] is True
    response = client.patch(
        url, headers=bob.headers, json={"component": {"status": "major_outage"}}
    )
    assert response.status_code == 422, response.text


def test_ids_that_cannot_exist_are_not_found(client: TestClient, bob: Persona, page: Page) -> None:
    url = f"/api/v1/pages/{page.id}/components"
    for odd in ("UPPERCASE", "x" * 13, "with space"):
        assert client.get(f"{url}/{odd}", headers=bob.headers).status_code == 404
