from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import reference_outage
from tocsin.components import service as components
from tocsin.pages.models import Page

DAY_ONE = datetime(2026, 3, 1, tzinfo=UTC)

UPTIME_KEYS = [
    "id",
    "name",
    "range_start",
    "range_end",
    "uptime_percentage",
    "major_outage",
    "partial_outage",
    "warnings",
    "related_events",
]


def at(hours: float) -> time_machine.travel:
    return time_machine.travel(DAY_ONE + timedelta(hours=hours), tick=False)


def create(client: TestClient, persona: Persona, page: Page, name: str) -> str:
    response = client.post(
        f"/api/v1/pages/{page.id}/components",
        headers=persona.headers,
        json={"component": {"name": name}},
    )
    assert response.status_code == 201
    component_id: str = response.json()["id"]
    return component_id


def set_status(
    client: TestClient, persona: Persona, page: Page, component_id: str, status: str
) -> None:
    response = client.patch(
        f"/api/v1/pages/{page.id}/components/{component_id}",
        headers=persona.headers,
        json={"component": {"status": status}},
    )
    assert response.status_code == 200


def a_bad_day(client: TestClient, persona: Persona, page: Page, name: str = "API") -> str:
    """On 1 March: one hour of major outage from 06:00, two of partial outage from 12:00."""
    with at(0):
        component_id = create(client, persona, page, name)
    for hours, status in (
        (6, "major_outage"),
        (7, "operational"),
        (12, "partial_outage"),
        (14, "operational"),
    ):
        with at(hours):
            set_status(client, persona, page, component_id, status)
    return component_id


