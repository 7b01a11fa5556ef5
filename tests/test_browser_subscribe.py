"""The subscribe form in a real browser, without JavaScript, under the page's CSP."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import component
from tocsin.notify.models import Subscriber
from tocsin.pages.models import Page

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.browser


def test_a_visitor_subscribes_from_the_home_page(
    browser: Browser, live_url: str, session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    component(session, page, "Dashboard")
    session.commit()
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.goto(live_url)

    tab.get_by_role("link", name="Subscribe to updates").click()
    tab.get_by_label("Email address").fill("ann@example.com")
    tab.get_by_label("Payments API").check()
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "subscribe-form.png"), full_page=True)
    tab.get_by_role("button", name="Subscribe").click()

    assert tab.get_by_role("heading", level=1).inner_text() == "Check your email"
    tab.screenshot(path=str(ARTIFACTS / "subscribe-sent.png"), full_page=True)
    context.close()
    assert errors == []
    ann = session.scalars(select(Subscriber).where(Subscriber.email == "ann@example.com")).one()
    assert [c.component_id for c in ann.components] == [api.id]
    assert ann.confirmed_at is None
