from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from adminkit import post_form, sign_in
from conftest import Persona
from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.schemas import PageUpdate

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def record(
    session: Session,
    page: Page,
    at: datetime,
    *,
    actor: str = "system",
    action: str = "component.update",
    object_type: str = "component",
    object_id: str | None = "cmp1",
    changes: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    event = audit.record(
        session,
        actor=Actor(actor, ip=ip),
        action=action,
        page_id=page.id,
        object_type=object_type,
        object_id=object_id,
        changes=changes,
    )
    event.created_at = at
    session.commit()


def log_url(page: Page, query: str = "") -> str:
    return f"/admin/pages/{page.id}/audit" + (f"?{query}" if query else "")


def actions_shown(html: str) -> list[str]:
    return re.findall(r"<td><code>([a-z_.]+)</code>", html)


def test_an_admin_action_shows_who_did_what_and_from_where(
    client: TestClient, alice: Persona
) -> None:
    sign_in(client, alice)
    url = f"/admin/pages/{alice.page.id}/settings"
    form = {"name": "<b>Acme</b>", "time_zone": "Europe/Berlin", "language": "en"}
    form |= {"accent_picker": "#0a58ca", "partial_outage_weight": "0.3"}
    assert post_form(client, url, form).status_code == 303

    html = client.get(log_url(alice.page)).text

    row = html[html.index("<td><code>page.update</code>") - 400 :]
    assert "alice@example.com" in row
    assert "<code>testclient</code>" in row
    assert "<dt>name</dt><dd>&lt;b&gt;Acme&lt;/b&gt;</dd>" in row
    assert "<dt>time_zone</dt><dd>Europe/Berlin</dd>" in row
    assert "<b>Acme</b>" not in html


def test_events_are_newest_first_in_the_pages_time_zone(
    client: TestClient, session: Session, alice: Persona
) -> None:
    pages.update_page(
        session, page=alice.page, data=PageUpdate(time_zone="America/New_York"), actor=audit.CLI
    )
    record(session, alice.page, T0, action="incident.create")
    record(session, alice.page, T0 + timedelta(hours=1), action="incident.update")
    sign_in(client, alice)

    html = client.get(log_url(alice.page, "object=component")).text

    assert actions_shown(html) == ["incident.update", "incident.create"]
    assert "Mon, Mar 02, 2026, 07:00 AM" in html
    assert "Times are in America/New_York." in html


def test_it_links_incidents_components_and_monitors(
    client: TestClient, session: Session, alice: Persona
) -> None:
    record(session, alice.page, T0, object_type="incident", object_id="inc1")
    record(session, alice.page, T0, object_type="maintenance", object_id="mnt1")
    record(session, alice.page, T0, object_type="component", object_id="cmp1")
    record(session, alice.page, T0, object_type="monitor", object_id="mon1")
    record(session, alice.page, T0, object_type="subscriber", object_id="sub1")
    sign_in(client, alice)

    html = client.get(log_url(alice.page)).text

    base = f"/admin/pages/{alice.page.id}"
    assert f'<a href="{base}/incidents/inc1">incident inc1</a>' in html
    assert f'<a href="{base}/maintenance/mnt1">maintenance mnt1</a>' in html
    assert f'<a href="{base}/components#c-cmp1">component cmp1</a>' in html
    assert f'<a href="{base}/monitors/mon1">monitor mon1</a>' in html
    assert '<span class="muted">subscriber sub1</span>' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=bob%40example.com", ["component.update"]),
        ("action=incident.create", ["incident.create"]),
        ("object=incident", ["incident.update", "incident.create"]),
        ("actor=system&object=incident", ["incident.create"]),
        # 03:00 UTC on Mar 2 is still Mar 1 in New York.
        ("since=2026-03-02", ["incident.update", "component.update"]),
        ("until=2026-03-01", ["incident.create"]),
        ("since=2026-03-02&until=2026-03-02", ["incident.update", "component.update"]),
        ("since=2026-03-03", []),
    ],
)
def test_it_filters_by_actor_action_object_and_dates(
    client: TestClient, session: Session, alice: Persona, query: str, expected: list[str]
) -> None:
    page = alice.page
    pages.update_page(
        session, page=page, data=PageUpdate(time_zone="America/New_York"), actor=audit.CLI
    )
    record(
        session,
        page,
        datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        action="incident.create",
        object_type="incident",
    )
    record(session, page, datetime(2026, 3, 2, 15, 0, tzinfo=UTC), actor="bob@example.com")
    record(
        session,
        page,
        datetime(2026, 3, 3, 4, 59, tzinfo=UTC),
        actor="alice@example.com",
        action="incident.update",
        object_type="incident",
    )
    sign_in(client, alice)

    html = client.get(log_url(page, query)).text

    mine = {"incident.create", "incident.update", "component.update"}
    assert [a for a in actions_shown(html) if a in mine] == expected


