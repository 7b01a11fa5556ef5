"""Maintenance windows in the admin: scheduled in the page's time zone, started and completed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adminkit import csrf_of, post_form, sign_in
from conftest import Persona
from factories import component
from tocsin.audit.service import CLI
from tocsin.components.models import Component
from tocsin.components.status import ComponentStatus
from tocsin.incidents.models import Incident
from tocsin.incidents.status import IncidentStatus
from tocsin.notify import service as subscribers
from tocsin.notify.models import Delivery
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages.models import Page


@pytest.fixture
def berlin(session: Session, page: Page) -> Page:
    page.time_zone = "Europe/Berlin"
    session.commit()
    return page


@pytest.fixture
def database(session: Session, page: Page) -> Component:
    database = component(session, page, "Database")
    session.commit()
    return database


def _base(page: Page) -> str:
    return f"/admin/pages/{page.id}"


def _window(**fields: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "name": "Database upgrade",
        "starts": "2026-07-01T22:00",
        "ends": "2026-07-02T01:00",
        "body": "",
        "auto_start": ["false", "true"],
        "auto_end": ["false", "true"],
        "remind_prior": ["false", "true"],
        "notify": ["false", "true"],
        **fields,
    }


def _pairs(fields: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    return [
        (key, item)
        for key, value in fields.items()
        for item in ([value] if isinstance(value, str) else value)
    ]


def _schedule(client: TestClient, page: Page, **fields: str | list[str]) -> str:
    response = post_form(client, f"{_base(page)}/maintenance/new", _pairs(_window(**fields)))
    assert response.status_code == 303, response.text
    found = re.search(r"/maintenance/(\w+)$", response.headers["location"])
    assert found
    return found.group(1)


def _get(session: Session, maintenance_id: str) -> Incident:
    session.expire_all()
    found = session.get(Incident, maintenance_id)
    assert found is not None
    return found


def _public(client: TestClient, path: str) -> str:
    return re.sub(r"<[^>]+>", "", client.get(path).text)


def test_times_typed_in_the_page_zone_land_at_the_right_instant(
    client: TestClient, bob: Persona, session: Session, berlin: Page
) -> None:
    sign_in(client, bob)
    summer = _schedule(client, berlin, starts="2026-07-01T22:00", ends="2026-07-02T01:00")
    winter = _schedule(client, berlin, starts="2026-01-10T22:00", ends="2026-01-10T23:30")
    assert _get(session, summer).scheduled_for == datetime(2026, 7, 1, 20, 0, tzinfo=UTC)
    assert _get(session, summer).scheduled_until == datetime(2026, 7, 1, 23, 0, tzinfo=UTC)
    assert _get(session, winter).scheduled_for == datetime(2026, 1, 10, 21, 0, tzinfo=UTC)
    page = client.get(f"{_base(berlin)}/maintenance/{summer}").text
    assert "Wed, Jul 01, 2026, 10:00 PM" in page
    assert 'value="2026-07-01T22:00"' in page


def test_a_scheduled_window_is_public_and_notifies_only_when_asked(
    client: TestClient, bob: Persona, session: Session, page: Page, database: Component
) -> None:
    subscribers.create_subscriber(
        session,
        page=page,
        data=SubscriberCreate(email="ann@example.com", skip_confirmation_notification=True),
        actor=CLI,
    )
    session.commit()
    sign_in(client, bob)
    form = client.get(f"{_base(page)}/maintenance/new").text
    assert "Would notify 1 subscriber." in form
    quiet = _schedule(client, page, name="Quiet window", notify=["false"])
    assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    loud = _schedule(client, page, name="Announced window", component_ids=[database.id])
    assert session.scalar(select(func.count()).select_from(Delivery)) == 1
    assert "Quiet window" in _public(client, f"/incidents/{quiet}")
    public = _public(client, f"/incidents/{loud}")
    assert "Announced window" in public and "Database" in public


def test_start_now_and_complete_early_move_the_components(
    client: TestClient, bob: Persona, session: Session, page: Page, database: Component
) -> None:
    sign_in(client, bob)
    maintenance_id = _schedule(client, page, component_ids=[database.id])
    here = f"{_base(page)}/maintenance/{maintenance_id}"
    assert "Complete now" not in client.get(here).text

    assert post_form(client, f"{here}/start", token_from=here).status_code == 303
    assert _get(session, maintenance_id).status is IncidentStatus.IN_PROGRESS
    assert session.get(Component, database.id).status is ComponentStatus.UNDER_MAINTENANCE  # type: ignore[union-attr]
    assert re.search(r"Database\s+Under maintenance", _public(client, "/"))
    again = post_form(client, f"{here}/start", token_from=here)
    assert again.status_code == 422 and "only a scheduled maintenance" in again.text

    assert post_form(client, f"{here}/complete", token_from=here).status_code == 303
    assert _get(session, maintenance_id).status is IncidentStatus.COMPLETED
    assert session.get(Component, database.id).status is ComponentStatus.OPERATIONAL  # type: ignore[union-attr]
    assert "The scheduled maintenance has been completed." in _public(
        client, f"/incidents/{maintenance_id}"
    )


def test_an_update_and_an_edit_of_the_window(
    client: TestClient, bob: Persona, session: Session, berlin: Page, database: Component
) -> None:
    sign_in(client, bob)
    maintenance_id = _schedule(client, berlin)
    here = f"{_base(berlin)}/maintenance/{maintenance_id}"
    moved = post_form(
        client,
        f"{here}/edit",
        {
            "name": "Database upgrade (moved)",
            "starts": "2026-07-02T22:00",
            "ends": "2026-07-03T02:00",
            "component_ids": database.id,
            "auto_start": "true",
            "auto_end": "false",
            "remind_prior": "false",
        },
        token_from=here,
    )
    assert moved.status_code == 303
    maintenance = _get(session, maintenance_id)
    assert maintenance.name == "Database upgrade (moved)"
    assert maintenance.scheduled_for == datetime(2026, 7, 2, 20, 0, tzinfo=UTC)
    assert not maintenance.auto_end
    assert [link.component_id for link in maintenance.components] == [database.id]

    posted = post_form(
        client,
        f"{here}/updates",
        {"status": "scheduled", "body": "Now with a **longer** window.", "notify": "false"},
        token_from=here,
    )
    assert posted.status_code == 303
    assert "Now with a longer window." in _public(client, f"/incidents/{maintenance_id}")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ends": "2026-07-01T21:00"}, "the window must end after it starts"),
        ({"starts": ""}, "give the window&#39;s start and end"),
        ({"starts": "soon"}, "is not a date and time"),
        ({"name": " "}, "Name: String should have at least 1 character"),
        ({"component_ids": "nope"}, "component nope not found"),
    ],
)
def test_bad_input_shows_the_form_again_with_a_message(
    client: TestClient,
    bob: Persona,
    session: Session,
    page: Page,
    fields: dict[str, str],
    message: str,
) -> None:
    sign_in(client, bob)
    data = _pairs({**_window(body="Kept as typed"), **fields})
    response = post_form(client, f"{_base(page)}/maintenance/new", data)
    assert response.status_code == 422
    assert message in response.text
    assert "Kept as typed</textarea>" in response.text
    assert session.scalar(select(func.count()).select_from(Incident)) == 0


def test_a_bad_edit_keeps_the_window_as_it_was(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    maintenance_id = _schedule(client, page)
    here = f"{_base(page)}/maintenance/{maintenance_id}"
    response = post_form(
        client,
        f"{here}/edit",
        {"name": "Renamed", "starts": "2026-07-02T10:00", "ends": "2026-07-02T09:00"},
        token_from=here,
    )
    assert response.status_code == 422 and "end after it starts" in response.text
    assert 'value="Renamed"' in response.text
    assert _get(session, maintenance_id).name == "Database upgrade"


def test_a_viewer_sees_the_window_but_cannot_change_it(
    client: TestClient, bob: Persona, vera: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    maintenance_id = _schedule(client, page)
    here = f"{_base(page)}/maintenance/{maintenance_id}"
    sign_in(client, vera)
    html = client.get(here).text
    assert "Database upgrade" in html
    for action in ("/start", "/updates", "/edit", "/delete"):
        assert f'action="{here}{action}"' not in html
    assert "Schedule maintenance" not in client.get(f"{_base(page)}/maintenance").text
    token = csrf_of(html)
    assert client.post(f"{here}/start", data={"csrf_token": token}).status_code == 403
    assert _get(session, maintenance_id).status is IncidentStatus.SCHEDULED


def test_another_pages_owner_gets_404_for_the_window(
    client: TestClient, alice: Persona, charlie: Persona, session: Session, page: Page
) -> None:
    sign_in(client, alice)
    maintenance_id = _schedule(client, page)
    sign_in(client, charlie)
    theirs = f"/admin/pages/{charlie.page.id}/maintenance/{maintenance_id}"
    assert client.get(theirs).status_code == 404
    token = csrf_of(client.get(f"/admin/pages/{charlie.page.id}/maintenance").text)
    assert client.post(f"{theirs}/start", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{theirs}/delete", data={"csrf_token": token}).status_code == 404
    assert _get(session, maintenance_id).status is IncidentStatus.SCHEDULED


def test_an_incident_id_is_not_a_maintenance_page(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    maintenance_id = _schedule(client, page)
    assert client.get(f"{_base(page)}/incidents/{maintenance_id}").status_code == 404
    listing = client.get(f"{_base(page)}/maintenance").text
    assert "Database upgrade" in listing
