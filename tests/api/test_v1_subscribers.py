from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component, group
from tocsin.audit.service import CLI
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, UpdateCreate
from tocsin.incidents.status import IncidentStatus
from tocsin.pages.models import Page

SUBSCRIBER_KEYS = [
    "id",
    "skip_confirmation_notification",
    "mode",
    "email",
    "endpoint",
    "phone_number",
    "phone_country",
    "display_phone_number",
    "obfuscated_channel_name",
    "workspace_name",
    "quarantined_at",
    "purge_at",
    "components",
    "page_access_user_id",
    "created_at",
]
MODES = ["email", "sms", "webhook", "integration_partner", "slack", "teams", "discord"]


def _url(page: Page, rest: str = "") -> str:
    return f"/api/v1/pages/{page.id}/subscribers{rest}"


def _post(client: TestClient, who: Persona, page: Page, **fields: Any) -> dict[str, Any]:
    response = client.post(_url(page), json={"subscriber": fields}, headers=who.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _active(client: TestClient, who: Persona, page: Page, **fields: Any) -> dict[str, Any]:
    return _post(client, who, page, skip_confirmation_notification=True, **fields)


# --- create --------------------------------------------------------------------------------


def test_it_creates_a_subscriber_from_json(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()

    body = _post(client, alice, page, email="Ann@Example.com", component_ids=[api.id])

    assert list(body) == SUBSCRIBER_KEYS
    assert body["mode"] == "email"
    assert body["email"] == "ann@example.com"
    assert body["components"] == [api.id]
    assert body["skip_confirmation_notification"] is False
    assert body["created_at"].endswith("Z")
    assert len(body["id"]) == 12


def test_it_creates_a_subscriber_from_a_rails_form(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    web = component(session, page, "Web")
    session.commit()

    response = client.post(
        _url(page, ".json"),
        content=(
            "subscriber%5Bphone_number%5D=202-555-0105&subscriber[phone_country]=US"
            f"&subscriber[component_ids][]={api.id}&subscriber[component_ids][]={web.id}"
            "&subscriber[skip_confirmation_notification]=t"
        ),
        headers={**alice.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["mode"], body["phone_number"], body["display_phone_number"]) == (
        "sms",
        "+12025550105",
        "+1 (202) 555-0105",
    )
    assert sorted(body["components"]) == sorted([api.id, web.id])
    assert body["skip_confirmation_notification"] is True


def test_a_single_form_component_id_is_a_list_of_one(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    session.commit()
    response = client.post(
        _url(page),
        data={"subscriber[email]": "ann@example.com", "subscriber[component_ids]": api.id},
        headers=alice.headers,
    )
    assert response.status_code == 201
    assert response.json()["components"] == [api.id]


@pytest.mark.parametrize(
    ("fields", "mode"),
    [
        ({"endpoint": "https://hooks.example.com/x", "email": "ops@example.com"}, "webhook"),
        ({"endpoint": "https://hooks.slack.com/services/T/B/x", "mode": "slack"}, "slack"),
        ({"endpoint": "https://example.webhook.office.com/x", "type": "teams"}, "teams"),
    ],
)
def test_endpoint_subscribers_are_webhooks_unless_told_otherwise(
    client: TestClient, page: Page, alice: Persona, fields: dict[str, Any], mode: str
) -> None:
    body = _post(client, alice, page, **fields)
    assert body["mode"] == mode
    assert body["endpoint"] == fields["endpoint"]


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://2130706433/hook", "loopback"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://localhost/hook", "loopback name"),
    ],
)
def test_a_webhook_to_a_private_address_is_refused_up_front(
    client: TestClient, page: Page, alice: Persona, endpoint: str, reason: str
) -> None:
    # security.md: subscriber-chosen URLs must not reach the server's own network.
    response = client.post(
        _url(page), json={"subscriber": {"endpoint": endpoint}}, headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert reason in response.json()["message"]
    listed = client.get(_url(page), params={"state": "all"}, headers=alice.headers)
    assert listed.json() == []


def test_subscribing_an_address_twice_returns_the_same_subscriber(
    client: TestClient, page: Page, alice: Persona
) -> None:
    first = _post(client, alice, page, email="ann@example.com")
    second = _post(client, alice, page, email="ANN@example.com")
    assert second == first


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"subscriber": {"email": "ann@example.com", "component_ids": []}}, "component_ids"),
        ({"subscriber": {"email": "nope"}}, "valid email"),
        ({"subscriber": {"endpoint": "gopher://x.example"}}, "http"),
        ({"subscriber": {"phone_number": "12"}}, "phone"),
        ({"subscriber": {"email": "ann@example.com", "colour": "red"}}, "colour"),
        ({"email": "ann@example.com"}, "'subscriber'"),
        ({"subscriber": "ann@example.com"}, "'subscriber'"),
    ],
)
def test_invalid_subscribers_get_a_one_line_422(
    client: TestClient, page: Page, alice: Persona, body: dict[str, Any], fragment: str
) -> None:
    response = client.post(_url(page), json=body, headers=alice.headers)
    assert response.status_code == 422
    error = response.json()
    assert set(error) == {"error", "message"}
    assert fragment in error["message"]
    assert "\n" not in error["message"]


