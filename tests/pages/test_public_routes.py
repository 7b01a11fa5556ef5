from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component, reference_outage
from tocsin.audit.service import CLI
from tocsin.components.status import ComponentStatus
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate, MaintenanceCreate, WriteupPublish
from tocsin.incidents.status import IncidentStatus
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.schemas import PageUpdate


def text_of(html: str) -> str:
    """The page's visible text, one line per block, roughly as a reader sees it."""
    body = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", "", html)
    body = re.sub(
        r"(?i)<br\s*/?>|</(p|div|h\d|li|dt|dd|section|header|article|time|ul|ol|span)>", "\n", body
    )
    body = re.sub(r"<[^>]+>", "", body)
    for entity, char in (
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&#39;", "'"),
        ("&quot;", '"'),
    ):
        body = body.replace(entity, char)
    return "\n".join(line.strip() for line in body.splitlines() if line.strip())


def in_order(expected: list[str], lines: list[str]) -> bool:
    """True if every expected line appears, whole, in this order (other lines may come between)."""
    remaining = iter(lines)
    return all(any(line == want for line in remaining) for want in expected)


def test_a_fresh_install_shows_a_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "All Systems Operational" in response.text


def test_the_incident_page_reads_like_the_reference(
    client: TestClient, session: Session, page: Page
) -> None:
    incident_id = reference_outage(session, page)
    response = client.get(f"/incidents/{incident_id}")
    assert response.status_code == 200
    text = text_of(response.text)
    expected = """Payments API returning errors
Affected components
Payments
Payments API — Partial outage
Webhooks — Degraded performance
Updates
Write-up published
Read our write-up at https://acme.example/blog/payments-postmortem
Thu, Mar 05, 2026, 10:02 AM
Resolved
Error rates are back to normal. We will publish a write-up.
Mon, Mar 02, 2026, 04:40 PM
(2 days earlier)
Monitoring
A fix has been deployed; we are watching error rates.
Mon, Mar 02, 2026, 04:35 PM
Identified
A bad configuration push to payments-edge is the cause. Rolling back.
Mon, Mar 02, 2026, 03:50 PM
(45 minutes earlier)
Investigating
We are seeing elevated error rates on the Payments API.
Mon, Mar 02, 2026, 03:12 PM
(38 minutes earlier)"""
    lines = text.splitlines()
    assert in_order(expected.splitlines(), lines)
    five_minutes_before_resolved = lines.index("Mon, Mar 02, 2026, 04:35 PM")
    assert not lines[five_minutes_before_resolved + 1].startswith("(")


def test_the_incident_page_shows_times_in_the_page_time_zone(
    client: TestClient, session: Session, page: Page
) -> None:
    incident_id = reference_outage(session, page)
    pages.update_page(session, page=page, data=PageUpdate(time_zone="America/New_York"), actor=CLI)
    session.commit()
    text = text_of(client.get(f"/incidents/{incident_id}").text)
    assert "Mon, Mar 02, 2026, 10:12 AM" in text
    assert "Thu, Mar 05, 2026, 05:02 AM" in text


def test_the_home_page_shows_an_unresolved_incident_and_the_blended_status(
    client: TestClient, session: Session, page: Page
) -> None:
    api = component(session, page, "API")
    component(session, page, "Website")
    incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(
            name="Elevated API latency",
            body="Requests are **slow**.",
            components={api.id: ComponentStatus.DEGRADED_PERFORMANCE},
        ),
        actor=CLI,
    )
    session.commit()
    html = client.get("/").text
    assert "Partially Degraded Service" in html
    assert "Elevated API latency" in html
    assert "<strong>slow</strong>" in html


