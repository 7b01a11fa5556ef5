"""Faults during a fan-out, with the real email and webhook channels sending to real
receivers in other processes (security.md §3.2 F3, F4, F5), plus several workers and
SIGTERM. Each message is identified by its Message-ID or Idempotency-Key."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from receivers import Receiver
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tocsin.audit.service import CLI
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.notify import service as subscribers
from tocsin.notify.models import Delivery, DeliveryStatus, Subscriber, SubscriberMode
from tocsin.notify.schemas import SubscriberCreate
from tocsin.notify.worker import DeliveryWorker
from tocsin.pages.models import Page
from tocsin.settings import Settings

SENDER_DOMAIN = "localhost"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """Start a receiver process (`start("http", "--delay", "0.05", ports=2)`); all are
    stopped after the test."""
    started: list[Receiver] = []

    def start_receiver(kind: str, *options: str, ports: int = 1) -> Receiver:
        name = f"{kind}-{len(started)}"
        receiver = Receiver(kind, _free_ports(ports), tmp_path / f"{name}.log", *options)
        started.append(receiver.start())
        return receiver

    yield start_receiver
    for receiver in started:
        receiver.kill()


def _fan_out(
    factory: sessionmaker[Session], page: Page, *, emails: int = 0, hooks: Sequence[str] = ()
) -> dict[str, set[str]]:
    """Subscribe `emails` addresses and the hook URLs, open an incident, commit.

    Return the ids each receiver must see: Message-IDs and Idempotency-Keys.
    """
    with factory() as session:
        page = session.merge(page)
        for i in range(emails):
            _subscribe(session, page, email=f"user{i}@example.com")
        for url in hooks:
            _subscribe(session, page, endpoint=url)
        incidents.create_incident(
            session, page=page, data=IncidentCreate(name="Payments down"), actor=CLI
        )
        session.commit()
        return _expected(session)


def _subscribe(session: Session, page: Page, **fields: Any) -> None:
    data = SubscriberCreate.model_validate({"skip_confirmation_notification": True, **fields})
    subscribers.create_subscriber(session, page=page, data=data, actor=CLI)


def _expected(session: Session) -> dict[str, set[str]]:
    expected: dict[str, set[str]] = {"email": set(), "webhook": set()}
    rows = session.execute(select(Delivery, Subscriber.mode).join(Subscriber))
    for delivery, mode in rows:
        if mode is SubscriberMode.EMAIL:
            expected["email"].add(f"<{delivery.idempotency_key}@{SENDER_DOMAIN}>")
        else:
            expected["webhook"].add(delivery.idempotency_key)
    return expected


def _statuses(factory: sessionmaker[Session]) -> Counter[DeliveryStatus]:
    with factory() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return Counter({status: count for status, count in rows})


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def _all_sent(factory: sessionmaker[Session], total: int) -> Callable[[], bool]:
    return lambda: _statuses(factory)[DeliveryStatus.SENT] == total


def _configured(settings: Settings, smtp: Receiver | None = None, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "webhooks_allow_private": True,
        "email_from": f"status@{SENDER_DOMAIN}",
        "delivery_retry_base_seconds": 0.5,
        "delivery_timeout_seconds": 2.0,
        "delivery_lease_seconds": 3.0,
        "scheduler_interval_seconds": 60.0,
    }
    if smtp is not None:
        values |= {"smtp_host": "127.0.0.1", "smtp_port": smtp.port}
    return settings.model_copy(update=values | changes)


def _run_until(worker: DeliveryWorker, done: Callable[[], bool], timeout: float) -> None:
    """Run the worker in this process until `done()` holds (checked off the event loop)."""

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(done):
            if time.monotonic() > deadline or task.done():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(main())


def _spawn_worker(settings: Settings, tmp_path: Path) -> subprocess.Popen[str]:
    """`tocsin worker` in its own process, configured from `settings` through the environment."""
    names = [
        "database_url", "base_url", "smtp_host", "smtp_port", "email_from",
        "webhooks_allow_private", "scheduler_interval_seconds", "delivery_batch_size",
        "delivery_concurrency", "delivery_per_destination", "delivery_timeout_seconds",
        "delivery_retry_base_seconds", "delivery_lease_seconds",
    ]  # fmt: skip
    env = {**os.environ, "TOCSIN_SECRET_KEY": "test-secret-key", "TOCSIN_VAR_DIR": str(tmp_path)}
    for name in names:
        value = getattr(settings, name)
        if value is not None:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            env[f"TOCSIN_{name.upper()}"] = text
    return subprocess.Popen(
        [sys.executable, "-m", "tocsin", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _terminate(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    return process.returncode, stderr


def _exactly_once(received: Counter[str], expected: set[str]) -> None:
    assert set(received) == expected
    twice = {key: n for key, n in received.items() if n > 1}
    assert not twice, f"received more than once: {twice}"


def test_smtp_down_during_a_fan_out_delivers_every_message_once_when_it_is_back(
    factory: sessionmaker[Session],
    page: Page,
    settings: Settings,
    start: Callable[..., Receiver],
) -> None:
    smtp = start("smtp", "--delay", "0.05")
    hooks = start("http")
    expected = _fan_out(factory, page, emails=200, hooks=[hooks.url(f"/{i}") for i in range(50)])
    worker = DeliveryWorker(factory, _configured(settings, smtp, delivery_per_destination=5))
    outage: dict[str, float] = {}

    def outage_then_done() -> bool:
        if "down" not in outage and len(smtp.received()) >= 40:
            smtp.stop()
            outage["down"] = time.monotonic()
        if "down" in outage and "up" not in outage and time.monotonic() - outage["down"] >= 4:
            smtp.start()
            outage["up"] = time.time()
        return "up" in outage and _all_sent(factory, 250)()

    _run_until(worker, outage_then_done, timeout=40)

    assert "up" in outage, "the SMTP server was never stopped mid fan-out"
    assert _statuses(factory) == {DeliveryStatus.SENT: 250}
    _exactly_once(smtp.received(), expected["email"])
    _exactly_once(hooks.received(), expected["webhook"])
    with factory() as session:
        retried = session.scalar(select(func.count()).where(Delivery.attempts > 1))
        assert retried and retried >= 100
    # The webhooks were not held up by the outage.
    assert max(hooks.times()) < outage["up"]


def test_a_worker_killed_mid_fan_out_is_replaced_and_only_in_flight_claims_go_twice(
    factory: sessionmaker[Session],
    page: Page,
    settings: Settings,
    start: Callable[..., Receiver],
    tmp_path: Path,
) -> None:
    smtp = start("smtp", "--delay", "0.05")
    hooks = start("http", "--delay", "0.05")
    expected = _fan_out(factory, page, emails=150, hooks=[hooks.url(f"/{i}") for i in range(150)])
    config = _configured(
        settings,
        smtp,
        delivery_per_destination=5,
        delivery_batch_size=40,
        delivery_timeout_seconds=1.0,
        delivery_lease_seconds=2.0,
    )
    first = _spawn_worker(config, tmp_path)
    try:
        _wait_for(
            lambda: len(smtp.received()) + len(hooks.received()) >= 100, 30, "a third of the sends"
        )
    finally:
        first.kill()
        first.communicate()
    with factory() as session:
        in_flight = set(
            session.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.SENDING)).all()
        )
    claimed_at_kill = {d.idempotency_key for d in in_flight}
    assert claimed_at_kill, "the worker was killed with nothing in flight"
    assert _statuses(factory)[DeliveryStatus.SENT] < 300

    second = _spawn_worker(config, tmp_path)
    try:
        _wait_for(_all_sent(factory, 300), 40, "every delivery to be sent")
    finally:
        code, stderr = _terminate(second)
    assert code == 0, stderr
    # Subscribers' URLs carry their tokens (Slack, Discord): they never reach the log.
    assert hooks.url("/") not in stderr

    emails, webhooks = smtp.received(), hooks.received()
    assert set(emails) == expected["email"] and set(webhooks) == expected["webhook"]
    twice = {k for k, n in emails.items() if n > 1} | {k for k, n in webhooks.items() if n > 1}
    duplicates = sum(n - 1 for n in (emails + webhooks).values())
    assert duplicates <= len(claimed_at_kill)
    keys_twice = {k.removeprefix("<").split("@")[0] for k in twice}
    assert keys_twice <= claimed_at_kill


def test_a_hanging_receiver_times_out_and_retries_while_the_others_finish_on_time(
    factory: sessionmaker[Session],
    page: Page,
    settings: Settings,
    start: Callable[..., Receiver],
) -> None:
    smtp = start("smtp")
    healthy = start("http")
    tarpit = start("http", "--hang")
    hooks = [healthy.url(f"/{i}") for i in range(150)] + [tarpit.url(f"/{i}") for i in range(20)]
    expected = _fan_out(factory, page, emails=100, hooks=hooks)
    worker = DeliveryWorker(
        factory,
        _configured(
            settings,
            smtp,
            delivery_per_destination=5,
            delivery_concurrency=20,
            delivery_timeout_seconds=1.0,
        ),
    )
    took: dict[str, float] = {}
    started = time.monotonic()

    def healthy_done_then_retried() -> bool:
        if "healthy" not in took and _statuses(factory)[DeliveryStatus.SENT] == 250:
            took["healthy"] = time.monotonic() - started
        with factory() as session:
            retried = session.scalar(select(func.count()).where(Delivery.attempts >= 2))
        return "healthy" in took and bool(retried)

    _run_until(worker, healthy_done_then_retried, timeout=30)

    assert took.get("healthy", 99) < 4.0
    _exactly_once(smtp.received(), expected["email"])
    arrived = healthy.received()
    assert len(arrived) == 150 and set(arrived) < expected["webhook"]
    assert set(arrived.values()) == {1}
    assert tarpit.received() == Counter()
    with factory() as session:
        stuck = session.scalars(
            select(Delivery).where(Delivery.status != DeliveryStatus.SENT)
        ).all()
    assert len(stuck) == 20
    assert all(d.status is DeliveryStatus.PENDING for d in stuck)
    errors = {d.last_error for d in stuck if d.attempts}
    assert errors and errors <= {"timed out after 1 s", "no answer within 1 s"}


def test_two_workers_share_a_fan_out_with_no_double_sends(
    factory: sessionmaker[Session],
    page: Page,
    settings: Settings,
    start: Callable[..., Receiver],
    tmp_path: Path,
) -> None:
    smtp = start("smtp", "--delay", "0.01")
    hooks = start("http", "--delay", "0.01", ports=4)
    urls = [hooks.url(f"/{i}", port=hooks.ports[i % 4]) for i in range(400)]
    expected = _fan_out(factory, page, emails=100, hooks=urls)
    config = _configured(settings, smtp, delivery_batch_size=25)
    workers = [_spawn_worker(config, tmp_path) for _ in range(2)]
    try:
        _wait_for(_all_sent(factory, 500), 40, "every delivery to be sent")
    finally:
        results = [_terminate(w) for w in workers]
    assert [code for code, _ in results] == [0, 0], results

    _exactly_once(smtp.received(), expected["email"])
    _exactly_once(hooks.received(), expected["webhook"])
    with factory() as session:
        by_worker = Counter(session.scalars(select(Delivery.claimed_by)))
    assert len(by_worker) == 2, by_worker


def test_sigterm_lets_the_sends_in_flight_finish_and_hands_back_the_rest(
    factory: sessionmaker[Session],
    page: Page,
    settings: Settings,
    start: Callable[..., Receiver],
    tmp_path: Path,
) -> None:
    hooks = start("http", "--delay", "1.5")
    _fan_out(factory, page, hooks=[hooks.url(f"/{i}") for i in range(30)])
    worker = _spawn_worker(_configured(settings, delivery_per_destination=4), tmp_path)
    try:
        _wait_for(lambda: len(hooks.received()) == 4, 20, "the first sends to arrive")
    finally:
        code, stderr = _terminate(worker)

    assert code == 0, stderr
    assert "delivery worker" in stderr and "stopped" in stderr
    assert _statuses(factory) == {DeliveryStatus.SENT: 4, DeliveryStatus.PENDING: 26}
    with factory() as session:
        pending = session.scalars(
            select(Delivery.attempts).where(Delivery.status == DeliveryStatus.PENDING)
        ).all()
    assert set(pending) == {0}
    assert len(hooks.received()) == 4
