"""The components board in a real browser: one click, drag and drop, and a phone screen."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from adminkit import PASSWORD
from conftest import Persona, wait_for_snapshot
from factories import component, group
from tocsin.pages.models import Page as StatusPage

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def _sign_in(tab: Page, live_url: str, persona: Persona, then: str) -> None:
    tab.goto(f"{live_url}/admin/signin?next={then}")
    tab.get_by_label("Email").fill(persona.user.email)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{live_url}{then}")


def _board_order(tab: Page) -> list[str]:
    ids: list[str] = tab.locator(".board > li[data-id]").evaluate_all(
        "rows => rows.map(row => row.dataset.id)"
    )
    return ids


def test_an_admin_sets_a_status_and_drags_a_row_and_the_public_page_follows(
    browser: Browser, live_url: str, session: Session, page: StatusPage, alice: Persona
) -> None:
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    cdn = component(session, page, "CDN")
    group(session, page, "Edge", [component(session, page, "DNS"), component(session, page, "TLS")])
    session.commit()
    board_path = f"/admin/pages/{page.id}/components"
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(tab, live_url, alice, board_path)

    row = tab.locator(f"#c-{api.id}")
    row.get_by_role("button", name="Major outage").click()

    expect(tab.locator(".flash")).to_have_text("Payments API: Operational → Major outage.")
    expect(row.get_by_role("button", name="Major outage")).to_have_attribute("aria-pressed", "true")
    wait_for_snapshot(live_url, session, page)
    public = httpx.get(f"{live_url}/api/v2/components.json").json()["components"]
    assert {c["name"]: c["status"] for c in public}["Payments API"] == "major_outage"

    tab.locator(f"#c-{cdn.id}").drag_to(
        row, source_position={"x": 8, "y": 8}, target_position={"x": 40, "y": 4}
    )

    expect(tab.locator(".flash")).to_have_text("Saved the new order.")
    tab.reload()
    assert _board_order(tab)[:3] == [cdn.id, api.id, hooks.id]
    wait_for_snapshot(live_url, session, page)
    home = httpx.get(live_url).text
    assert home.index("<bdi>CDN</bdi>") < home.index("<bdi>Payments API</bdi>")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / "components-board.png"), full_page=True)

    tab.set_viewport_size({"width": 360, "height": 740})
    assert tab.evaluate("document.documentElement.scrollWidth") <= 360
    tab.screenshot(path=str(SCREENSHOTS / "components-board-phone.png"), full_page=True)
    context.close()
    assert errors == []