def uptime(client: TestClient, persona: Persona, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, headers=persona.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_it_counts_outage_seconds_with_the_pages_partial_weight(
    client: TestClient, bob: Persona, page: Page
) -> None:
    api = a_bad_day(client, bob, page)
    with at(48):
        body = uptime(
            client,
            bob,
            f"/api/v1/pages/{page.id}/components/{api}/uptime",
            start="2026-03-01",
            end="2026-03-01",
        )
    assert list(body) == UPTIME_KEYS
    assert (body["id"], body["name"]) == (api, "API")
    assert (body["major_outage"], body["partial_outage"]) == (3600, 7200)
    # 3600 s + 0.3 × 7200 s down out of 86400 s.
    assert body["uptime_percentage"] == 93.33
    assert body["range_start"] == "2026-03-01T00:00:00.000Z"
    assert body["range_end"] == "2026-03-02T00:00:00.000Z"
    assert body["warnings"] is None
    assert body["related_events"] == []


def test_it_defaults_to_the_days_up_to_now_and_clamps_the_end(
    client: TestClient, bob: Persona, page: Page
) -> None:
    api = a_bad_day(client, bob, page)
    with at(36):
        body = uptime(client, bob, f"/api/v1/pages/{page.id}/components/{api}/uptime.json")
        later = uptime(
            client, bob, f"/api/v1/pages/{page.id}/components/{api}/uptime", end="2026-04"
        )
    assert body["range_end"] == "2026-03-02T12:00:00.000Z"
    assert body["range_start"] == "2025-12-03T00:00:00.000Z"
    # Time before the component existed has no data and does not count.
    assert body["uptime_percentage"] == round(100 * (1 - 5760 / (36 * 3600)), 2)
    assert later["range_end"] == body["range_end"]
    assert json.loads(later["warnings"]) == [
        "End date was adjusted to today. See range_end field in response for end date used."
    ]


def test_it_reads_ranges_in_the_pages_time_zone(
    client: TestClient, alice: Persona, page: Page
) -> None:
    response = client.patch(
        f"/api/v1/pages/{page.id}",
        headers=alice.headers,
        json={"page": {"time_zone": "Asia/Tokyo"}},
    )
    assert response.status_code == 200
    api = a_bad_day(client, alice, page)
    with at(48):
        body = uptime(
            client,
            alice,
            f"/api/v1/pages/{page.id}/components/{api}/uptime",
            start="2026-03-01",
            end="2026-03-01",
        )
    # 1 March in Tokyo ends at 15:00 UTC, so the day holds everything from creation on.
    assert body["range_start"] == "2026-03-01T00:00:00.000+09:00"
    assert body["range_end"] == "2026-03-02T00:00:00.000+09:00"
    assert (body["major_outage"], body["partial_outage"]) == (3600, 7200)


def test_it_rejects_malformed_dates(client: TestClient, bob: Persona, page: Page) -> None:
    with at(0):
        api = create(client, bob, page, "API")
    url = f"/api/v1/pages/{page.id}/components/{api}/uptime"
    with at(24):
        for params in ({"start": "yesterday"}, {"start": "2026-13"}, {"end": "1969-12-31"}):
            response = client.get(url, headers=bob.headers, params=params)
            assert response.status_code == 422, params
            assert response.json()["error"]


def test_it_moves_out_of_bounds_dates_and_says_so(
    client: TestClient, bob: Persona, page: Page
) -> None:
    with at(0):
        api = create(client, bob, page, "API")
    url = f"/api/v1/pages/{page.id}/components/{api}/uptime"
    with at(24):
        long = uptime(client, bob, url, start="2025-01-01", end="2026-03-01")
        backwards = uptime(client, bob, url, start="2026-03-02", end="2026-02-01")
        short_month = uptime(client, bob, url, start="2026-02-30", end="2026-03-01")
    assert long["range_start"] == "2025-09-01T00:00:00.000Z"
    assert "six calendar months" in json.loads(long["warnings"])[0]
    assert backwards["range_start"] == "2026-02-01T00:00:00.000Z"
    assert backwards["range_end"] == "2026-02-02T00:00:00.000Z"
    assert "after the end date" in json.loads(backwards["warnings"])[0]
    assert short_month["range_start"] == "2026-02-28T00:00:00.000Z"
    assert short_month["warnings"] is None


def test_it_accepts_partial_dates(client: TestClient, bob: Persona, page: Page) -> None:
    api = a_bad_day(client, bob, page)
    with at(24 * 40):
        body = uptime(
            client,
            bob,
            f"/api/v1/pages/{page.id}/components/{api}/uptime",
            start="2026-03",
            end="2026-03",
        )
    assert body["range_start"] == "2026-03-01T00:00:00.000Z"
    assert body["range_end"] == "2026-04-01T00:00:00.000Z"
    assert body["major_outage"] == 3600


def test_a_groups_uptime_is_the_mean_of_its_members(
    client: TestClient, bob: Persona, page: Page
) -> None:
    api = a_bad_day(client, bob, page, "API")
    with at(0):
        web = create(client, bob, page, "Website")
        response = client.post(
            f"/api/v1/pages/{page.id}/component-groups",
            headers=bob.headers,
            json={"component_group": {"name": "Core", "components": [api, web]}},
        )
    group_id = response.json()["id"]
    with at(48):
        body = uptime(
            client,
            bob,
            f"/api/v1/pages/{page.id}/component-groups/{group_id}/uptime",
            start="2026-03-01",
            end="2026-03-01",
        )
        as_component = client.get(
            f"/api/v1/pages/{page.id}/components/{group_id}/uptime", headers=bob.headers
        )
    assert (body["id"], body["name"]) == (group_id, "Core")
    assert body["uptime_percentage"] == round((93.3333 + 100) / 2, 2)
    assert (body["major_outage"], body["partial_outage"]) == (1800, 3600)
    assert body["related_events"] == []
    assert as_component.status_code == 422


def test_uptime_is_hidden_from_other_pages(
    client: TestClient, bob: Persona, charlie: Persona, page: Page
) -> None:
    with at(0):
        api = create(client, bob, page, "API")
        response = client.get(
            f"/api/v1/pages/{page.id}/components/{api}/uptime", headers=charlie.headers
        )
    assert response.status_code == 404


def test_it_names_the_incidents_that_changed_the_status(
    client: TestClient, session: Session, vera: Persona, page: Page
) -> None:
    incident_id = reference_outage(session, page)
    rows = {row.name: row for row in components.list_components(session, page.id)}
    day = {"start": "2026-03-02", "end": "2026-03-02"}
    with time_machine.travel(datetime(2026, 3, 4, tzinfo=UTC), tick=False):
        api = uptime(
            client,
            vera,
            f"/api/v1/pages/{page.id}/components/{rows['Payments API'].id}/uptime",
            **day,
        )
        payments = uptime(
            client,
            vera,
            f"/api/v1/pages/{page.id}/component-groups/{rows['Payments'].id}/uptime",
            **day,
        )
        skipped = uptime(
            client,
            vera,
            f"/api/v1/pages/{page.id}/components/{rows['Payments API'].id}/uptime",
            skip_related_events="true",
            **day,
        )
    assert api["related_events"] == [{"id": incident_id}]
    assert api["partial_outage"] == 88 * 60
    assert {e["component_id"] for e in payments["related_events"]} == {
        rows["Payments API"].id,
        rows["Webhooks"].id,
    }
    assert payments["related_events"][0]["incidents"] == [{"id": incident_id}]
    assert skipped["related_events"] is None
