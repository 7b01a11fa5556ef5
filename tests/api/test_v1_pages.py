from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import Persona
from tocsin.main import create_app
from tocsin.pages.models import Page
from tocsin.settings import Settings

PAGE_KEYS = [
    "id",
    "created_at",
    "updated_at",
    "name",
    "page_description",
    "headline",
    "branding",
    "subdomain",
    "domain",
    "url",
    "support_url",
    "hidden_from_search",
    "allow_page_subscribers",
    "allow_incident_subscribers",
    "allow_email_subscribers",
    "allow_sms_subscribers",
    "allow_rss_atom_feeds",
    "allow_webhook_subscribers",
    "notifications_from_email",
    "notifications_email_footer",
    "activity_score",
    "twitter_username",
    "viewers_must_be_team_members",
    "ip_restrictions",
    "city",
    "state",
    "country",
    "time_zone",
    "css_body_background_color",
    "css_font_color",
    "css_light_font_color",
    "css_greens",
    "css_yellows",
    "css_oranges",
    "css_blues",
    "css_reds",
    "css_border_color",
    "css_graph_color",
    "css_link_color",
    "css_no_data",
    "favicon_logo",
    "transactional_logo",
    "hero_cover",
    "email_logo",
    "twitter_logo",
]


def test_it_lists_only_the_pages_the_key_has_a_role_on(
    client: TestClient, alice: Persona, charlie: Persona
) -> None:
    response = client.get("/api/v1/pages", headers=alice.headers)
    assert response.status_code == 200
    assert [p["id"] for p in response.json()] == [alice.page.id]

    theirs = client.get("/api/v1/pages.json", headers=charlie.headers).json()
    assert [p["name"] for p in theirs] == ["Other Corp"]


def test_it_returns_the_full_page_object(client: TestClient, alice: Persona, page: Page) -> None:
    response = client.get(f"/api/v1/pages/{page.id}", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == PAGE_KEYS
    assert body["id"] == page.id
    assert body["time_zone"] == "Etc/UTC"
    assert body["created_at"].endswith("Z")
    assert body["subdomain"] is None
    assert "" not in body.values()


def test_it_refuses_requests_without_a_valid_key(client: TestClient, page: Page) -> None:
    for headers in ({}, {"Authorization": "OAuth not-a-key"}):
        response = client.get(f"/api/v1/pages/{page.id}", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "Could not authenticate"


def test_a_key_in_the_query_string_is_refused_with_the_way_out(
    client: TestClient, vera: Persona, page: Page
) -> None:
    response = client.get(f"/api/v1/pages/{page.id}.json", params={"api_key": vera.key})
    assert response.status_code == 401
    assert "Authorization" in response.json()["error"]


def test_an_install_can_accept_the_key_as_a_query_parameter(
    settings: Settings, vera: Persona, page: Page
) -> None:
    with TestClient(create_app(settings.model_copy(update={"api_keys_in_query": True}))) as c:
        response = c.get(f"/api/v1/pages/{page.id}.json", params={"api_key": vera.key})
    assert response.status_code == 200
    assert response.json()["id"] == page.id


def test_it_hides_pages_of_other_owners(client: TestClient, charlie: Persona, page: Page) -> None:
    response = client.get(f"/api/v1/pages/{page.id}", headers=charlie.headers)
    assert response.status_code == 404
    assert response.json()["error"] == "The requested resource could not be found."


def test_it_updates_settings_with_json(client: TestClient, alice: Persona, page: Page) -> None:
    response = client.patch(
        f"/api/v1/pages/{page.id}",
        headers=alice.headers,
        json={
            "page": {
                "name": "Acme Status",
                "url": "https://acme.example",
                "time_zone": "UTC",
                "domain": "status.acme.example",
                "branding": "premium",
                "css_greens": "#00ff00",
            }
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["url"], body["domain"]) == (
        "Acme Status",
        "https://acme.example",
        "status.acme.example",
    )
    assert body["time_zone"] == "Etc/UTC"
    again = client.get(f"/api/v1/pages/{page.id}", headers=alice.headers).json()
    assert again["name"] == "Acme Status"


def test_it_updates_settings_with_a_form_and_put(
    client: TestClient, alice: Persona, page: Page
) -> None:
    response = client.put(
        f"/api/v1/pages/{page.id}.json",
        headers=alice.headers,
        data={"page[name]": "Formed", "page[time_zone]": "Europe/Berlin", "page[url]": ""},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["time_zone"], body["url"]) == ("Formed", "Europe/Berlin", None)
    assert body["updated_at"].endswith(("+01:00", "+02:00"))


def test_it_ignores_null_for_required_settings(
    client: TestClient, alice: Persona, page: Page
) -> None:
    response = client.patch(
        f"/api/v1/pages/{page.id}", headers=alice.headers, json={"page": {"name": None}}
    )
    assert response.status_code == 200
    assert response.json()["name"] == page.name


def test_it_rejects_invalid_settings(client: TestClient, alice: Persona, page: Page) -> None:
    cases = [
        {"page": {"time_zone": "Mars/Olympus"}},
        {"page": {"name": "x" * 256}},
        {"page": {"url": "ftp://acme.example"}},
        {"page": "Acme"},
        {},
    ]
    for body in cases:
        response = client.patch(f"/api/v1/pages/{page.id}", headers=alice.headers, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]


def test_it_refuses_a_domain_another_page_uses(
    client: TestClient, alice: Persona, charlie: Persona, page: Page
) -> None:
    response = client.patch(
        f"/api/v1/pages/{page.id}",
        headers=alice.headers,
        json={"page": {"domain": "status.other.example"}},
    )
    assert response.status_code == 409
    assert "already used" in response.json()["error"]


def test_only_admins_change_settings(
    client: TestClient, bob: Persona, vera: Persona, page: Page
) -> None:
    for persona in (bob, vera):
        response = client.patch(
            f"/api/v1/pages/{page.id}", headers=persona.headers, json={"page": {"name": "Mine"}}
        )
        assert response.status_code == 403
    assert client.get(f"/api/v1/pages/{page.id}", headers=vera.headers).json()["name"] == page.name
