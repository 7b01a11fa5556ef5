"""The story of issue 5, end to end: DNS fails, the page and the subscribers know by itself.

A real authoritative DNS server (dns_stub, its own process) serves example.test; a DNS
check of it and an HTTP check of a real HTTP server are linked to two components, with
auto-incidents. The monitor scheduler and the delivery worker run as in `tocsin worker`,
an email subscriber is served by aiosmtpd and a webhook subscriber by an HTTP server, both
in their own processes. The DNS server is made to fail; the test measures how long until
the component is in major outage, the incident is on `/` and in `/api/v2/summary.json`,
and both subscribers have it. Then the DNS server recovers and the incident resolves.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from factories import component
from tocsin.audit.service import CLI
from tocsin.components.models import Component
from tocsin.incidents.models import Incident
from tocsin.incidents.status import IncidentStatus
from tocsin.monitors import service as monitors
from tocsin.monitors.models import Monitor
from tocsin.monitors.scheduler import MonitorScheduler
from tocsin.monitors.schemas import MonitorCreate
from tocsin.notify import service as subscribers
from tocsin.notify.schemas import SubscriberCreate
from tocsin.notify.worker import DeliveryWorker
from tocsin.pages.models import Page
from tocsin.settings import Settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "probes"))
sys.path.insert(0, str(HERE.parent / "notify"))

from dns_stub import DnsStub, running  # noqa: E402
from receivers import Receiver  # noqa: E402

ZONE = """\
$ORIGIN example.test.
$TTL 300
@      IN SOA   ns1 hostmaster 1 3600 600 86400 60
@      IN NS    ns1
ns1    IN A     127.0.0.1
api    IN A     192.0.2.10
"""
INCIDENT = "API DNS unavailable"
BUDGET_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[DnsStub]:
    with running(tmp_path / "dns", zone=ZONE) as stub:
        yield stub


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[dict[str, Receiver]]:
    started = {
        kind: Receiver(protocol, [_free_port()], tmp_path / f"{kind}.log").start()
        for kind, protocol in (("smtp", "smtp"), ("hook", "http"), ("site", "http"))
    }
    yield started
    for receiver in started.values():
        receiver.kill()


class Worker:
    """The monitor scheduler and the delivery worker on one event loop in a thread."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.scheduler = MonitorScheduler(factory, settings, poll_seconds=0.1)
        self.delivery = DeliveryWorker(factory, settings)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),))

    async def _main(self) -> None:
        await asyncio.gather(self.scheduler.run(self._stop), self.delivery.run(self._stop))

    def __enter__(self) -> Worker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self._loop.close()


def _monitor(session: Session, page: Page, row: Component, **fields: object) -> Monitor:
    data = MonitorCreate.model_validate(
        {
            "interval_seconds": 10,
            "timeout_seconds": 1,
            "component_ids": [row.id],
            "failure_status": "major_outage",
            "failure_threshold": 2,
            "window": 3,
            "recovery_threshold": 2,
            "auto_incident": True,
            "quiet_period_seconds": 2,
            **fields,
        }
    )
    monitor = monitors.create_monitor(session, page=page, data=data, actor=CLI, allow_private=True)
    # Faster than the API allows (10 s), so the story fits in seconds; the scheduler itself
    # has no minimum.
    monitor.interval_seconds = 1
    monitor.timeout_seconds = 0.8
    return monitor


def _subscribe(session: Session, page: Page, **fields: str) -> None:
    data = SubscriberCreate.model_validate({"skip_confirmation_notification": True, **fields})
    subscribers.create_subscriber(session, page=page, data=data, actor=CLI)


def _wait(condition: Callable[[], bool], what: str, deadline: float) -> float:
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic()


def test_a_dns_outage_reaches_the_page_and_subscribers_and_resolves_by_itself(
    client: TestClient,
    factory: sessionmaker[Session],
    session: Session,
    page: Page,
    settings: Settings,
    dns: DnsStub,
    receivers: dict[str, Receiver],
) -> None:
    page.url = "https://status.acme.example"
    api = component(session, page, "API DNS")
    site = component(session, page, "Website")
    dns_check = _monitor(
        session,
        page,
        api,
        name="api.example.test",
        kind="dns",
        target="api.example.test",
        config={"nameservers": [dns.address], "expected": ["192.0.2.10"]},
    )
    _monitor(session, page, site, name="Website", kind="http", target=receivers["site"].url("/"))
    _subscribe(session, page, email="ops@example.com")
    _subscribe(session, page, endpoint=receivers["hook"].url("/tocsin"))
    session.commit()
    configured = settings.model_copy(
        update={
            "webhooks_allow_private": True,
            "monitors_allow_private": True,
            "smtp_host": "127.0.0.1",
            "smtp_port": receivers["smtp"].port,
            "email_from": "status@localhost",
            "delivery_timeout_seconds": 5.0,
            "delivery_retry_base_seconds": 0.5,
        }
    )

    def status_of(row: Component) -> str:
        with factory() as fresh:
            found = fresh.get(Component, row.id)
            assert found is not None
            return found.status.value

    def state_of(monitor: Monitor) -> str:
        with factory() as fresh:
            found = fresh.get(Monitor, monitor.id)
            assert found is not None
            return found.state.value

    def incident() -> Incident | None:
        with factory() as fresh:
            return fresh.scalars(select(Incident).where(Incident.name == INCIDENT)).first()

    def on_summary() -> bool:
        summary = client.get("/api/v2/summary.json").json()
        return any(i["name"] == INCIDENT for i in summary["incidents"])

    with Worker(factory, configured):
        deadline = time.monotonic() + 30
        _wait(lambda: state_of(dns_check) == "up", "the first checks", deadline)

        dns.set_mode("servfail")
        failed_at = time.monotonic()
        deadline = failed_at + BUDGET_SECONDS
        outage_at = _wait(lambda: status_of(api) == "major_outage", "major_outage", deadline)
        page_at = _wait(lambda: INCIDENT in client.get("/").text, "the page", deadline)
        summary_at = _wait(on_summary, "summary.json", deadline)
        email_at = _wait(lambda: bool(receivers["smtp"].received()), "the email", deadline)
        hook_at = _wait(lambda: bool(receivers["hook"].received()), "the webhook", deadline)
        assert status_of(site) == "operational"

        dns.set_mode("ok")
        recovered_at = time.monotonic()
        _wait(
            lambda: (found := incident()) is not None and found.status is IncidentStatus.RESOLVED,
            "the incident to resolve",
            recovered_at + BUDGET_SECONDS,
        )
        resolved_at = time.monotonic()
        assert status_of(api) == "operational"

    told = max(email_at, hook_at)
    database = factory.kw["bind"].dialect.name
    print(
        f"\n[{database}] DNS failed → major_outage {outage_at - failed_at:.1f} s,"
        f" on / {page_at - failed_at:.1f} s, in summary.json {summary_at - failed_at:.1f} s,"
        f" email {email_at - failed_at:.1f} s, webhook {hook_at - failed_at:.1f} s;"
        f" detection → notification {told - outage_at:.1f} s;"
        f" DNS back → resolved {resolved_at - recovered_at:.1f} s"
    )
    assert told - failed_at < BUDGET_SECONDS
