from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component, group
from tocsin.pages.models import Page

GROUP_KEYS = [
    "id",
    "page_id",
    "name",
    "description",
    "components",
    "position",
    "created_at",
    "updated_at",
]


def test_it_creates_a_group_from_json(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    api = component(session, page, "API")
    session.commit()
    response = client.post(
        f"/api/v1/pages/{page.id}/component-groups",
        headers=bob.headers,
        json={
            "description": "Our core",
            "component_group": {"name": "Core", "components": [api.id, web.id]},
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert list(body) == GROUP_KEYS
    assert (body["name"], body["description"]) == ("Core", "Our core")
    assert body["components"] == [api.id, web.id]
    assert isinstance(body["position"], int)

    member = client.get(f"/api/v1/pages/{page.id}/components/{web.id}", headers=bob.headers)
    assert member.json()["group_id"] == body["id"]


def test_it_creates_a_group_from_a_form(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    api = component(session, page, "API")
    session.commit()
    response = client.post(
        f"/api/v1/pages/{page.id}/component-groups.json",
        headers=bob.headers,
        data={
            "component_group[name]": "Core",
            "component_group[components][]": [web.id, api.id],
        },
    )
    assert response.status_code == 201
    assert response.json()["components"] == [web.id, api.id]


def test_a_group_needs_a_name_and_components(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    session.commit()
    url = f"/api/v1/pages/{page.id}/component-groups"
    cases = [
        {"component_group": {"name": "Empty", "components": []}},
        {"component_group": {"name": "Empty"}},
        {"component_group": {"components": [web.id]}},
        {"component_group": {"name": "Nested", "components": [core.id]}},
        {"description": "no group"},
    ]
    for body in cases:
        response = client.post(url, headers=bob.headers, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]


def test_it_lists_and_reads_groups(
    client: TestClient, session: Session, vera: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    api = component(session, page, "API")
    core = group(session, page, "Core", [web])
    edge = group(session, page, "Edge", [api])
    session.commit()
    url = f"/api/v1/pages/{page.id}/component-groups"
    listing = client.get(url, headers=vera.headers)
    assert [g["name"] for g in listing.json()] == ["Core", "Edge"]
    assert [
        g["name"]
        for g in client.get(url, headers=vera.headers, params={"per_page": 1, "page": 2}).json()
    ] == ["Edge"]

    one = client.get(f"{url}/{core.id}", headers=vera.headers)
    assert one.json()["components"] == [web.id]
    assert client.get(f"{url}/{web.id}", headers=vera.headers).status_code == 404
    assert edge.id != core.id


def test_it_renames_and_regroups(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    api = component(session, page, "API")
    core = group(session, page, "Core", [web])
    session.commit()
    url = f"/api/v1/pages/{page.id}/component-groups/{core.id}"
    response = client.patch(
        url,
        headers=bob.headers,
        json={
            "description": "Web and API",
            "component_group": {"name": "Platform", "components": [api.id]},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["description"], body["components"]) == (
        "Platform",
        "Web and API",
        [api.id],
    )
    website = client.get(f"/api/v1/pages/{page.id}/components/{web.id}", headers=bob.headers)
    assert website.json()["group_id"] is None

    put = client.put(url, headers=bob.headers, data={"component_group[name]": "Renamed"})
    assert (put.json()["name"], put.json()["components"]) == ("Renamed", [api.id])
    empty = client.patch(url, headers=bob.headers, json={"component_group": {"components": []}})
    assert empty.status_code == 422


def test_deleting_a_group_leaves_its_components(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    session.commit()
    url = f"/api/v1/pages/{page.id}/component-groups/{core.id}"
    response = client.delete(url, headers=bob.headers)
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["components"]) == (core.id, [web.id])

    assert client.get(url, headers=bob.headers).status_code == 404
    website = client.get(f"/api/v1/pages/{page.id}/components/{web.id}", headers=bob.headers)
    assert website.status_code == 200
    assert website.json()["group_id"] is None


def test_group_writes_need_an_editor_on_that_page(
    client: TestClient, session: Session, vera: Persona, charlie: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    session.commit()
    url = f"/api/v1/pages/{page.id}/component-groups"
    body = {"component_group": {"name": "G", "components": [web.id]}}
    assert client.post(url, headers=vera.headers, json=body).status_code == 403
    assert client.delete(f"{url}/{core.id}", headers=vera.headers).status_code == 403
    assert client.post(url, headers=charlie.headers, json=body).status_code == 404

    theirs = f"/api/v1/pages/{charlie.page.id}/component-groups"
    stolen = client.post(theirs, headers=charlie.headers, json=body)
    assert stolen.status_code == 404


def test_a_null_group_name_leaves_the_name(
    client: TestClient, session: Session, bob: Persona, page: Page
) -> None:
    web = component(session, page, "Website")
    core = group(session, page, "Core", [web])
    session.commit()
    response = client.put(
        f"/api/v1/pages/{page.id}/component-groups/{core.id}",
        headers=bob.headers,
        json={"component_group": {"name": None, "description": "d"}},
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("Core", "d")