def test_an_unknown_component_is_404(client: TestClient, page: Page, alice: Persona) -> None:
    response = client.post(
        _url(page),
        json={"subscriber": {"email": "ann@example.com", "component_ids": ["nosuchthing1"]}},
        headers=alice.headers,
    )
    assert response.status_code == 404


# --- lists and counts ----------------------------------------------------------------------


@pytest.fixture
def four(client: TestClient, page: Page, alice: Persona) -> list[dict[str, Any]]:
    """Three active email subscribers (a, b, c) and one unconfirmed (d)."""
    rows = [_active(client, alice, page, email=f"{name}@example.com") for name in "cab"]
    rows.append(_post(client, alice, page, email="d@example.com"))
    return rows


def _emails(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["email"] for row in response.json()]


def test_it_lists_active_subscribers_with_0_based_pages(
    client: TestClient, page: Page, alice: Persona, four: list[dict[str, Any]]
) -> None:
    get = client.get
    h = alice.headers
    assert _emails(get(_url(page), headers=h)) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert _emails(get(_url(page), params={"limit": 2, "page": 0}, headers=h)) == [
        "a@example.com",
        "b@example.com",
    ]
    assert _emails(get(_url(page, ".json"), params={"limit": 2, "page": 1}, headers=h)) == [
        "c@example.com"
    ]
    assert _emails(get(_url(page), params={"limit": 500, "page": 100}, headers=h)) == []
    assert _emails(get(_url(page), params={"state": "unconfirmed"}, headers=h)) == ["d@example.com"]
    assert _emails(get(_url(page), params={"q": "B@EX"}, headers=h)) == ["b@example.com"]
    desc = {"sort_field": "created_at", "sort_direction": "desc", "state": "all"}
    assert _emails(get(_url(page), params=desc, headers=h)) == [
        "d@example.com",
        "b@example.com",
        "a@example.com",
        "c@example.com",
    ]


@pytest.mark.parametrize(
    "params", [{"state": "dormant"}, {"type": "pigeon"}, {"page": -1}, {"limit": 0}]
)
def test_bad_list_parameters_are_422(
    client: TestClient, page: Page, alice: Persona, params: dict[str, Any]
) -> None:
    response = client.get(_url(page), params=params, headers=alice.headers)
    assert response.status_code == 422
    assert set(response.json()) == {"error", "message"}


def test_it_counts_by_type_and_state(
    client: TestClient, page: Page, alice: Persona, four: list[dict[str, Any]]
) -> None:
    _active(client, alice, page, endpoint="https://hooks.example.com/x")

    counts = client.get(_url(page, "/count"), headers=alice.headers).json()
    assert list(counts) == MODES
    assert (counts["email"], counts["webhook"], counts["sms"]) == (3, 1, 0)
    everyone = client.get(_url(page, "/count.json?state=all"), headers=alice.headers).json()
    assert everyone["email"] == 4

    histogram = client.get(_url(page, "/histogram_by_state"), headers=alice.headers).json()
    assert list(histogram) == MODES
    assert histogram["email"] == {"active": 3, "unconfirmed": 1, "quarantined": 0, "total": 4}
    assert histogram["teams"]["total"] == 0


# --- bulk actions --------------------------------------------------------------------------


