"""The delivery worker against in-test channels (the network boundary); real receivers are
in test_worker_faults.py."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from factories import component
from tocsin.audit.service import CLI
from tocsin.components.status import ComponentStatus
from tocsin.db import utcnow
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.notify import service as subscribers
from tocsin.notify.base import Notifier, NotifyError, Outgoing
from tocsin.notify.models import Delivery, DeliveryStatus, Subscriber, SubscriberMode
from tocsin.notify.schemas import SubscriberCreate
from tocsin.notify.worker import (
    DeliveryWorker,
    Result,
    destination_of,
    recipient_of,
    retry_delay,
)
from tocsin.pages.models import Page
from tocsin.settings import Settings

Send = Callable[[Outgoing], Awaitable[None]]


class FakeNotifier(Notifier):
    """Records every message; `behaviour` decides what a send does."""

    def __init__(self, behaviour: Send | None = None) -> None:
        self.sent: list[Outgoing] = []
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self.behaviour = behaviour

    async def send(self, message: Outgoing) -> None:
        where = destination_of(message.recipient)
        self.active[where] += 1
        self.peak[where] = max(self.peak[where], self.active[where])
        self.peak_total = max(self.peak_total, sum(self.active.values()))
        try:
            if self.behaviour is not None:
                await self.behaviour(message)
            self.sent.append(message)
        finally:
            self.active[where] -= 1


def _notifiers(notifier: Notifier) -> dict[SubscriberMode, Notifier]:
    return dict.fromkeys(SubscriberMode, notifier)


def _subscribe(session: Session, page: Page, **fields: Any) -> Subscriber:
    data = SubscriberCreate.model_validate({"skip_confirmation_notification": True, **fields})
    return subscribers.create_subscriber(session, page=page, data=data, actor=CLI).subscriber


def _fan_out(
    factory: sessionmaker[Session],
    page: Page,
    *,
    emails: Iterable[str] = (),
    hooks: Iterable[str] = (),
) -> str:
    """Subscribe the addresses, open an incident, commit; return the incident id."""
    with factory() as session:
        page = session.merge(page)
        for email in emails:
            _subscribe(session, page, email=email)
        for url in hooks:
            _subscribe(session, page, endpoint=url)
        incident = incidents.create_incident(
            session, page=page, data=IncidentCreate(name="Payments down"), actor=CLI
        )
        session.commit()
        return incident.id


def _rows(factory: sessionmaker[Session]) -> list[Delivery]:
    with factory() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def _worker(
    factory: sessionmaker[Session], settings: Settings, notifier: Notifier, **changes: Any
) -> DeliveryWorker:
    return DeliveryWorker(factory, settings.model_copy(update=changes), _notifiers(notifier))


def _drain(worker: DeliveryWorker) -> None:
    asyncio.run(asyncio.wait_for(worker.run(asyncio.Event(), until_idle=True), timeout=30))


def test_it_sends_every_delivery_once_and_records_it(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(
        factory, page, emails=[f"u{i}@example.com" for i in range(7)], hooks=["https://h.example/x"]
    )
    notifier = FakeNotifier()

    _drain(_worker(factory, settings, notifier, delivery_batch_size=3))

    rows = _rows(factory)
    assert len(rows) == 8
    assert sorted(m.idempotency_key for m in notifier.sent) == sorted(
        r.idempotency_key for r in rows
    )
    for row in rows:
        assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 1, None)
        assert row.sent_at is not None and row.duration_ms is not None
        assert row.claimed_by is not None
    message = next(m for m in notifier.sent if m.recipient.email == "u0@example.com")
    assert message.payload["incident"]["name"] == "Payments down"
    assert message.links.unsubscribe.startswith("http://testserver/subscriptions/unsubscribe/")
    assert message.attempt == 1


def test_a_database_side_in_its_own_process_sends_and_records_the_same(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(
        factory, page, emails=[f"u{i}@example.com" for i in range(7)], hooks=["https://h.example/x"]
    )
    helpers: list[str] = []

    async def look(message: Outgoing) -> None:
        helpers.extend(child.name for child in multiprocessing.active_children())

    notifier = FakeNotifier(look)
    worker = _worker(
        factory, settings, notifier, delivery_batch_size=3, delivery_database_process=True
    )
    _drain(worker)

    rows = _rows(factory)
    assert sorted(m.idempotency_key for m in notifier.sent) == sorted(
        r.idempotency_key for r in rows
    )
    assert all(r.status is DeliveryStatus.SENT and r.attempts == 1 for r in rows)
    assert worker.totals[Result.SENT] == 8
    assert f"tocsin-deliveries-{worker.id}" in helpers
    # The run's end closes its pipe, and the process exits.
    assert not [c for c in multiprocessing.active_children() if c.name.startswith("tocsin-")]


def test_claims_turned_away_come_back_as_soon_as_their_destination_has_room(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    # The first send is slow, so the email queue is sized small and the claims beyond
    # it are handed back, due when the queue should have drained at that pace (seconds
    # away). The rest take 20 ms: the queue drains long before that guess.
    _fan_out(factory, page, emails=[f"u{i}@example.com" for i in range(100)])
    first = asyncio.Event()

    async def slow_first(message: Outgoing) -> None:
        if not first.is_set():
            first.set()
            await asyncio.sleep(1.0)
        await asyncio.sleep(0.02)

    worker = _worker(
        factory,
        settings,
        FakeNotifier(slow_first),
        delivery_per_destination=1,
        delivery_concurrency=1,
        delivery_batch_size=20,
    )
    started = time.monotonic()
    _drain(worker)
    took = time.monotonic() - started

    assert worker.totals[Result.SENT] == 100
    assert worker.totals[Result.RELEASED] > 0, "some claims were turned away"
    assert all(r.status is DeliveryStatus.SENT for r in _rows(factory))
    # The sends take 3 s; waiting for the guessed time instead took 8 s.
    assert took < 5.5, f"took {took:.1f} s"


def test_it_commits_the_claim_before_sending(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=["ann@example.com"])
    seen: list[tuple[DeliveryStatus, int, str | None]] = []

    async def look(message: Outgoing) -> None:
        # Another connection sees the claim, so it was committed before this send.
        with factory() as other:
            row = other.get(Delivery, message.delivery_id)
            assert row is not None
            seen.append((row.status, row.attempts, row.claimed_by))

    worker = _worker(factory, settings, FakeNotifier(look))
    _drain(worker)

    assert seen == [(DeliveryStatus.SENDING, 1, worker.id)]


def test_a_temporary_error_is_retried_later_with_backoff(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=["ann@example.com"])

    async def refuse(message: Outgoing) -> None:
        raise NotifyError("421 try again later")

    before = utcnow()
    _drain(_worker(factory, settings, FakeNotifier(refuse), delivery_retry_base_seconds=60))

    [row] = _rows(factory)
    assert (row.status, row.attempts, row.last_error) == (
        DeliveryStatus.PENDING,
        1,
        "421 try again later",
    )
    assert before + timedelta(seconds=29) <= row.next_attempt_at <= utcnow() + timedelta(seconds=91)

    with factory.begin() as session:
        session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    notifier = FakeNotifier()
    _drain(_worker(factory, settings, notifier))

    [row] = _rows(factory)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 2, None)
    assert [m.attempt for m in notifier.sent] == [2]


def test_the_next_attempt_is_when_the_receiver_asked_within_the_retry_window(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, hooks=["https://a.example/x", "https://b.example/x"])

    async def too_many(message: Outgoing) -> None:
        wait = 600.0 if "a.example" in str(message.recipient.endpoint) else 10 * 24 * 3600.0
        raise NotifyError("HTTP 429 Too Many Requests", retry_after=wait)

    before = utcnow()
    _drain(_worker(factory, settings, FakeNotifier(too_many), delivery_retry_hours=48))

    asked, capped = sorted(_rows(factory), key=lambda row: row.next_attempt_at)
    assert asked.status is capped.status is DeliveryStatus.PENDING
    assert (
        before + timedelta(seconds=600)
        <= asked.next_attempt_at
        <= utcnow() + timedelta(seconds=600)
    )
    window_ends = capped.created_at + timedelta(hours=48)
    assert window_ends - timedelta(seconds=5) <= capped.next_attempt_at <= window_ends


def test_retries_double_up_to_a_cap_with_jitter() -> None:
    for attempts, middle in [(1, 10), (2, 20), (3, 40), (10, 3600), (500, 3600)]:
        delays = [retry_delay(attempts, base=10) for _ in range(200)]
        assert all(0.5 * middle <= d <= 1.5 * middle for d in delays)
        assert max(delays) - min(delays) > 0.2 * middle


def test_it_gives_up_once_the_delivery_is_older_than_the_retry_window(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=["ann@example.com"])
    with factory.begin() as session:
        session.execute(update(Delivery).values(created_at=utcnow() - timedelta(hours=25)))

    async def refuse(message: Outgoing) -> None:
        raise NotifyError("connection refused")

    _drain(_worker(factory, settings, FakeNotifier(refuse), delivery_retry_hours=24))

    [row] = _rows(factory)
    assert row.status is DeliveryStatus.FAILED
    assert row.last_error == "gave up after 1 attempts: connection refused"


def test_a_permanent_error_fails_at_once_and_quarantines_the_subscriber_after_the_threshold(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    async def bounce(message: Outgoing) -> None:
        if message.recipient.email == "gone@example.com":
            raise NotifyError("550 no such user", permanent=True)

    notifier = FakeNotifier(bounce)
    worker = _worker(factory, settings, notifier, delivery_disable_after=2)
    _fan_out(factory, page, emails=["gone@example.com", "ann@example.com"])
    _drain(worker)

    with factory() as session:
        gone = session.scalars(
            select(Subscriber).where(Subscriber.email == "gone@example.com")
        ).one()
        assert (gone.failure_count, gone.quarantined_at) == (1, None)
    failed = [r for r in _rows(factory) if r.status is DeliveryStatus.FAILED]
    assert [(r.attempts, r.last_error) for r in failed] == [(1, "550 no such user")]

    _fan_out(factory, page)
    _drain(worker)

    with factory() as session:
        gone = session.scalars(
            select(Subscriber).where(Subscriber.email == "gone@example.com")
        ).one()
        ann = session.scalars(select(Subscriber).where(Subscriber.email == "ann@example.com")).one()
        assert gone.failure_count == 2 and gone.quarantined_at is not None
        assert gone.disabled_reason == "delivery failed 2 times in a row: 550 no such user"
        assert ann.quarantined_at is None and ann.failure_count == 0
    assert [m.recipient.email for m in notifier.sent].count("ann@example.com") == 2


def test_a_success_resets_the_failure_count(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=["ann@example.com"])
    with factory.begin() as session:
        session.execute(update(Subscriber).values(failure_count=2))

    _drain(_worker(factory, settings, FakeNotifier(), delivery_disable_after=3))

    with factory() as session:
        assert session.scalars(select(Subscriber.failure_count)).one() == 0


def test_it_skips_subscribers_who_left_or_were_disabled_since_the_fan_out(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=["left@example.com", "bad@example.com", "ann@example.com"])
    with factory.begin() as session:
        for s in session.scalars(select(Subscriber)):
            if s.email == "left@example.com":
                subscribers.unsubscribe(session, subscriber=s, actor=CLI)
            elif s.email == "bad@example.com":
                subscribers.quarantine(session, subscriber=s, reason="bounces")
    notifier = FakeNotifier()

    _drain(_worker(factory, settings, notifier))

    assert [m.recipient.email for m in notifier.sent] == ["ann@example.com"]
    errors = sorted(r.last_error or "" for r in _rows(factory) if r.status is DeliveryStatus.FAILED)
    assert errors == ["skipped: the subscriber is disabled", "skipped: the subscriber unsubscribed"]


def test_it_takes_back_claims_whose_lease_ran_out_and_leaves_live_ones(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=["dead@example.com", "live@example.com"])
    with factory.begin() as session:
        for row in session.scalars(select(Delivery)):
            subscriber = session.get(Subscriber, row.subscriber_id)
            assert subscriber is not None
            age = 600 if subscriber.email == "dead@example.com" else 10
            row.status, row.attempts, row.claimed_by = DeliveryStatus.SENDING, 1, "crashed:1"
            row.claimed_at = utcnow() - timedelta(seconds=age)
    notifier = FakeNotifier()

    _drain(_worker(factory, settings, notifier, delivery_lease_seconds=300))

    assert [(m.recipient.email, m.attempt) for m in notifier.sent] == [("dead@example.com", 2)]
    states = {r.attempts: r.status for r in _rows(factory)}
    assert states == {2: DeliveryStatus.SENT, 1: DeliveryStatus.SENDING}


def test_a_late_success_after_the_lease_ran_out_still_counts(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=["ann@example.com"])

    async def slow(message: Outgoing) -> None:
        await asyncio.sleep(1.2)

    _drain(_worker(factory, settings, FakeNotifier(slow), delivery_lease_seconds=0.5))

    [row] = _rows(factory)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)


def test_a_hanging_destination_does_not_hold_up_the_others(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    hooks = [f"https://tarpit.example/{i}" for i in range(12)]
    emails = [f"u{i}@d{i % 5}.example.com" for i in range(60)]
    _fan_out(factory, page, emails=emails, hooks=hooks)
    finished: dict[str, float] = {}

    async def behave(message: Outgoing) -> None:
        if message.recipient.endpoint:
            await asyncio.sleep(3600)
        finished[message.idempotency_key] = asyncio.get_running_loop().time()

    notifier = FakeNotifier(behave)
    worker = _worker(
        factory,
        settings,
        notifier,
        delivery_batch_size=10,
        delivery_concurrency=8,
        delivery_per_destination=2,
        delivery_timeout_seconds=1.5,
    )

    async def run() -> float:
        stop = asyncio.Event()
        started = asyncio.get_running_loop().time()
        task = asyncio.create_task(worker.run(stop))
        while len(finished) < len(emails):
            await asyncio.sleep(0.05)
        elapsed = asyncio.get_running_loop().time() - started
        stop.set()
        await task
        return elapsed

    elapsed = asyncio.run(asyncio.wait_for(run(), timeout=30))

    assert elapsed < 1.5, "the healthy receivers waited for the hanging one"
    assert notifier.peak["tarpit.example:443"] <= 2
    assert max(notifier.peak.values()) <= 2 and notifier.peak_total <= 8
    hanging = [r for r in _rows(factory) if r.status is not DeliveryStatus.SENT]
    assert len(hanging) == len(hooks)
    assert all(r.status is DeliveryStatus.PENDING for r in hanging)
    timed_out = [r for r in hanging if r.last_error]
    assert timed_out and all(r.last_error == "no answer within 1.5 s" for r in timed_out)


def test_stopping_finishes_the_sends_in_flight_and_hands_back_the_rest(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=[f"u{i}@example.com" for i in range(10)])
    started = asyncio.Event()

    async def slow(message: Outgoing) -> None:
        started.set()
        await asyncio.sleep(0.5)

    notifier = FakeNotifier(slow)
    worker = _worker(factory, settings, notifier, delivery_per_destination=3)

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        await started.wait()
        stop.set()
        await task

    asyncio.run(asyncio.wait_for(run(), timeout=30))

    rows = _rows(factory)
    assert len(notifier.sent) == 3
    sent = [r for r in rows if r.status is DeliveryStatus.SENT]
    assert len(sent) == 3 and all(r.attempts == 1 for r in sent)
    rest = [r for r in rows if r.status is not DeliveryStatus.SENT]
    assert all((r.status, r.attempts) == (DeliveryStatus.PENDING, 0) for r in rest)
    assert worker.totals[Result.SENT] == 3


def test_a_channel_that_raises_something_else_is_retried_not_lost(
    factory: sessionmaker[Session], page: Page, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    _fan_out(factory, page, emails=["ann@example.com"])

    async def buggy(message: Outgoing) -> None:
        raise KeyError("oops")

    _drain(_worker(factory, settings, FakeNotifier(buggy)))

    [row] = _rows(factory)
    assert (row.status, row.last_error) == (DeliveryStatus.PENDING, "internal error (KeyError)")
    assert "channel raised instead of NotifyError" in caplog.text


def test_a_mode_without_a_channel_waits_for_one(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    _fan_out(factory, page, emails=["ann@example.com"])
    worker = DeliveryWorker(factory, settings, {SubscriberMode.WEBHOOK: FakeNotifier()})

    _drain(worker)

    [row] = _rows(factory)
    assert (row.status, row.last_error) == (
        DeliveryStatus.PENDING,
        "no email channel is configured",
    )


def test_only_the_incident_components_subscribers_hear_of_it(
    factory: sessionmaker[Session], page: Page, settings: Settings
) -> None:
    with factory() as session:
        page = session.merge(page)
        api = component(session, page, "API")
        web = component(session, page, "Web")
        _subscribe(session, page, email="api@example.com", component_ids=[api.id])
        _subscribe(session, page, email="web@example.com", component_ids=[web.id])
        incidents.create_incident(
            session,
            page=page,
            data=IncidentCreate(name="API down", components={api.id: ComponentStatus.MAJOR_OUTAGE}),
            actor=CLI,
        )
        session.commit()
    notifier = FakeNotifier()

    _drain(_worker(factory, settings, notifier))

    assert [m.recipient.email for m in notifier.sent] == ["api@example.com"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"email": "Ann@Mail.Example.com"}, "email"),
        ({"endpoint": "https://hooks.example.com/a?b=c"}, "hooks.example.com:443"),
        ({"endpoint": "http://user:pw@10.0.0.1:8080/x"}, "10.0.0.1:8080"),
        ({"phone_number": "+14155550100"}, "sms"),
    ],
)
def test_destinations_are_the_url_host_or_the_email_or_sms_provider(
    session: Session, page: Page, fields: dict[str, str], expected: str
) -> None:
    subscriber = _subscribe(session, page, **fields)
    assert destination_of(recipient_of(subscriber)) == expected


def test_the_deliveries_command_shows_each_fan_out(
    factory: sessionmaker[Session], page: Page, settings: Settings, tmp_path: Path
) -> None:
    incident_id = _fan_out(
        factory, page, emails=["a@example.com", "b@example.com", "c@example.com"]
    )
    with factory.begin() as session:
        first = session.scalars(select(Delivery).order_by(Delivery.id)).first()
        assert first is not None
        first.status = DeliveryStatus.SENT

    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": settings.database_url,
        "TOCSIN_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", "deliveries", "--incident", incident_id],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "160"},
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "incident_created Payments down" in result.stdout
    assert "1/3" in result.stdout
    assert "pending 2 sending 0 sent 1 failed 0" in result.stdout

    result = subprocess.run(
        [sys.executable, "-m", "tocsin", "deliveries", "--incident", "nosuchthing0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "no notifications yet")
