from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.monitors import service as monitors
from tocsin.monitors.models import Monitor, MonitorState
from tocsin.monitors.schemas import MonitorCreate
from tocsin.pages.models import Page


@pytest.fixture
def heartbeat(session: Session, page: Page) -> Monitor:
    data = MonitorCreate(name="nightly backup", kind="heartbeat", interval_seconds=86_400)
    monitor = monitors.create_monitor(session, page=page, data=data, actor=CLI, allow_private=True)
    session.commit()
    return monitor


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_it_records_a_ping(
    client: TestClient, session: Session, heartbeat: Monitor, method: str
) -> None:
    response = client.request(method, f"/ping/{heartbeat.heartbeat_token}", content=b"log output")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    session.refresh(heartbeat)
    assert heartbeat.last_ping_at is not None
    assert utcnow() - heartbeat.last_ping_at < timedelta(seconds=5)


def test_the_token_is_long_and_random(heartbeat: Monitor, session: Session, page: Page) -> None:
    data = MonitorCreate(name="other", kind="heartbeat")
    other = monitors.create_monitor(session, page=page, data=data, actor=CLI, allow_private=True)
    assert len(str(heartbeat.heartbeat_token)) >= 43
    assert other.heartbeat_token != heartbeat.heartbeat_token


@pytest.mark.parametrize("token", ["x" * 43, "short", "a.b" * 15, "a" * 200])
def test_an_unknown_token_is_not_found(client: TestClient, heartbeat: Monitor, token: str) -> None:
    response = client.post(f"/ping/{token}")
    assert response.status_code == 404
    assert response.text == "not found\n"


@pytest.mark.parametrize("token", ["../../etc/passwd", "%00" + "a" * 40])
def test_a_malformed_token_is_refused(client: TestClient, heartbeat: Monitor, token: str) -> None:
    assert client.post(f"/ping/{token}").status_code in (400, 404)


def test_pings_within_a_second_are_written_once(
    client: TestClient, session: Session, heartbeat: Monitor
) -> None:
    url = f"/ping/{heartbeat.heartbeat_token}"
    assert client.get(url).status_code == 200
    session.refresh(heartbeat)
    first = heartbeat.last_ping_at

    assert all(client.get(url).status_code == 200 for _ in range(20))

    session.refresh(heartbeat)
    assert heartbeat.last_ping_at == first


def test_a_ping_makes_a_down_heartbeat_due_at_once(
    client: TestClient, session: Session, heartbeat: Monitor
) -> None:
    heartbeat.state = MonitorState.DOWN
    heartbeat.next_run_at = utcnow() + timedelta(hours=1)
    session.commit()

    client.get(f"/ping/{heartbeat.heartbeat_token}")

    session.refresh(heartbeat)
    assert heartbeat.next_run_at <= utcnow()


def test_the_ping_url_needs_no_credentials_and_other_monitors_have_none(
    client: TestClient, session: Session, page: Page, heartbeat: Monitor
) -> None:
    data = MonitorCreate(name="site", kind="http", target="https://example.com/")
    site = monitors.create_monitor(session, page=page, data=data, actor=CLI, allow_private=True)
    session.commit()
    assert site.heartbeat_token is None
    assert monitors.ping_path(heartbeat) == f"/ping/{heartbeat.heartbeat_token}"
