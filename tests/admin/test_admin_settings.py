from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from adminkit import PASSWORD, csrf_of, post_form, sign_in
from conftest import Persona, wait_for_snapshot
from factories import reference_outage
from tocsin.audit.models import AuditEvent
from tocsin.pages.models import Page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VALID = {
    "url": "",
    "time_zone": "Etc/UTC",
    "language": "en",
    "logo_url": "",
    "accent_color": "",
    "accent_picker": "#0a58ca",
    "domain": "",
    "partial_outage_weight": "0.3",
}


def settings_url(page: Page) -> str:
    return f"/admin/pages/{page.id}/settings"


def save(client: TestClient, page: Page, **fields: str) -> tuple[int, str]:
    response = post_form(client, settings_url(page), VALID | {"name": page.name} | fields)
    return response.status_code, response.text


def stored(session: Session, page: Page) -> Page:
    session.expire_all()
    found = session.get(Page, page.id)
    assert found is not None
    return found


def page_updates(session: Session, page: Page) -> list[AuditEvent]:
    session.expire_all()
    query = select(AuditEvent).where(
        AuditEvent.page_id == page.id, AuditEvent.action == "page.update"
    )
    return list(session.scalars(query))


def test_an_owner_brands_the_public_page(client: TestClient, alice: Persona) -> None:
    sign_in(client, alice)

    status, _ = save(
        client,
        alice.page,
        name="Acme <Status>",
        logo_url="https://cdn.acme.example/logo.png",
        accent_color="#FF6600",
    )

    assert status == 303
    home = client.get("/").text
    assert "<bdi>Acme &lt;Status&gt;</bdi>" in home
    assert '<img class="logo" src="https://cdn.acme.example/logo.png" alt="">' in home
    assert 'href="/theme.css?accent=%23FF6600"' in home
    assert client.get("/theme.css").text == ":root { --accent: #FF6600; }\n"
    assert "Settings saved." in client.get(settings_url(alice.page)).text


def test_the_time_zone_changes_the_times_on_the_public_page(
    client: TestClient, session: Session, alice: Persona
) -> None:
    incident_id = reference_outage(session, alice.page)
    sign_in(client, alice)

    save(client, alice.page, time_zone="America/New_York")

    text = client.get(f"/incidents/{incident_id}").text
    assert "Mon, Mar 02, 2026, 10:12 AM" in text
    assert "Times are shown in America/New_York." in client.get("/").text


def test_the_language_switches_the_public_page(
    client: TestClient, session: Session, alice: Persona
) -> None:
    incident_id = reference_outage(session, alice.page)
    sign_in(client, alice)

    save(client, alice.page, language="de")

    home = client.get("/").text
    assert '<html lang="de">' in home
    assert "Alle Systeme betriebsbereit" in home
    assert "Frühere Störungen" in home
    incident = client.get(f"/incidents/{incident_id}").text
    assert "Mo., 2. März 2026, 15:12" in incident
    assert "(45 Minuten früher)" in incident
    assert stored(session, alice.page).language == "de"


def test_the_colour_picker_works_without_javascript(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)

    # The text field is left as shown (empty); only the picker moved.
    save(client, alice.page, accent_picker="#123abc")

    assert stored(session, alice.page).accent_color == "#123abc"


def test_a_custom_domain_serves_the_page(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)

    save(client, alice.page, domain="Status.Acme.Example.", name="Acme Status")

    assert stored(session, alice.page).domain == "status.acme.example"
    served = client.get("/", headers={"host": "status.acme.example"})
    assert "Acme Status" in served.text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "Mars/Olympus_Mons", "Time zone: unknown time zone"),
        ("accent_color", "red; background: url(x)", "Accent colour: enter a colour as #rrggbb"),
        ("logo_url", "javascript:alert(1)", "Logo URL: enter an https:// address"),
        ("logo_url", "http://cdn.acme.example/logo.png", "Logo URL: enter an https:// address"),
        ("url", "https:///no-host", "Public address: the address needs a host name"),
        ("partial_outage_weight", "1.5", "Partial outage weight: enter a number from 0 to 1"),
        ("partial_outage_weight", "-0.1", "Partial outage weight: enter a number from 0 to 1"),
        ("partial_outage_weight", "nan", "Partial outage weight: enter a number from 0 to 1"),
        ("partial_outage_weight", "lots", "Partial outage weight: enter a number from 0 to 1"),
        ("domain", "not a host", "Custom domain: enter a host name"),
        ("language", "tlh", "Language: unknown language"),
        ("name", "   ", "Name: enter a name"),
    ],
)
def test_invalid_values_are_shown_and_nothing_is_saved(
    client: TestClient, session: Session, alice: Persona, field: str, value: str, message: str
) -> None:
    sign_in(client, alice)

    status, html = save(client, alice.page, **({"name": "Renamed"} | {field: value}))

    assert status == 422
    assert message in html
    assert f'value="{value.strip()}"' in html or field in ("time_zone", "language")
    assert stored(session, alice.page).name == alice.page.name
    assert page_updates(session, alice.page) == []


