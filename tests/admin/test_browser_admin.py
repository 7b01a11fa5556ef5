"""An incident run from the admin in a real browser, checked on the public page after each step.

Headless Chromium (Debian's) against `tocsin serve`. Screenshots of the key screens go to
test-artifacts/screenshots/, and the effort to publish a first incident (clicks and
keystrokes) to test-artifacts/admin-effort.txt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.orm import Session

from adminkit import PASSWORD
from conftest import Persona, wait_for_snapshot
from factories import component, group
from tocsin.audit.service import CLI
from tocsin.components.models import Component
from tocsin.incidents import templates
from tocsin.incidents.schemas import TemplateCreate
from tocsin.notify import service as subscribers
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages.models import Page as StatusPage

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SHOTS = ARTIFACTS / "screenshots"

pytestmark = pytest.mark.browser


@dataclass
class Effort:
    """What a person does with mouse and keyboard: one click, one key per character typed."""

    clicks: int = 0
    keys: int = 0

    def click(self, target: Page, selector: str) -> None:
        self.clicks += 1
        target.locator(selector).click()

    def type(self, target: Page, selector: str, text: str) -> None:
        self.keys += len(text)
        target.locator(selector).fill(text)

    def press(self, target: Page, key: str) -> None:
        self.keys += 1
        target.keyboard.press(key)


@dataclass(frozen=True)
class Setup:
    page: StatusPage
    api: Component
    hooks: Component


@pytest.fixture
def setup(session: Session, page: StatusPage) -> Setup:
    """Payments API and Webhooks in a group, a Website, and someone who follows the Website."""
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    group(session, page, "Payments", [api, hooks])
    website = component(session, page, "Website")
    subscribers.create_subscriber(
        session,
        page=page,
        data=SubscriberCreate(
            email="web@example.com", skip_confirmation_notification=True, component_ids=[website.id]
        ),
        actor=CLI,
    )
    session.commit()
    return Setup(page=page, api=api, hooks=hooks)


def _shot(tab: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _context(browser: Browser, errors: list[str], **options: object) -> BrowserContext:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    context.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    context.on("weberror", lambda error: errors.append(str(error.error)))
    context.on("dialog", lambda dialog: dialog.accept())
    return context


def _sign_in(tab: Page, live_url: str, persona: Persona, effort: Effort) -> None:
    tab.goto(f"{live_url}/admin/signin")
    effort.type(tab, "#f-email", persona.user.email)
    effort.press(tab, "Tab")
    effort.type(tab, "#f-password", PASSWORD)
    effort.press(tab, "Enter")
    tab.wait_for_url(re.compile(r".*/admin/pages/\w+$"))


def _visitor_sees(
    browser: Browser, live_url: str, session: Session, setup: Setup, path: str, shot: str = ""
) -> str:
    """What a new visitor reads at `path` (no cache, no cookies), once the server shows
    the latest change; `shot` names a screenshot of it."""
    # End the test's read transaction: on SQLite it would keep seeing the page as it was.
    session.commit()
    wait_for_snapshot(live_url, session, setup.page)
    visitor = browser.new_context()
    tab = visitor.new_page()
    tab.goto(f"{live_url}{path}")
    if shot:
        _shot(tab, shot)
    text = tab.inner_text("body")
    visitor.close()
    return text


def _status_radio(component: Component, status: str) -> str:
    return f'label:has(> input[name="component.{component.id}"][value="{status}"])'


def test_an_editor_runs_an_incident_and_visitors_see_each_step(
    browser: Browser, live_url: str, session: Session, setup: Setup, bob: Persona
) -> None:
    errors: list[str] = []
    context = _context(browser, errors, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    effort = Effort()
    base = f"{live_url}/admin/pages/{setup.page.id}"

    tab.goto(f"{live_url}/admin/signin")
    _shot(tab, "admin-signin")
    _sign_in(tab, live_url, bob, effort)
    _shot(tab, "admin-dashboard")

    effort.click(tab, "text=New incident")
    tab.wait_for_url(f"{base}/incidents/new")
    note = tab.locator("#n-notify")
    expect(note).to_have_text("Would notify 1 subscriber.")
    effort.type(tab, "#f-name", "Card payments failing")
    effort.click(tab, _status_radio(setup.api, "partial_outage"))
    expect(note).to_have_text("Would notify 0 subscribers.")
    # The second component is not part of the minimal first incident being counted.
    tab.locator(_status_radio(setup.hooks, "degraded_performance")).click()
    effort.type(tab, "#f-body", "We are seeing **failed** card payments.")
    expect(tab.locator("#pv-body strong")).to_have_text("failed")
    _shot(tab, "admin-composer")
    effort.click(tab, "button:has-text('Publish incident')")
    tab.wait_for_url(re.compile(r".*/incidents/\w+$"))
    incident_url = tab.url
    incident_id = incident_url.rsplit("/", 1)[1]
    _record_effort(effort)
    expect(tab.locator(".flash")).to_have_text("Incident published.")
    _shot(tab, "admin-incident")

    seen = _visitor_sees(browser, live_url, session, setup, f"/incidents/{incident_id}")
    assert "Card payments failing" in seen
    assert "Payments API — Partial outage" in seen and "Webhooks — Degraded performance" in seen
    assert "We are seeing failed card payments." in seen

    for status, text in (
        ("identified", "A bad deploy of the card gateway; rolling back."),
        ("monitoring", "The rollback is done; error rates are falling."),
    ):
        tab.select_option("#f-status", status)
        tab.fill("#f-body", text)
        tab.click("button:has-text('Post update')")
        expect(tab.locator(".flash")).to_have_text("Update posted.")
        assert text in _visitor_sees(browser, live_url, session, setup, f"/incidents/{incident_id}")

    tab.click("button:has-text('Resolve')")
    expect(tab.locator(".flash")).to_have_text("Resolved.")
    seen = _visitor_sees(browser, live_url, session, setup, f"/incidents/{incident_id}")
    assert "This incident has been resolved." in seen
    assert "All Systems Operational" in _visitor_sees(browser, live_url, session, setup, "/")

    tab.fill("#f-postmortem", "## What happened\n\nA configuration push broke card payments.")
    expect(tab.locator("#pv-postmortem")).to_contain_text("What happened")
    tab.click("button:has-text('Publish write-up')")
    expect(tab.locator(".flash")).to_have_text("Write-up published.")
    seen = _visitor_sees(
        browser, live_url, session, setup, f"/incidents/{incident_id}", "public-incident-after"
    )
    assert "Write-up published" in seen
    writeup = _visitor_sees(browser, live_url, session, setup, f"/incidents/{incident_id}/write-up")
    assert "A configuration push broke card payments." in writeup
    _visitor_sees(browser, live_url, session, setup, "/", "public-home-after")

    refused = tab.request.post(f"{incident_url}/resolve", form={"status": "resolved"})
    assert refused.status == 403

    if tab.request.get(f"{base}/components").ok:
        tab.goto(f"{base}/components")
        _shot(tab, "admin-components")

    tab.set_viewport_size({"width": 360, "height": 740})
    tab.goto(f"{base}/incidents/new")
    assert tab.evaluate("document.scrollingElement.scrollWidth") <= 360
    _shot(tab, "admin-composer-phone")
    tab.goto(incident_url)
    assert tab.evaluate("document.scrollingElement.scrollWidth") <= 360
    context.close()
    assert errors == []


def test_a_viewer_sees_no_composer_and_a_forged_post_is_refused(
    browser: Browser, live_url: str, session: Session, setup: Setup, bob: Persona, vera: Persona
) -> None:
    templates.create_template(
        session,
        page=setup.page,
        data=TemplateCreate(
            name="Webhooks delayed",
            title="Seen by a viewer",
            body="Webhooks are *delayed*.",
            component_ids=[setup.hooks.id],
        ),
        actor=CLI,
    )
    session.commit()
    errors: list[str] = []
    context = _context(browser, errors)
    tab = context.new_page()
    _sign_in(tab, live_url, bob, Effort())
    base = f"{live_url}/admin/pages/{setup.page.id}"
    tab.goto(f"{base}/incidents/new")
    # The template fills the composer in place; the Apply button is for pages without script.
    expect(tab.locator("[data-fill-apply]")).to_be_hidden()
    tab.select_option("#f-template", label="Webhooks delayed")
    expect(tab.locator("#f-name")).to_have_value("Seen by a viewer")
    expect(tab.locator("#pv-body em")).to_have_text("delayed")
    assert tab.locator(_status_radio(setup.hooks, "operational") + " input").is_checked()
    expect(tab.locator("#n-notify")).to_have_text("Would notify 0 subscribers.")
    tab.click("button:has-text('Publish incident')")
    tab.wait_for_url(re.compile(r".*/incidents/\w+$"))
    incident_url = tab.url
    context.clear_cookies()

    _sign_in(tab, live_url, vera, Effort())
    assert tab.locator("text=New incident").count() == 0
    tab.goto(incident_url)
    assert "Seen by a viewer" in tab.inner_text("h1")
    assert tab.locator("textarea, select, input[type=radio]").count() == 0
    assert tab.locator("text=Post an update").count() == 0
    _shot(tab, "admin-incident-viewer")
    token = tab.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    forged = tab.request.post(
        f"{incident_url}/updates",
        form={"csrf_token": token, "status": "resolved", "body": "Not allowed"},
    )
    assert forged.status == 403
    assert tab.request.get(f"{base}/incidents/new").status == 403
    tab.reload()
    assert "Not allowed" not in tab.inner_text("body")
    context.close()
    assert errors == []


def _record_effort(effort: Effort) -> None:
    lines = (
        "Publishing a first incident in the admin, counted by the browser test:",
        "sign in (email, Tab, password, Enter) → New incident → title → one component's",
        "status → message → Publish incident.",
        f"clicks: {effort.clicks}",
        f"keystrokes: {effort.keys} (characters typed plus Tab and Enter)",
        "Each further component is one more click; the status select defaults to Investigating.",
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "admin-effort.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
