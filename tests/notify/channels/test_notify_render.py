"""The wording every channel shares (tocsin.notify.render)."""

from __future__ import annotations

import pytest
from channel_receivers import incident, outgoing, page, payload, update

from tocsin.notify import render
from tocsin.notify.base import NotifyError
from tocsin.notify.models import NotificationKind as Kind


def subject(kind: Kind, **parts: object) -> str:
    return render.compose(outgoing(kind=kind, data=payload(**parts))).subject


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (Kind.INCIDENT_CREATED, "investigating", "Investigating"),
        (Kind.INCIDENT_UPDATED, "identified", "Identified"),
        (Kind.INCIDENT_RESOLVED, "resolved", "Resolved"),
        (Kind.WRITEUP_PUBLISHED, "postmortem", "Write-up published"),
        (Kind.MAINTENANCE_SCHEDULED, "scheduled", "Scheduled maintenance"),
        (Kind.MAINTENANCE_STARTED, "in_progress", "Maintenance in progress"),
        (Kind.MAINTENANCE_UPDATED, "verifying", "Verifying"),
        (Kind.MAINTENANCE_COMPLETED, "completed", "Maintenance completed"),
        (Kind.MAINTENANCE_REMINDER, "scheduled", "Upcoming maintenance"),
    ],
)
def test_the_subject_names_the_page_and_what_happened(
    kind: Kind, status: str, expected: str
) -> None:
    parts = {"incident": incident(name="Payments API down"), "update": update(status=status)}
    assert subject(kind, **parts) == f"[Acme Cloud] {expected}: Payments API down"


def test_the_confirmation_subject() -> None:
    message = outgoing(kind=Kind.CONFIRM_SUBSCRIPTION, data={"page": page()})
    assert render.compose(message).subject == "[Acme Cloud] Confirm your subscription"


def test_the_subject_is_one_line_without_controls_and_clipped() -> None:
    name = "Down\r\nBcc: x@evil.test\u202e\x00" + "z" * 300
    text = subject(Kind.INCIDENT_CREATED, incident=incident(name=name))
    assert "\r" not in text and "\n" not in text and "\u202e" not in text and "\x00" not in text
    assert text.startswith("[Acme Cloud] Investigating: Down Bcc: x@evil.test")
    assert len(text) == render.SUBJECT_MAX
    assert text.endswith("…")


@pytest.mark.parametrize(
    ("colour", "expected"),
    [("#12ab9F", "#12ab9F"), ("#abc", "#abc"), ("red", render.DEFAULT_ACCENT),
     ("#123456;background:url(x)", render.DEFAULT_ACCENT), (None, render.DEFAULT_ACCENT)],
)  # fmt: skip
def test_only_hex_accent_colours_are_used(colour: str | None, expected: str) -> None:
    assert render.brand(render.PageSnapshot(**page(accent_color=colour))).accent == expected


@pytest.mark.parametrize(
    ("logo", "kept"),
    [("https://cdn.acme.test/l.png", True), ("http://cdn.acme.test/l.png", False),
     ("javascript:alert(1)", False), ("/logo.png", False), (None, False)],
)  # fmt: skip
def test_only_https_logos_are_used(logo: str | None, kept: bool) -> None:
    branding = render.brand(render.PageSnapshot(**page(logo_url=logo)))
    assert branding.logo_url == (logo if kept else None)


def test_times_are_in_the_pages_zone() -> None:
    composed = render.compose(outgoing(data=payload(page=page(time_zone="America/New_York"))))
    assert composed.posted == "Tue, Feb 10, 2026, 01:43 PM EST"


def test_an_unknown_zone_falls_back_to_utc() -> None:
    composed = render.compose(outgoing(data=payload(page=page(time_zone="Mars/Olympus"))))
    assert composed.posted == "Tue, Feb 10, 2026, 06:43 PM UTC"


def test_maintenance_shows_its_window_and_the_reminder_when_it_starts() -> None:
    data = payload(
        incident=incident(
            kind="maintenance",
            status="scheduled",
            scheduled_for="2026-03-01T02:00:00+00:00",
            scheduled_until="2026-03-01T04:00:00+00:00",
        ),
        update=None,
    )
    composed = render.compose(outgoing(kind=Kind.MAINTENANCE_REMINDER, data=data))
    assert composed.window == ("Sun, Mar 01, 2026, 03:00 AM CET to Sun, Mar 01, 2026, 05:00 AM CET")
    assert composed.lead == "This maintenance starts Sun, Mar 01, 2026, 03:00 AM CET."
    assert "Scheduled: Sun, Mar 01, 2026, 03:00 AM CET" in render.email_text(composed)


def test_without_changes_the_incidents_components_are_listed() -> None:
    composed = render.compose(outgoing(data=payload(update=update(affected_components=None))))
    assert [(c.name, c.transition) for c in composed.changes] == [
        ("API - Payments", "Major outage")
    ]


def test_markdown_becomes_readable_plain_text() -> None:
    text = render.plain_text(
        "# Title\n\nSome **bold** and [a link](https://acme.test/x).\n\n"
        "1. first\n2. second\n\n```\ncode  block\n```\n\n<b>raw</b>"
    )
    assert text == (
        "Title\n\nSome bold and a link (https://acme.test/x).\n\n- first\n- second\n\n"
        "code  block\n\n<b>raw</b>"
    )


def test_a_bare_link_is_not_repeated() -> None:
    assert render.plain_text("See https://acme.test/x") == "See https://acme.test/x"


def test_the_html_part_is_escaped_and_sanitised() -> None:
    data = payload(page=page(name="<i>Acme</i>"))
    data["update"] = update(body="<img src=x onerror=alert(1)> **ok**")
    html = render.email_html(render.compose(outgoing(data=data)))
    assert "<img src=x" not in html
    assert "&lt;i&gt;Acme&lt;/i&gt;" in html
    assert "<strong>ok</strong>" in html


def test_escape_markdown_leaves_urls_alone() -> None:
    assert render.escape_markdown("*hi* [x](https://a.test/p_q) `c`") == (
        "\\*hi\\* \\[x\\]\\(https://a.test/p_q\\) \\`c\\`"
    )


def test_an_unreadable_payload_is_a_temporary_error() -> None:
    with pytest.raises(NotifyError) as caught:
        render.compose(outgoing(data={"page": {"name": "no id"}}))
    assert not caught.value.permanent


def test_a_page_without_its_own_url_still_renders() -> None:
    from tocsin.notify.render import PageSnapshot, brand

    page = PageSnapshot.model_validate({"id": "p1", "name": "Acme", "url": None})
    assert brand(page).url == ""