def test_a_domain_of_another_page_is_refused(
    client: TestClient, session: Session, alice: Persona, charlie: Persona
) -> None:
    sign_in(client, alice)

    status, html = save(client, alice.page, name="Renamed", domain="status.other.example")

    assert status == 422
    assert "already used by another page" in html
    assert stored(session, alice.page).domain is None
    assert stored(session, alice.page).name == alice.page.name


def test_saving_unchanged_settings_records_nothing(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)

    status, _ = save(client, alice.page)

    assert status == 303
    assert page_updates(session, alice.page) == []
    assert "Nothing changed." in client.get(settings_url(alice.page)).text


def test_a_change_is_audited_with_only_what_changed(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)

    save(client, alice.page, partial_outage_weight="0,5")

    (event,) = page_updates(session, alice.page)
    assert event.changes == {"partial_outage_weight": 0.5}
    assert event.actor == "alice@example.com"
    assert event.ip == "testclient"


@pytest.mark.parametrize("persona", ["bob", "vera"])
def test_editors_and_viewers_see_the_settings_but_cannot_save_them(
    client: TestClient, session: Session, persona: str, request: pytest.FixtureRequest
) -> None:
    who: Persona = request.getfixturevalue(persona)
    sign_in(client, who)

    html = client.get(settings_url(who.page)).text
    assert f'value="{who.page.name}"' in html
    assert "Save settings" not in html
    assert len(re.findall(r"<fieldset[^>]* disabled>", html)) == 4

    status, _ = save(client, who.page, name="Hijacked")
    assert status == 403
    assert stored(session, who.page).name == who.page.name


def test_another_pages_owner_gets_not_found(
    client: TestClient, session: Session, alice: Persona, charlie: Persona
) -> None:
    sign_in(client, charlie)

    assert client.get(settings_url(alice.page)).status_code == 404
    own = client.get(settings_url(charlie.page)).text
    response = client.post(
        settings_url(alice.page),
        data=VALID | {"name": "Hijacked", "csrf_token": csrf_of(own)},
        follow_redirects=False,
    )
    assert response.status_code == 404
    assert stored(session, alice.page).name == alice.page.name


def test_a_post_without_the_form_token_is_refused(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)

    response = client.post(
        settings_url(alice.page), data=VALID | {"name": "Forged"}, follow_redirects=False
    )

    assert response.status_code == 403
    assert stored(session, alice.page).name == alice.page.name


@pytest.mark.browser
def test_in_a_browser_the_colour_fields_follow_each_other_and_the_save_shows_publicly(
    browser: Browser, live_url: str, session: Session, alice: Persona
) -> None:
    settings_path = settings_url(alice.page)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{live_url}/admin/signin?next={settings_path}")
    tab.get_by_label("Email").fill(alice.user.email)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{live_url}{settings_path}")

    tab.get_by_label("Accent colour", exact=True).fill("#FF6600")
    expect(tab.get_by_label("Pick the accent colour")).to_have_value("#ff6600")
    tab.get_by_label("Language of the public page").select_option("de")
    tab.get_by_role("button", name="Save settings").click()

    expect(tab.locator(".flash")).to_have_text("Settings saved.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / "settings.png"), full_page=True)
    wait_for_snapshot(live_url, session, alice.page)
    tab.goto(f"{live_url}/")
    expect(tab.locator("html")).to_have_attribute("lang", "de")
    expect(tab.get_by_role("link", name="Updates abonnieren")).to_be_visible()
    tab.goto(f"{live_url}/admin/pages/{alice.page.id}/audit")
    expect(tab.locator("td code", has_text="page.update")).to_be_visible()
    tab.screenshot(path=str(SCREENSHOTS / "audit-log.png"), full_page=True)
    assert errors == []
    context.close()
