from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest

from tocsin.components.status import ComponentStatus, Indicator
from tocsin.incidents.status import Impact, IncidentKind, IncidentStatus
from tocsin.pages.render import Renderer
from tocsin.pages.view import (
    AffectedComponent,
    ComponentView,
    DayBar,
    IncidentView,
    PageState,
    PageView,
    UpdateView,
    WriteupView,
)

OPERATIONAL = ComponentStatus.OPERATIONAL
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)

# incident-page.md's example, as a reader sees it, blank lines dropped. The
# backticks around payments-edge are Markdown source: on the page they become
# a <code> element, which reads without them.
EXAMPLE = """\
Acme Cloud
Payments API returning errors
Affected components
Payments API — Partial outage
Webhooks — Degraded performance
Updates
Write-up published
Read our write-up at https://acme.example/blog/payments-postmortem
Thu, Mar 05, 2026, 10:02 AM
Resolved
Error rates are back to normal. We will publish a write-up.
Mon, Mar 02, 2026, 04:40 PM(2 days earlier)
Monitoring
A fix has been deployed; we are watching error rates.
Mon, Mar 02, 2026, 04:35 PM
Identified
A bad configuration push to payments-edge is the cause. Rolling back.
Mon, Mar 02, 2026, 03:50 PM(45 minutes earlier)
Investigating
We are seeing elevated error rates on the Payments API.
Mon, Mar 02, 2026, 03:12 PM(38 minutes earlier)"""

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "details", "div", "dl", "dt", "dd",
        "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
        "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
    }
)  # fmt: skip