def test_bulk_unsubscribe_then_list_the_unsubscribed(
    client: TestClient, page: Page, alice: Persona, four: list[dict[str, Any]]
) -> None:
    response = client.post(
        _url(page, "/unsubscribe.json"),
        json={
            "subscribers": [four[0]["id"], four[1]["id"]],
            "skip_unsubscription_notification": True,
        },
        headers=alice.headers,
    )
    assert response.status_code == 201
    assert response.content == b""

    assert _emails(client.get(_url(page), headers=alice.headers)) == ["b@example.com"]
    gone = client.get(_url(page, "/unsubscribed"), params={"per_page": 1}, headers=alice.headers)
    assert _emails(gone) == ["a@example.com"]
    assert gone.json()[0]["purge_at"] is not None
    second = client.get(
        _url(page, "/unsubscribed"), params={"per_page": 1, "page": 2}, headers=alice.headers
    )
    assert _emails(second) == ["c@example.com"]


def test_bulk_unsubscribe_all_of_a_state_from_a_form(
    client: TestClient, page: Page, alice: Persona, four: list[dict[str, Any]]
) -> None:
    response = client.post(
        _url(page, "/unsubscribe"),
        data={"subscribers": "all", "state": "unconfirmed"},
        headers=alice.headers,
    )
    assert response.status_code == 201
    gone = client.get(_url(page, "/unsubscribed"), headers=alice.headers)
    assert _emails(gone) == ["d@example.com"]


def test_bulk_reactivate_and_resend_answer_201_with_no_body(
    client: TestClient, page: Page, alice: Persona, four: list[dict[str, Any]]
) -> None:
    for action in ("reactivate", "resend_confirmation"):
        response = client.post(
            _url(page, f"/{action}"), json={"subscribers": "all"}, headers=alice.headers
        )
        assert (response.status_code, response.content) == (201, b"")


def test_bulk_actions_refuse_unknown_ids_and_bad_bodies(
    client: TestClient, page: Page, alice: Persona
) -> None:
    unknown = client.post(
        _url(page, "/unsubscribe"), json={"subscribers": ["nosuchthing1"]}, headers=alice.headers
    )
    assert unknown.status_code == 404
    for body in ({}, {"subscribers": []}, {"subscribers": {"a": "b"}}):
        response = client.post(_url(page, "/reactivate"), json=body, headers=alice.headers)
        assert response.status_code == 422


# --- one subscriber ------------------------------------------------------------------------


