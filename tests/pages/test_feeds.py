from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy.orm import Session

from factories import T0, component, reference_outage
from tocsin.audit.service import CLI
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, MaintenanceCreate
from tocsin.pages.models import Page

XSS = "<script>alert(1)</script>"
FEEDS = ["/history.rss", "/history.atom"]


def schedule(session: Session, page: Page, name: str, start: datetime) -> str:
    db = component(session, page, f"{name} database")
    maintenance = incidents.schedule_maintenance(
        session,
        page=page,
        data=MaintenanceCreate(
            name=name,
            body="We will upgrade the **primary** database.",
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=2),
            component_ids=[db.id],
        ),
        actor=CLI,
        now=T0,
    )
    return maintenance.id


@pytest.mark.parametrize("path", FEEDS)
def test_the_feeds_list_incidents_with_links_to_their_pages(
    client: TestClient, session: Session, page: Page, path: str
) -> None:
    incident_id = reference_outage(session, page)

    response = client.get(path)

    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "Acme Cloud status - Incident history"
    assert feed.feed.link == "http://testserver/history"
    [entry] = feed.entries
    assert entry.title == "Payments API returning errors"
    assert entry.link == f"http://testserver/incidents/{incident_id}"
    assert entry.published_parsed[:5] == (2026, 3, 2, 15, 12)
    html = entry.content[0].value if "content" in entry else entry.description
    assert "<strong>Resolved</strong>" in html
    assert "<code>payments-edge</code>" in html
    assert html.index("Resolved") < html.index("Investigating")


def test_the_feeds_have_their_own_content_types_and_etags(client: TestClient, page: Page) -> None:
    for path, media_type in [
        ("/history.rss", "application/rss+xml"),
        ("/history.atom", "application/atom+xml"),
        ("/maintenance.ics", "text/calendar"),
    ]:
        response = client.get(path)
        assert response.headers["content-type"].startswith(media_type)
        etag = response.headers["etag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("path", FEEDS)
def test_names_and_bodies_arrive_escaped(
    client: TestClient, session: Session, page: Page, path: str
) -> None:
    incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(name=XSS, body=f"Oops {XSS} <img src=x onerror=alert(1)>"),
        actor=CLI,
    )
    session.commit()

    response = client.get(path)

    assert b"<script" not in response.content
    assert b"<img" not in response.content
    [entry] = feedparser.parse(response.content).entries
    assert entry.title == XSS
    html = entry.content[0].value if "content" in entry else entry.description
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize("path", [*FEEDS, "/maintenance.ics"])
def test_control_characters_do_not_break_the_feeds(
    client: TestClient, session: Session, page: Page, path: str
) -> None:
    incidents.create_incident(
        session, page=page, data=IncidentCreate(name="Bell\x07 outage", body="Beep\x07"), actor=CLI
    )
    schedule(session, page, "Bell\x07 window", T0)
    session.commit()

    response = client.get(path)

    assert response.status_code == 200
    if path != "/maintenance.ics":
        feed = feedparser.parse(response.content)
        assert not feed.bozo
        assert {e.title for e in feed.entries} == {"Bell outage", "Bell window"}


def test_the_calendar_has_one_event_per_maintenance_in_utc(
    client: TestClient, session: Session, page: Page
) -> None:
    first = schedule(session, page, "Database upgrade", datetime(2026, 4, 1, 22, 0, tzinfo=UTC))
    second = schedule(session, page, "Network work", datetime(2026, 4, 8, 6, 30, tzinfo=UTC))
    incidents.create_incident(session, page=page, data=IncidentCreate(name="Outage"), actor=CLI)
    session.commit()

    response = client.get("/maintenance.ics")

    assert response.status_code == 200
    calendar = Calendar.from_ical(response.content)
    events = {str(e["summary"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"Database upgrade", "Network work"}
    upgrade = events["Database upgrade"]
    assert str(upgrade["uid"]) == f"{first}@testserver"
    assert upgrade.decoded("dtstart") == datetime(2026, 4, 1, 22, 0, tzinfo=UTC)
    assert upgrade.decoded("dtend") == datetime(2026, 4, 2, 0, 0, tzinfo=UTC)
    assert b"DTSTART:20260401T220000Z" in response.content
    assert str(upgrade["url"]) == f"http://testserver/incidents/{first}"
    assert str(upgrade["status"]) == "CONFIRMED"
    assert "upgrade the **primary** database" in str(upgrade["description"])
    assert upgrade.decoded("last-modified").utcoffset() == timedelta(0)
    assert str(events["Network work"]["uid"]) == f"{second}@testserver"
    assert client.get("/maintenance.ics").content == response.content


def test_a_name_of_only_control_characters_still_makes_valid_feeds(
    client: TestClient, session: Session, page: Page
) -> None:
    incidents.create_incident(session, page=page, data=IncidentCreate(name="\x01\x02"), actor=CLI)
    session.commit()
    for path in ("/history.rss", "/history.atom"):
        parsed = feedparser.parse(client.get(path).content)
        assert not parsed.bozo
        assert parsed.entries[0].title == "Untitled incident"