class _TextLines(HTMLParser):
    """Roughly a browser's innerText for the header and main landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.depth += tag in ("header", "main")
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag in ("header", "main")
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(re.sub(r"\s+", " ", data))


def text_lines(html: bytes) -> list[str]:
    parser = _TextLines()
    parser.feed(html.decode("utf-8"))
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    return [line for line in lines if line]


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


EXAMPLE_START = at(2, 15, 12)


def page(**overrides: object) -> PageView:
    values: dict[str, object] = {
        "id": "page1",
        "name": "Acme Cloud",
        "url": "https://status.acme.example",
        "time_zone": "UTC",
        "logo_url": None,
        "accent_color": None,
        "partial_outage_weight": 0.3,
        "updated_at": NOW,
    }
    return PageView(**(values | overrides))  # type: ignore[arg-type]


def update(status: IncidentStatus, body: str, display_at: datetime, uid: str = "u") -> UpdateView:
    return UpdateView(
        id=f"{uid}-{status}",
        status=status,
        body=body,
        display_at=display_at,
        created_at=display_at,
        updated_at=display_at,
        deliver_notifications=True,
        changes=(),
    )


def incident(
    iid: str = "inc1",
    name: str = "Payments API returning errors",
    *,
    updates: tuple[UpdateView, ...] = (),
    kind: IncidentKind = IncidentKind.INCIDENT,
    status: IncidentStatus = IncidentStatus.RESOLVED,
    started_at: datetime = EXAMPLE_START,
    **overrides: object,
) -> IncidentView:
    updates = updates or (update(status, "Done.", started_at, iid),)
    values: dict[str, object] = {
        "id": iid,
        "kind": kind,
        "name": name,
        "status": status,
        "impact": Impact.MAJOR,
        "backfilled": False,
        "created_at": started_at,
        "updated_at": updates[0].display_at,
        "started_at": started_at,
        "monitoring_at": None,
        "resolved_at": None if status is not IncidentStatus.RESOLVED else updates[0].display_at,
        "scheduled_for": None,
        "scheduled_until": None,
        "updates": updates,
        "affected": (),
        "component_ids": (),
        "writeup": None,
    }
    return IncidentView(**(values | overrides))  # type: ignore[arg-type]


def example_incident() -> IncidentView:
    return incident(
        updates=(
            update(
                IncidentStatus.RESOLVED,
                "Error rates are back to normal. We will publish a write-up.",
                at(2, 16, 40),
            ),
            update(
                IncidentStatus.MONITORING,
                "A fix has been deployed; we are watching error rates.",
                at(2, 16, 35),
            ),
            update(
                IncidentStatus.IDENTIFIED,
                "A bad configuration push to `payments-edge` is the cause. Rolling back.",
                at(2, 15, 50),
            ),
            update(
                IncidentStatus.INVESTIGATING,
                "We are seeing elevated error rates on the Payments API.",
                at(2, 15, 12),
            ),
        ),
        affected=(
            AffectedComponent("c1", "Payments API", None, ComponentStatus.PARTIAL_OUTAGE),
            AffectedComponent("c2", "Webhooks", None, ComponentStatus.DEGRADED_PERFORMANCE),
        ),
        writeup=WriteupView(
            url="https://acme.example/blog/payments-postmortem",
            body=None,
            published_at=at(5, 10, 2),
        ),
    )


def component(
    cid: str = "c1",
    name: str = "Payments API",
    status: ComponentStatus = OPERATIONAL,
    **overrides: object,
) -> ComponentView:
    values: dict[str, object] = {
        "id": cid,
        "name": name,
        "description": None,
        "status": status,
        "position": 0,
        "is_group": False,
        "group_id": None,
        "showcase": False,
        "only_show_if_degraded": False,
        "start_date": None,
        "created_at": at(1, 0, month=1),
        "updated_at": at(1, 0, month=1),
    }
    return ComponentView(**(values | overrides))  # type: ignore[arg-type]


def state(
    *,
    incidents: tuple[IncidentView, ...] = (),
    maintenances: tuple[IncidentView, ...] = (),
    components: tuple[ComponentView, ...] = (),
    indicator: Indicator = Indicator.NONE,
    description: str = "All Systems Operational",
    **page_overrides: object,
) -> PageState:
    return PageState(
        page=page(**page_overrides),
        generated_at=NOW,
        components=components,
        indicator=indicator,
        description=description,
        incidents=incidents,
        maintenances=maintenances,
        by_id={i.id: i for i in (*incidents, *maintenances)},
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def test_it_renders_the_incident_page_like_the_spec_example(renderer: Renderer) -> None:
    html = renderer.incident(state(incidents=(example_incident(),)), "inc1")

    assert html is not None
    assert text_lines(html) == EXAMPLE.splitlines()
    assert b"<code>payments-edge</code>" in html


def test_it_marks_up_update_times_as_machine_readable(renderer: Renderer) -> None:
    html = renderer.incident(state(incidents=(example_incident(),)), "inc1")

    assert html is not None
    assert b'<time datetime="2026-03-02T16:40:00+00:00">Mon, Mar 02, 2026, 04:40 PM</time>' in html


def test_it_writes_update_times_in_the_page_time_zone(renderer: Renderer) -> None:
    berlin = state(incidents=(example_incident(),), time_zone="Europe/Berlin")

    html = renderer.incident(berlin, "inc1")

    assert html is not None
    assert "Mon, Mar 02, 2026, 05:40 PM(2 days earlier)" in text_lines(html)


def test_it_links_a_markdown_write_up_and_renders_it(renderer: Renderer) -> None:
    writeup = WriteupView(url=None, body="# What happened\n\nA bad push.", published_at=at(5, 10))
    s = state(incidents=(replace(example_incident(), writeup=writeup),))

    html = renderer.incident(s, "inc1")
    page_html = renderer.writeup(s, "inc1")

    assert html is not None
    lines = text_lines(html)
    assert lines[lines.index("Updates") + 1 : lines.index("Updates") + 4] == [
        "Write-up published",
        "Read our write-up",
        "Thu, Mar 05, 2026, 10:00 AM",
    ]
    assert b'<a href="/incidents/inc1/write-up">' in html
    assert page_html is not None
    assert b"<h2>What happened</h2>" in page_html
    assert "Write-up: Payments API returning errors" in text_lines(page_html)


def test_it_has_no_write_up_page_without_a_markdown_write_up(renderer: Renderer) -> None:
    s = state(incidents=(example_incident(), incident("inc2")))

    assert renderer.writeup(s, "inc1") is None
    assert renderer.writeup(s, "inc2") is None
    assert renderer.writeup(s, "nope") is None


def test_it_does_not_link_an_unsafe_write_up_url(renderer: Renderer) -> None:
    writeup = WriteupView(url="javascript:alert(1)", body=None, published_at=at(5, 10))
    s = state(incidents=(replace(example_incident(), writeup=writeup),))

    html = renderer.incident(s, "inc1")

    assert html is not None
    assert b"javascript:" not in html


def test_it_returns_none_for_an_unknown_incident(renderer: Renderer) -> None:
    assert renderer.incident(state(incidents=(example_incident(),)), "nope") is None


def test_it_shows_the_group_of_affected_components(renderer: Renderer) -> None:
    affected = (AffectedComponent("c1", "Checkout", "Payments", ComponentStatus.MAJOR_OUTAGE),)
    s = state(incidents=(incident(affected=affected),))

    html = renderer.incident(s, "inc1")

    assert html is not None
    lines = text_lines(html)
    assert lines[lines.index("Payments") + 1] == "Checkout — Major outage"


def maintenance(status: IncidentStatus = IncidentStatus.SCHEDULED) -> IncidentView:
    return incident(
        "m1",
        "Database upgrade",
        kind=IncidentKind.MAINTENANCE,
        status=status,
        impact=Impact.MAINTENANCE,
        started_at=at(1, 9),
        scheduled_for=at(7, 22),
        scheduled_until=at(8, 1, 30),
        updates=(update(status, "We will upgrade the database.", at(1, 9), "m1"),),
        affected=(AffectedComponent("c9", "Database", None, ComponentStatus.UNDER_MAINTENANCE),),
    )


def test_it_renders_a_maintenance_page_with_its_window(renderer: Renderer) -> None:
    html = renderer.incident(state(maintenances=(maintenance(),)), "m1")

    assert html is not None
    lines = text_lines(html)
    assert "Scheduled for Sat, Mar 07, 2026, 10:00 PM – Sun, Mar 08, 2026, 01:30 AM" in lines
    assert "Database — Under maintenance" in lines
    assert "Scheduled" in lines


@pytest.mark.parametrize(
    ("indicator", "description"),
    [
        (Indicator.NONE, "All Systems Operational"),
        (Indicator.MINOR, "Partially Degraded Service"),
        (Indicator.MAJOR, "Partial System Outage"),
        (Indicator.CRITICAL, "Major System Outage"),
        (Indicator.MAINTENANCE, "Service Under Maintenance"),
    ],
)
def test_it_shows_the_overall_status_banner(
    renderer: Renderer, indicator: Indicator, description: str
) -> None:
    html = renderer.home(state(indicator=indicator, description=description))

    assert f'class="banner indicator-{indicator}"'.encode() in html
    assert description in text_lines(html)


def test_it_shows_unresolved_incidents_with_their_latest_update(renderer: Renderer) -> None:
    ongoing = incident(
        "inc9",
        "Login is slow",
        status=IncidentStatus.IDENTIFIED,
        started_at=at(5, 9),
        updates=(
            update(IncidentStatus.IDENTIFIED, "Cache node replaced.", at(5, 10)),
            update(IncidentStatus.INVESTIGATING, "Looking into it.", at(5, 9)),
        ),
    )

    lines = text_lines(renderer.home(state(incidents=(ongoing,))))

    active = lines[lines.index("Active incidents") :]
    assert active[1:5] == [
        "Login is slow",
        "Identified",
        "Cache node replaced.",
        "Thu, Mar 05, 2026, 10:00 AM",
    ]


def test_it_shows_upcoming_and_in_progress_maintenance(renderer: Renderer) -> None:
    upcoming = maintenance()
    running = replace(maintenance(IncidentStatus.IN_PROGRESS), id="m2", name="Network work")

    lines = text_lines(renderer.home(state(maintenances=(upcoming, running))))

    assert lines[lines.index("Upcoming maintenance") + 1] == "Database upgrade Maintenance"
    assert lines[lines.index("Maintenance in progress") + 1] == "Network work Maintenance"
    assert "Scheduled for Sat, Mar 07, 2026, 10:00 PM – Sun, Mar 08, 2026, 01:30 AM" in lines


def test_it_hides_components_that_only_show_when_degraded(renderer: Renderer) -> None:
    quiet = component("c1", "Search", only_show_if_degraded=True)
    loud = component("c2", "Billing", ComponentStatus.PARTIAL_OUTAGE, only_show_if_degraded=True)
    hidden_group = component(
        "g1",
        "Internal",
        is_group=True,
        children=(component("c3", "Queue", group_id="g1", only_show_if_degraded=True),),
    )

    lines = text_lines(renderer.home(state(components=(quiet, loud, hidden_group))))

    assert "Search" not in " ".join(lines)
    assert "Internal" not in " ".join(lines)
    assert "Billing Partial outage" in lines


def test_it_shows_groups_as_open_details_with_their_members(renderer: Renderer) -> None:
    group = component(
        "g1",
        "Payments",
        ComponentStatus.DEGRADED_PERFORMANCE,
        is_group=True,
        children=(
            component("c1", "Checkout", ComponentStatus.DEGRADED_PERFORMANCE, group_id="g1"),
            component("c2", "Refunds", group_id="g1"),
        ),
    )

    html = renderer.home(state(components=(group,)))

    assert b'<details class="group" open>' in html
    lines = text_lines(html)
    assert lines.index("Payments Degraded performance") < lines.index(
        "Checkout Degraded performance"
    )
    assert "Refunds Operational" in lines


def day_bars() -> tuple[DayBar, ...]:
    first = date(2026, 3, 5) - timedelta(days=89)
    bars = [DayBar(first + timedelta(days=i), None, None, 0.0) for i in range(10)]
    bars += [DayBar(first + timedelta(days=i), OPERATIONAL, 1.0, 0.0) for i in range(10, 90)]
    bars[-25] = DayBar(date(2026, 2, 10), ComponentStatus.PARTIAL_OUTAGE, 0.991, 777.6)
    return tuple(bars)


def test_it_shows_ninety_day_bars_with_text_alternatives(renderer: Renderer) -> None:
    shown = component(showcase=True, bars=day_bars(), uptime_percent=99.9583)

    html = renderer.home(state(components=(shown,))).decode()

    assert html.count('<li class="bar ') == 90
    assert (
        '<li class="bar bar-partial_outage" title="Feb 10, 2026: Partial outage, 99.1%">'
        '<span class="visually-hidden">Feb 10, 2026: Partial outage, 99.1%</span></li>'
    ) in html
    assert 'title="Dec 06, 2025: No data"' in html
    assert 'class="bar bar-none"' in html
    assert 'title="Mar 05, 2026: Operational, 100%"' in html
    assert "99.95 % uptime" in html


def test_it_shows_no_bars_for_components_without_showcase(renderer: Renderer) -> None:
    html = renderer.home(state(components=(component(bars=day_bars(), uptime_percent=99.0),)))

    assert b'class="bar ' not in html
    assert b"uptime" not in html


def test_it_lists_fourteen_days_of_past_incidents(renderer: Renderer) -> None:
    # 23:30 UTC on Mar 3 is already Mar 4 in Berlin.
    late = incident(started_at=at(3, 23, 30), name="Late night blip")
    s = state(incidents=(late,), time_zone="Europe/Berlin")

    lines = text_lines(renderer.home(s))

    past = lines[lines.index("Past incidents") + 1 :]
    assert past[0] == "Mar 05, 2026"
    assert past.count("No incidents reported.") == 13
    day = past.index("Mar 04, 2026")
    assert past[day + 1] == "Late night blip"
    assert "Feb 20, 2026" in past
    assert "Feb 19, 2026" not in past
    assert past[-1] == "Incident history"


def test_it_paginates_the_history_and_stops_at_the_end(renderer: Renderer) -> None:
    many = tuple(
        incident(f"inc{i}", f"Incident {i}", started_at=NOW - timedelta(days=3 * i))
        for i in range(45)
    )
    s = state(incidents=many)

    first, last = renderer.history(s, 1), renderer.history(s, 3)

    assert first is not None
    assert last is not None
    assert b'href="/history?page=2" rel="next"' in first
    assert b'rel="prev"' not in first
    assert b'href="/history?page=2" rel="prev"' in last
    assert text_lines(first)[1:4] == ["Incident history", "March 2026", "Incident 0"]
    assert "Incident 44" in text_lines(last)
    assert renderer.history(s, 4) is None
    assert renderer.history(s, 0) is None


def test_it_has_a_first_history_page_even_without_incidents(renderer: Renderer) -> None:
    html = renderer.history(state(), 1)

    assert html is not None
    assert "No incidents reported." in text_lines(html)
    assert renderer.history(state(), 2) is None


def test_it_lists_maintenance_in_the_history(renderer: Renderer) -> None:
    done = replace(maintenance(IncidentStatus.COMPLETED), scheduled_for=at(1, 22))

    html = renderer.history(state(maintenances=(done,)), 1)

    assert html is not None
    assert "Database upgrade Maintenance" in text_lines(html)


XSS = "<img src=x onerror=alert(1)><script>alert(1)</script>"


def test_it_escapes_user_text_everywhere(renderer: Renderer) -> None:
    evil = incident(
        name=XSS,
        status=IncidentStatus.INVESTIGATING,
        updates=(update(IncidentStatus.INVESTIGATING, XSS, at(5, 9)),),
        affected=(AffectedComponent("c1", XSS, XSS, ComponentStatus.MAJOR_OUTAGE),),
        writeup=WriteupView(url=None, body=XSS, published_at=at(5, 10)),
    )
    s = replace(
        state(incidents=(evil,), name=XSS, description=XSS),
        components=(component(name=XSS, description=XSS),),
    )

    pages = [
        renderer.home(s),
        renderer.incident(s, "inc1"),
        renderer.writeup(s, "inc1"),
        renderer.history(s, 1),
    ]

    for html in pages:
        assert html is not None
        assert b"<script" not in html
        assert b"<img" not in html
        assert b"&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(
    ("accent", "css"),
    [
        ("#1a2B3c", b":root { --accent: #1a2B3c; }\n"),
        ("#fff", b":root { --accent: #fff; }\n"),
        ('#fff" onmouseover="alert(1)', b""),
        ("red; background: url(https://evil.example)", b""),
        (None, b""),
    ],
)
def test_it_applies_only_a_valid_accent_colour(
    renderer: Renderer, accent: str | None, css: bytes
) -> None:
    home = renderer.home(state(accent_color=accent))
    assert renderer.theme(state(accent_color=accent)) == css
    assert (b'href="/theme.css' in home) is bool(css)
    assert b"style=" not in home


@pytest.mark.parametrize(
    ("logo", "shown"),
    [
        ("https://acme.example/logo.png", True),
        ("/static/logo.png", True),
        ("javascript:alert(1)", False),
        ("//evil.example/logo.png", False),
    ],
)
def test_it_shows_only_a_web_logo(renderer: Renderer, logo: str, shown: bool) -> None:
    html = renderer.home(state(logo_url=logo))

    assert (f'<img class="logo" src="{logo}" alt="">'.encode() in html) is shown
    assert b'<a class="brand" href="/">' in html


def test_every_page_is_a_complete_script_free_document(renderer: Renderer) -> None:
    s = state(incidents=(example_incident(),), maintenances=(maintenance(),))
    s = replace(
        s,
        incidents=(
            replace(
                example_incident(),
                writeup=WriteupView(url=None, body="Post-mortem", published_at=at(5, 10)),
            ),
        ),
    )
    s = replace(s, by_id={i.id: i for i in (*s.incidents, *s.maintenances)})

    pages = [
        renderer.home(s),
        renderer.incident(s, "inc1"),
        renderer.incident(s, "m1"),
        renderer.writeup(s, "inc1"),
        renderer.history(s, 1),
    ]

    for html in pages:
        assert html is not None
        text = html.decode("utf-8")
        assert text.startswith('<!doctype html>\n<html lang="en"')
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
        assert '<link rel="stylesheet" href="/static/tocsin.css">' in text
        assert 'href="/history"' in text
        assert '<link rel="alternate" type="application/rss+xml"' in text
        assert '<link rel="alternate" type="application/atom+xml"' in text
        for feed in ("/history.rss", "/history.atom", "/maintenance.ics"):
            assert f'href="{feed}"' in text
        assert "<script" not in text
        assert not re.search(r"\son\w+=", text)
        assert len(re.findall(r"<h1[ >]", text)) == 1


def test_it_renders_an_error_page_without_page_state(renderer: Renderer) -> None:
    html = renderer.error(404, "incident <b>nope</b> not found")

    assert html.startswith(b"<!doctype html>")
    lines = text_lines(html)
    assert lines == [
        "Status",
        "Not Found",
        "incident <b>nope</b> not found",
        "Back to the status page",
    ]
    assert b"&lt;b&gt;" in html


def test_it_names_unknown_error_statuses_plainly(renderer: Renderer) -> None:
    assert b"<h1>Error</h1>" in renderer.error(599, "odd")