def test_it_gets_patches_and_unsubscribes_one_subscriber(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    core = group(session, page, "Core", [component(session, page, "Web")])
    session.commit()
    created = _active(client, alice, page, email="ann@example.com")
    one = _url(page, f"/{created['id']}")

    assert client.get(one + ".json", headers=alice.headers).json() == created

    patched = client.patch(one, json={"component_ids": [core.id, api.id]}, headers=alice.headers)
    assert patched.status_code == 200
    assert sorted(patched.json()["components"]) == sorted([core.id, api.id])
    form = client.patch(one, data={"component_ids[]": [api.id]}, headers=alice.headers)
    assert form.json()["components"] == [api.id]
    assert client.patch(one, json={"component_ids": []}, headers=alice.headers).status_code == 422
    assert client.patch(one, json={}, headers=alice.headers).status_code == 422

    deleted = client.delete(
        one, params={"skip_unsubscription_notification": "true"}, headers=alice.headers
    )
    assert deleted.status_code == 200
    assert deleted.json()["id"] == created["id"]
    assert deleted.json()["purge_at"] is not None
    assert client.get(_url(page), headers=alice.headers).json() == []


def test_resend_confirmation_for_one_subscriber(
    client: TestClient, page: Page, alice: Persona
) -> None:
    pending = _post(client, alice, page, email="ann@example.com")
    active = _active(client, alice, page, email="bo@example.com")

    ok = client.post(_url(page, f"/{pending['id']}/resend_confirmation"), headers=alice.headers)
    assert (ok.status_code, ok.content) == (201, b"")
    refused = client.post(
        _url(page, f"/{active['id']}/resend_confirmation.json"), headers=alice.headers
    )
    assert refused.status_code == 422


def test_an_unknown_subscriber_is_404(client: TestClient, page: Page, alice: Persona) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(
            method, _url(page, "/nosuchthing1"), json={"component_ids": None}, headers=alice.headers
        )
        assert response.status_code == 404, method


# --- incident subscribers ------------------------------------------------------------------


def _incident_id(session: Session, page: Page) -> str:
    incident = incidents.create_incident(
        session, page=page, data=IncidentCreate(name="Payments down"), actor=CLI
    )
    session.commit()
    return incident.id


def test_incident_subscribers_live_apart_from_page_subscribers(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    incident_id = _incident_id(session, page)
    base = f"/api/v1/pages/{page.id}/incidents/{incident_id}/subscribers"

    created = client.post(
        base + ".json", json={"subscriber": {"email": "ann@example.com"}}, headers=alice.headers
    )
    assert created.status_code == 201
    sub = created.json()
    assert list(sub) == SUBSCRIBER_KEYS
    assert sub["components"] == []

    assert client.get(base, headers=alice.headers).json() == [sub]
    assert client.get(_url(page), params={"state": "all"}, headers=alice.headers).json() == []
    assert client.get(f"{base}/{sub['id']}", headers=alice.headers).json() == sub
    assert client.get(_url(page, f"/{sub['id']}"), headers=alice.headers).status_code == 404

    resend = client.post(f"{base}/{sub['id']}/resend_confirmation", headers=alice.headers)
    assert (resend.status_code, resend.content) == (201, b"")

    deleted = client.delete(f"{base}/{sub['id']}", headers=alice.headers)
    assert deleted.status_code == 200
    assert client.get(base, headers=alice.headers).json() == []


def test_incident_subscribers_are_email_or_sms_on_an_open_incident(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    incident_id = _incident_id(session, page)
    base = f"/api/v1/pages/{page.id}/incidents/{incident_id}/subscribers"

    hook = {"subscriber": {"endpoint": "https://hooks.example.com/x"}}
    assert client.post(base, json=hook, headers=alice.headers).status_code == 422
    sms = {"subscriber": {"phone_number": "+442071838750"}}
    assert client.post(base, json=sms, headers=alice.headers).json()["mode"] == "sms"

    incident = incidents.get_incident(session, page_id=page.id, incident_id=incident_id)
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(status=IncidentStatus.RESOLVED, body="Fixed."),
        actor=CLI,
    )
    session.commit()
    late = {"subscriber": {"email": "late@example.com"}}
    assert client.post(base, json=late, headers=alice.headers).status_code == 422
    missing = f"/api/v1/pages/{page.id}/incidents/nosuchthing1/subscribers"
    assert client.get(missing, headers=alice.headers).status_code == 404


# --- who may -------------------------------------------------------------------------------


def test_subscribers_need_a_key(client: TestClient, page: Page) -> None:
    response = client.get(_url(page))
    assert response.status_code == 401
    assert response.json()["error"] == "Could not authenticate"


@pytest.mark.parametrize("persona", ["bob", "vera"])
def test_editors_and_viewers_cannot_see_or_change_subscribers(
    client: TestClient, page: Page, alice: Persona, persona: str, request: pytest.FixtureRequest
) -> None:
    who: Persona = request.getfixturevalue(persona)
    existing = _active(client, alice, page, email="ann@example.com")
    calls = [
        ("GET", _url(page), None),
        ("GET", _url(page, "/count"), None),
        ("GET", _url(page, f"/{existing['id']}"), None),
        ("POST", _url(page), {"subscriber": {"email": "x@example.com"}}),
        ("POST", _url(page, "/unsubscribe"), {"subscribers": "all"}),
        ("DELETE", _url(page, f"/{existing['id']}"), None),
    ]
    for method, url, body in calls:
        response = client.request(method, url, json=body, headers=who.headers)
        assert response.status_code == 403, (method, url)
    assert _emails(client.get(_url(page), headers=alice.headers)) == ["ann@example.com"]


def test_another_pages_owner_sees_nothing(
    client: TestClient, page: Page, alice: Persona, charlie: Persona
) -> None:
    existing = _active(client, alice, page, email="ann@example.com")
    for url in (_url(page), _url(page, f"/{existing['id']}"), _url(page, "/histogram_by_state")):
        assert client.get(url, headers=charlie.headers).status_code == 404
    theirs = _url(charlie.page, f"/{existing['id']}")
    assert client.get(theirs, headers=charlie.headers).status_code == 404
    bulk = client.post(
        _url(charlie.page, "/unsubscribe"),
        json={"subscribers": [existing["id"]]},
        headers=charlie.headers,
    )
    assert bulk.status_code == 404
    assert _emails(client.get(_url(page), headers=alice.headers)) == ["ann@example.com"]


def test_the_openapi_document_describes_the_subscriber_routes(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    create = paths["/api/v1/pages/{page_id}/subscribers"]["post"]
    assert "201" in create["responses"]
    assert (
        "subscriber" in create["requestBody"]["content"]["application/json"]["schema"]["properties"]
    )
    bulk = paths["/api/v1/pages/{page_id}/subscribers/unsubscribe"]["post"]
    assert "content" not in bulk["responses"]["201"]