def test_maintenance_has_its_own_page_and_shows_on_home(
    client: TestClient, session: Session, page: Page
) -> None:
    db = component(session, page, "Database")
    start = datetime.now(UTC) + timedelta(days=2)
    maintenance = incidents.schedule_maintenance(
        session,
        page=page,
        data=MaintenanceCreate(
            name="Database upgrade",
            body="We will upgrade the primary database.",
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=2),
            component_ids=[db.id],
        ),
        actor=CLI,
    )
    session.commit()
    assert "Database upgrade" in client.get("/").text
    text = text_of(client.get(f"/incidents/{maintenance.id}").text)
    assert "Scheduled" in text
    assert "We will upgrade the primary database." in text


def test_history_lists_past_incidents_and_pages(
    client: TestClient, session: Session, page: Page
) -> None:
    incident_id = reference_outage(session, page)
    first = client.get("/history")
    assert first.status_code == 200
    assert f"/incidents/{incident_id}" in first.text
    assert client.get("/history?page=999").status_code == 404
    assert client.get("/history?page=abc").status_code == 422


def test_a_markdown_writeup_is_rendered_on_its_own_page(
    client: TestClient, session: Session, page: Page
) -> None:
    incident = incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(name="Queue backlog", status=IncidentStatus.RESOLVED),
        actor=CLI,
    )
    incidents.publish_writeup(
        session,
        incident=incident,
        data=WriteupPublish(body="## What happened\n\nA <script>alert(1)</script> queue *filled*."),
        actor=CLI,
    )
    session.commit()
    assert f"/incidents/{incident.id}/write-up" in client.get(f"/incidents/{incident.id}").text
    html = client.get(f"/incidents/{incident.id}/write-up").text
    assert "What happened" in html
    assert "<em>filled</em>" in html
    assert "<script>alert" not in html


def test_names_are_escaped(client: TestClient, session: Session, page: Page) -> None:
    api = component(session, page, '<img src=x onerror="alert(1)">')
    incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(
            name="<script>alert(2)</script>", components={api.id: ComponentStatus.MAJOR_OUTAGE}
        ),
        actor=CLI,
    )
    session.commit()
    html = client.get("/").text
    assert "<img src=x" not in html
    assert "<script>alert(2)" not in html
    assert "&lt;script&gt;alert(2)" in html


def test_unknown_addresses_get_a_404_page(client: TestClient, session: Session, page: Page) -> None:
    for path in ("/incidents/nope", "/incidents/nope/write-up", "/no-such-page"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Traceback" not in response.text


def test_another_pages_incident_is_not_shown_on_this_host(
    client: TestClient, session: Session, page: Page
) -> None:
    other = Page(name="Internal", domain="internal.example")
    session.add(other)
    session.flush()
    secret = incidents.create_incident(
        session, page=other, data=IncidentCreate(name="Secret outage"), actor=CLI
    )
    session.commit()
    assert client.get(f"/incidents/{secret.id}").status_code == 404
    shown = client.get(f"/incidents/{secret.id}", headers={"host": "internal.example"})
    assert shown.status_code == 200
    assert "Secret outage" in shown.text


def test_pages_carry_strict_security_headers(client: TestClient, page: Page) -> None:
    response = client.get("/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in response.headers


def test_the_accent_colour_is_served_as_a_stylesheet(
    client: TestClient, session: Session, page: Page
) -> None:
    pages.update_page(session, page=page, data=PageUpdate(accent_color="#4f46e5"), actor=CLI)
    session.commit()
    assert 'href="/theme.css?accent=%234f46e5"' in client.get("/").text
    css = client.get("/theme.css")
    assert css.headers["content-type"].startswith("text/css")
    assert css.text == ":root { --accent: #4f46e5; }\n"


def test_a_nul_in_the_address_is_refused_not_a_server_error(
    client: TestClient, page: Page, alice: Persona
) -> None:
    for path in (
        "/incidents/ab%00cd",
        f"/api/v1/pages/{page.id}%00/components",
        "/history?page=%00",
    ):
        response = client.get(path, headers=alice.headers)
        assert response.status_code == 400
        assert "NUL" in response.json()["error"]