def test_the_filter_choices_are_what_the_log_holds(
    client: TestClient, session: Session, alice: Persona
) -> None:
    record(session, alice.page, T0, action="monitor.pause", object_type="monitor")
    sign_in(client, alice)

    html = client.get(log_url(alice.page, "action=monitor.pause")).text

    assert '<option value="monitor.pause" selected>monitor.pause</option>' in html
    assert '<option value="monitor">monitor</option>' in html
    assert "Clear</a>" in html


def test_an_unreadable_date_is_reported_and_the_log_still_shows(
    client: TestClient, session: Session, alice: Persona
) -> None:
    record(session, alice.page, T0, action="incident.create")
    sign_in(client, alice)

    response = client.get(log_url(alice.page, "since=yesterday"))

    assert response.status_code == 422
    assert "From: enter a date as YYYY-MM-DD" in response.text
    assert "incident.create" in actions_shown(response.text)


def test_it_pages_through_the_log_fifty_at_a_time(
    client: TestClient, session: Session, alice: Persona
) -> None:
    for minute in range(120):
        record(
            session,
            alice.page,
            T0 + timedelta(minutes=minute),
            action="component.update",
            changes={"n": minute},
        )
    sign_in(client, alice)

    first = client.get(log_url(alice.page, "action=component.update")).text
    third = client.get(log_url(alice.page, "action=component.update&p=3")).text

    assert len(actions_shown(first)) == 50
    assert "<dt>n</dt><dd>119</dd>" in first
    assert (
        f'href="/admin/pages/{alice.page.id}/audit?action=component.update&amp;p=2" rel="next"'
        in first
    )
    assert 'rel="prev"' not in first
    assert len(actions_shown(third)) == 20
    assert "<dt>n</dt><dd>0</dd>" in third
    assert 'rel="next"' not in third
    assert 'rel="prev"' in third


def test_it_shows_only_this_pages_events(
    client: TestClient, session: Session, alice: Persona, charlie: Persona
) -> None:
    record(session, charlie.page, T0, action="incident.create", actor="charlie@example.com")
    sign_in(client, alice)

    html = client.get(log_url(alice.page)).text

    assert "charlie@example.com" not in html
    assert "incident.create" not in actions_shown(html)


def test_the_csv_export_follows_the_filters_and_is_formula_safe(
    client: TestClient, session: Session, alice: Persona
) -> None:
    record(
        session,
        alice.page,
        T0,
        actor='=HYPERLINK("https://evil.example")',
        action="incident.create",
        object_type="incident",
        object_id="inc1",
        changes={"name": "@SUM(1+1)"},
        ip="203.0.113.9",
    )
    record(session, alice.page, T0, action="component.update")
    sign_in(client, alice)

    response = client.get(f"/admin/pages/{alice.page.id}/audit.csv?action=incident.create")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["time_utc", "time (Etc/UTC)", "actor", "ip", "action"]
    assert len(rows) == 2
    assert rows[1][0] == "2026-03-02T12:00:00+00:00"
    assert rows[1][1] == "Mon, Mar 02, 2026, 12:00 PM"
    assert rows[1][2] == '\'=HYPERLINK("https://evil.example")'
    assert rows[1][3:7] == ["203.0.113.9", "incident.create", "incident", "inc1"]
    assert rows[1][7] == '{"name": "@SUM(1+1)"}'


@pytest.mark.parametrize("persona", ["bob", "vera"])
def test_editors_and_viewers_cannot_read_the_log(
    client: TestClient, persona: str, request: pytest.FixtureRequest
) -> None:
    who: Persona = request.getfixturevalue(persona)
    sign_in(client, who)

    assert client.get(log_url(who.page)).status_code == 403
    assert client.get(f"/admin/pages/{who.page.id}/audit.csv").status_code == 403


def test_another_pages_owner_gets_not_found(
    client: TestClient, alice: Persona, charlie: Persona
) -> None:
    sign_in(client, charlie)

    assert client.get(log_url(alice.page)).status_code == 404
    assert client.get(f"/admin/pages/{alice.page.id}/audit.csv").status_code == 404
