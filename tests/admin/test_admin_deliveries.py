from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adminkit import sign_in
from conftest import Persona
from factories import component
from tocsin.audit.service import CLI
from tocsin.components.status import ComponentStatus
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate, UpdateCreate
from tocsin.incidents.status import IncidentStatus
from tocsin.notify import enrolment
from tocsin.notify import service as subscribers
from tocsin.notify.models import Delivery, DeliveryStatus, Notification, Subscriber
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages.models import Page

T0 = datetime(2026, 3, 2, 15, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Outage:
    incident: Incident
    people: dict[str, Subscriber]
    opened: Notification
    updated: Notification


def subscribe(session: Session, page: Page, email: str, **fields: object) -> Subscriber:
    data = SubscriberCreate.model_validate(
        {"email": email, "skip_confirmation_notification": True, **fields}
    )
    return subscribers.create_subscriber(session, page=page, data=data, actor=CLI).subscriber


def open_incident(session: Session, page: Page, name: str = "API errors") -> Incident:
    api = component(session, page, "API")
    incident = incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(
            name=name, body="Looking into it.", components={api.id: ComponentStatus.PARTIAL_OUTAGE}
        ),
        actor=CLI,
        now=T0,
    )
    session.flush()
    return incident


def outage(session: Session, page: Page) -> Outage:
    """Three subscribers hear of an incident and its update; a fourth follows another
    component and hears nothing. Then ann's first message is sent and bo's has failed."""
    dashboard = component(session, page, "Dashboard")
    people = {name: subscribe(session, page, f"{name}@example.com") for name in ("ann", "bo", "cy")}
    subscribe(session, page, "dee@example.com", component_ids=[dashboard.id])
    incident = open_incident(session, page)
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(status=IncidentStatus.IDENTIFIED, body="Found it."),
        actor=CLI,
        now=T0 + timedelta(minutes=10),
    )
    opened, updated = session.scalars(
        select(Notification)
        .where(Notification.incident_id == incident.id)
        .order_by(Notification.created_at)
    ).all()
    mark(session, opened, people["ann"], status=DeliveryStatus.SENT, attempts=1, duration_ms=42)
    mark(
        session,
        opened,
        people["bo"],
        status=DeliveryStatus.FAILED,
        attempts=3,
        last_error="HTTP 500 from the mail relay",
    )
    session.commit()
    return Outage(incident, people, opened, updated)


def mark(
    session: Session, notification: Notification, subscriber: Subscriber, **values: object
) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.notification_id == notification.id, Delivery.subscriber_id == subscriber.id)
        .values(sent_at=T0 + timedelta(minutes=1), **values)
    )


def log_rows(html: str) -> list[str]:
    """Each row of the delivery table as its cells' text, ` | ` apart."""
    table = re.search(r'<table class="deliveries stacked">.*?</table>', html, re.S)
    if table is None:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(0).split("<tbody>")[1], re.S)
    return [
        " | ".join(
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        )
        for row in rows
    ]


def fan_out_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table class="fan-outs">.*?</table>', html, re.S)
    assert table
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(0).split("<tbody>")[1], re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


def total(html: str, status: str) -> int:
    found = re.search(rf'class="total-{status}">(\d+)<', html)
    assert found, status
    return int(found.group(1))


def incident_log(page: Page, incident: Incident) -> str:
    return f"/admin/pages/{page.id}/incidents/{incident.id}/deliveries"


