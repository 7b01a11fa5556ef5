from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import component
from tocsin.audit.service import CLI
from tocsin.components.models import Component
from tocsin.db import utcnow
from tocsin.monitors import service as monitors
from tocsin.monitors.models import MonitorRollup, RollupPeriod
from tocsin.monitors.schemas import MonitorCreate
from tocsin.pages import service as pages
from tocsin.pages import sparkline
from tocsin.pages.models import Page
from tocsin.pages.view import ResponseTimes


def checked(session: Session, page: Page, row: Component, latencies: list[float | None]) -> None:
    """A monitor of `row` with one hourly rollup per latency, the last one for the last hour;
    the page is touched so that its snapshot is rebuilt."""
    now = utcnow()
    data = MonitorCreate(
        name=f"{row.name} health",
        kind="http",  # type: ignore[arg-type]
        target="https://api.example.com/health",
        component_ids=[row.id],
    )
    monitor = monitors.create_monitor(
        session, page=page, data=data, actor=CLI, allow_private=True, now=now - timedelta(days=2)
    )
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=len(latencies))
    for index, latency in enumerate(latencies):
        session.add(
            MonitorRollup(
                monitor_id=monitor.id,
                period=RollupPeriod.HOUR,
                start=hour + timedelta(hours=index),
                checks=60 if latency is not None else 0,
                failures=6 if index == 0 else 0,
                availability=90.0 if index == 0 else 100.0,
                latency_p50=latency,
                latency_p95=latency,
                latency_p99=latency,
            )
        )
    pages.touch(session, page.id)
    session.commit()


def test_an_opted_in_component_shows_a_sparkline_and_uptime_from_checks(
    client: TestClient, session: Session, page: Page
) -> None:
    api = component(session, page, "API", show_response_times=True)
    web = component(session, page, "Web")
    checked(session, page, api, [120.0, 80.0, None, 95.0, 100.0])
    checked(session, page, web, [50.0, 60.0])

    html = client.get("/").text
    assert html.count('class="sparkline"') == 1
    svg = html[html.index('<svg class="sparkline"') : html.index("</svg>")]
    assert svg.count("<polyline") == 2
    assert "Median response time over the last 24 hours: 80–120 ms, latest 100 ms" in svg
    assert "97.5 % of checks passed" in html
    assert " style=" not in html and "<script" not in svg


def test_a_component_without_checks_says_so(
    client: TestClient, session: Session, page: Page
) -> None:
    component(session, page, "API", show_response_times=True)
    session.commit()

    html = client.get("/").text

    assert 'class="response-times"' in html
    assert "No checks yet" in html
    assert "<svg" not in html


def test_the_flag_is_set_through_the_v1_api(
    client: TestClient, session: Session, page: Page, alice: object
) -> None:
    api = component(session, page, "API")
    session.commit()
    headers = alice.headers  # type: ignore[attr-defined]

    response = client.patch(
        f"/api/v1/pages/{page.id}/components/{api.id}",
        json={"component": {"show_response_times": True}},
        headers=headers,
    )

    assert response.status_code == 200, response.text
    session.expire_all()
    assert session.get(Component, api.id).show_response_times is True  # type: ignore[union-attr]


def test_points_span_the_width_and_put_the_slowest_hour_on_top() -> None:
    lines = sparkline.polylines([10.0, 30.0, 20.0])

    assert lines == ["0.0,30.0 120.0,2.0 240.0,16.0"]


def test_gaps_break_the_line_and_a_lone_hour_is_a_dash() -> None:
    lines = sparkline.polylines([10.0, 10.0, None, 10.0])

    assert len(lines) == 2
    assert lines[0] == "0.0,16.0 80.0,16.0"
    xs = [float(p.split(",")[0]) for p in lines[1].split()]
    assert xs == [220.0, 240.0]
    assert sparkline.polylines([None, None]) == []


def test_the_label_reads_the_range_and_latest_value() -> None:
    times = ResponseTimes(hours=24, latency_ms=(12.4, None, 30.6), uptime_percent=100.0)

    assert sparkline.label(times) == (
        "Median response time over the last 24 hours: 12–31 ms, latest 31 ms"
    )
    assert re.search(r"No response times", sparkline.label(ResponseTimes(24, (None,), None)))
