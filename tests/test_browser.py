"""The public pages in a real browser: Debian's headless Chromium, driven by Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy.orm import Session

from conftest import wait_for_snapshot
from factories import reference_outage
from tocsin.pages.models import Page as StatusPage

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = pytest.mark.browser


def _open(browser: Browser, url: str, **options: object) -> tuple[Page, list[str]]:
    context = browser.new_context(**options)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = page.goto(url)
    assert response is not None and response.ok
    return page, errors


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _luminance(css_color: str) -> float:
    parts = css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")
    red, green, blue = (float(p) / 255 for p in parts[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_the_incident_page_reads_line_by_line_in_a_browser(
    browser: Browser, live_url: str, session: Session, page: StatusPage
) -> None:
    incident_id = reference_outage(session, page)
    wait_for_snapshot(live_url, session, page)
    tab, errors = _open(browser, f"{live_url}/incidents/{incident_id}", java_script_enabled=False)
    text = tab.inner_text("body")
    for line in (
        "Payments API returning errors",
        "Write-up published",
        "Read our write-up at https://acme.example/blog/payments-postmortem",
        "Thu, Mar 05, 2026, 10:02 AM",
    ):
        assert line in text
    assert text.index("Resolved") < text.index("Monitoring") < text.index("Identified")
    assert "04:40 PM" in text and "(2 days earlier)" in text
    assert "04:35 PM(" not in text.replace(" (", "(")
    _shot(tab, "incident-page")
    assert errors == []


def test_the_home_page_has_light_and_dark_themes(
    browser: Browser, live_url: str, session: Session, page: StatusPage
) -> None:
    reference_outage(session, page)
    wait_for_snapshot(live_url, session, page)
    backgrounds = {}
    for scheme in ("light", "dark"):
        tab, errors = _open(browser, live_url, color_scheme=scheme)
        backgrounds[scheme] = _luminance(
            tab.evaluate("getComputedStyle(document.body).backgroundColor")
        )
        _shot(tab, f"home-{scheme}")
        assert errors == []
        assert "All Systems Operational" in tab.inner_text("body")
    assert backgrounds["light"] > 0.8
    assert backgrounds["dark"] < 0.2


def test_the_home_page_fits_a_phone_and_groups_fold_without_javascript(
    browser: Browser, live_url: str, session: Session, page: StatusPage
) -> None:
    reference_outage(session, page)
    wait_for_snapshot(live_url, session, page)
    tab, _ = _open(
        browser,
        live_url,
        viewport={"width": 360, "height": 740},
        java_script_enabled=False,
        is_mobile=True,
    )
    assert tab.evaluate("document.documentElement.scrollWidth") <= 360
    group = tab.locator("details").first
    was_open = group.evaluate("el => el.open")
    group.locator("summary").click()
    assert group.evaluate("el => el.open") is not was_open
    _shot(tab, "home-phone")


def test_the_api_docs_render_offline_under_the_content_security_policy(
    browser: Browser, live_url: str
) -> None:
    tab, errors = _open(browser, f"{live_url}/api/docs")
    tab.wait_for_selector(".opblock", timeout=15_000)
    assert tab.locator(".opblock").count() > 5
    _shot(tab, "api-docs")
    assert errors == []