def test_the_incident_log_counts_each_notifications_deliveries(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    o = outage(session, page)
    sign_in(client, alice)

    html = client.get(incident_log(page, o.incident)).text

    # Newest first: Notification, Created, Pending, Sending, Sent, Failed, Total.
    [update_row, opened_row] = fan_out_rows(html)
    assert opened_row[0] == "Incident opened"
    assert opened_row[2:] == ["1", "0", "1", "1", "3"]
    assert update_row[0] == "Update"
    assert update_row[2:] == ["3", "0", "0", "0", "3"]
    assert [total(html, s) for s in ("pending", "sending", "sent", "failed")] == [4, 0, 1, 1]
    rows = log_rows(html)
    assert len(rows) == 6
    assert not any("dee@example.com" in row for row in rows)


def test_the_log_shows_each_deliverys_outcome(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    o = outage(session, page)
    sign_in(client, alice)

    html = client.get(incident_log(page, o.incident), params={"status": "failed"}).text

    [row] = log_rows(html)
    assert "bo@example.com | email | failed | 3 | HTTP 500 from the mail relay" in row
    [sent] = log_rows(client.get(incident_log(page, o.incident), params={"status": "sent"}).text)
    assert "ann@example.com | email | sent | 1 |  | 42 ms | Mon, Mar 02, 2026" in sent


def test_the_log_searches_by_address(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    o = outage(session, page)
    sign_in(client, alice)

    html = client.get(incident_log(page, o.incident), params={"q": "CY@"}).text

    rows = log_rows(html)
    assert len(rows) == 2
    assert all("cy@example.com" in row for row in rows)
    assert [total(html, s) for s in ("pending", "sent", "failed")] == [2, 0, 0]


def test_the_page_log_is_newest_first_and_includes_confirmations(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    o = outage(session, page)
    enrolment.enrol(
        session,
        page=page,
        data=SubscriberCreate(email="eve@example.com"),
        actor=CLI,
    )
    session.commit()
    sign_in(client, alice)

    html = client.get(f"/admin/pages/{page.id}/deliveries").text

    rows = log_rows(html)
    assert len(rows) == 7
    assert "Confirmation request" in rows[0] and "eve@example.com" in rows[0]
    assert all(row.startswith("Mon, Mar 02, 2026, 03:22 PM | Update") for row in rows[1:4])
    assert all("Incident opened" in row for row in rows[4:])
    assert incident_log(page, o.incident) in html


def test_the_log_pages_fifty_at_a_time(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    for n in range(53):
        subscribe(session, page, f"user{n:02d}@example.com")
    incident = open_incident(session, page)
    session.commit()
    sign_in(client, alice)
    url = incident_log(page, incident)

    first = client.get(url).text
    second = client.get(url, params={"page": 2}).text

    assert len(log_rows(first)) == 50
    assert len(log_rows(second)) == 3
    addresses = [row.split(" | ")[1] for row in log_rows(first) + log_rows(second)]
    assert sorted(addresses) == [f"user{n:02d}@example.com" for n in range(53)]


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_editors_and_viewers_can_read_the_log(
    client: TestClient, session: Session, page: Page, who: str, request: pytest.FixtureRequest
) -> None:
    o = outage(session, page)
    sign_in(client, request.getfixturevalue(who))

    assert len(log_rows(client.get(incident_log(page, o.incident)).text)) == 6
    assert len(log_rows(client.get(f"/admin/pages/{page.id}/deliveries").text)) == 6


def test_another_page_sees_none_of_these_deliveries(
    client: TestClient, session: Session, page: Page, alice: Persona, charlie: Persona
) -> None:
    o = outage(session, page)
    subscribe(session, charlie.page, "zed@example.com")
    open_incident(session, charlie.page, "Their outage")
    session.commit()
    sign_in(client, charlie)
    theirs = charlie.page

    assert client.get(incident_log(page, o.incident)).status_code == 404
    assert client.get(incident_log(theirs, o.incident)).status_code == 404
    assert client.get(f"/admin/pages/{theirs.id}/incidents/a%00b/deliveries").status_code in (
        400,
        404,
    )
    rows = log_rows(client.get(f"/admin/pages/{theirs.id}/deliveries").text)
    assert len(rows) == 1 and "zed@example.com" in rows[0]

    sign_in(client, alice)
    rows = log_rows(client.get(f"/admin/pages/{page.id}/deliveries").text)
    assert not any("zed@example.com" in row for row in rows)


def test_error_text_in_the_log_is_escaped(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    o = outage(session, page)
    mark(session, o.updated, o.people["cy"], last_error="<img src=x onerror=alert(1)>")
    session.commit()
    sign_in(client, alice)

    html = client.get(incident_log(page, o.incident)).text

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
