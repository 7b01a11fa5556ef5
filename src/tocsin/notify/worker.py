"""Delivering the outbox: claim due deliveries, send them concurrently, record what happened.

Delivery is at least once. A claim commits before anything is sent, and a worker that
dies leaves its claims behind until their lease runs out, when any worker takes them
back. So only the sends in flight at a crash can go twice, and every attempt carries the
same idempotency key, which lets receivers drop the copy.

Within one process the work is a bounded pipeline: claims are topped up while earlier
sends are still running, a global limit caps concurrent sends, a per-destination limit
keeps one slow receiver from taking every slot, and outcomes are written in small
batches. Memory depends on those limits, never on the size of a fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import random
import secrets
import signal
import socket
import time
import traceback
from collections import Counter, deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, NamedTuple, TypeVar, cast
from urllib.parse import urlsplit

from sqlalchemy import Row, Table, and_, bindparam, func, make_url, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tocsin.db import UTCDateTime, make_engine, make_sessionmaker, transaction, utcnow
from tocsin.notify import outbox
from tocsin.notify.base import Notifier, NotifyError, Outgoing, Recipient
from tocsin.notify.links import links_for
from tocsin.notify.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationKind,
    Subscriber,
    SubscriberMode,
)
from tocsin.notify.service import PURGE_AFTER
from tocsin.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

RECORD_EVERY = 100
RECORD_AFTER_SECONDS = 0.2
IDLE_POLL_SECONDS = 0.5
RETRY_CAP_SECONDS = 3600.0
# Per destination, keep about this many seconds of work queued in memory; claims beyond
# that go back to the table, due again when the destination should be free for them.
QUEUE_SECONDS = 5.0
MIN_DEFER_SECONDS = 0.2
MAX_DEFER_SECONDS = 60.0
# Assumed time per send to a destination not seen yet.
FIRST_PACE_SECONDS = 0.1
# A destination's pace is the time between two of its sends finishing, averaged: how
# fast its queue drains, whatever the concurrency. Not the time a send takes, which
# includes waiting for a busy event loop: with 200 webhooks in flight, an email took
# 0.1-0.2 s while ten of them finished every few milliseconds, and queues sized by it
# turned claims away for seconds after the destination had emptied them.
PACE_WEIGHT = 0.05
MAX_PACES = 10_000
ERROR_LENGTH = 500
PAYLOADS_KEPT = 64
WRITE_TRIES = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}

_deliveries = cast(Table, Delivery.__table__)
_subscribers = cast(Table, Subscriber.__table__)


class Result(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    RELEASED = "released"
    """Claimed but never attempted (a full destination queue, or shutting down)."""


@dataclass
class Job:
    message: Outgoing
    destination: str
    created_at: datetime
    """When the delivery was queued; retries stop `delivery_retry_hours` after it."""
    notification_id: str

    @property
    def delivery_id(self) -> int:
        return self.message.delivery_id

    @property
    def subscriber_id(self) -> str:
        return self.message.recipient.subscriber_id


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    subscriber_id: str
    result: Result
    error: str | None = None
    duration_ms: int | None = None
    next_attempt_at: datetime | None = None
    counts_against_subscriber: bool = False


class _Claimed(NamedTuple):
    id: int
    notification_id: str
    subscriber_id: str
    attempts: int
    created_at: datetime


class Claims(NamedTuple):
    jobs: list[Job]
    skipped: int
    """Claimed but failed unsent: the subscriber left or was disabled since the fan-out."""


# --- the database side: claim, take back, record -------------------------------------------


def claim(session: Session, *, worker_id: str, limit: int, now: datetime) -> list[_Claimed]:
    """Mark up to `limit` due deliveries as ours, oldest due first; the caller commits.

    One statement. On PostgreSQL, SKIP LOCKED lets several workers claim at once without
    waiting on, or taking, each other's rows.
    """
    due = (
        select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(
            status=DeliveryStatus.SENDING,
            claimed_at=now,
            claimed_by=worker_id,
            attempts=Delivery.attempts + 1,
        )
        .returning(
            Delivery.id,
            Delivery.notification_id,
            Delivery.subscriber_id,
            Delivery.attempts,
            Delivery.created_at,
        )
    )
    rows = session.execute(statement, execution_options={"synchronize_session": False})
    return [_Claimed(*row) for row in rows]


def reclaim_expired(
    session: Session, *, now: datetime, lease_seconds: float, keep: Collection[int] = ()
) -> int:
    """Put claims older than the lease (their worker died) back in the queue, except
    `keep`, the caller's own sends still in flight; return how many.

    `claimed_by` is kept, so a send that was merely slow can still record its success
    if no other worker has claimed the row in the meantime.
    """
    expired = and_(
        Delivery.status == DeliveryStatus.SENDING,
        Delivery.claimed_at < now - timedelta(seconds=lease_seconds),
    )
    if keep:
        expired = and_(expired, Delivery.id.not_in(list(keep)))
    result = session.execute(
        update(Delivery).where(expired).values(status=DeliveryStatus.PENDING),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


_MARK_SENT = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("d_id"),
        _deliveries.c.claimed_by == bindparam("d_worker"),
        # A slow send whose lease ran out still counts unless another worker took it.
        or_(
            _deliveries.c.status == DeliveryStatus.SENDING,
            _deliveries.c.status == DeliveryStatus.PENDING,
        ),
    )
    .values(
        status=DeliveryStatus.SENT,
        sent_at=bindparam("d_at", type_=UTCDateTime),
        duration_ms=bindparam("d_ms"),
        last_error=None,
    )
)
_MARK_UNSENT = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("d_id"),
        _deliveries.c.claimed_by == bindparam("d_worker"),
        _deliveries.c.status == DeliveryStatus.SENDING,
    )
    .values(
        status=bindparam("d_status"),
        next_attempt_at=func.coalesce(
            bindparam("d_next", type_=UTCDateTime), _deliveries.c.next_attempt_at
        ),
        last_error=bindparam("d_error"),
        duration_ms=bindparam("d_ms"),
    )
)
_RELEASE = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("d_id"),
        _deliveries.c.claimed_by == bindparam("d_worker"),
        _deliveries.c.status == DeliveryStatus.SENDING,
    )
    .values(
        status=DeliveryStatus.PENDING,
        attempts=_deliveries.c.attempts - 1,
        next_attempt_at=bindparam("d_next", type_=UTCDateTime),
    )
)
_COUNT_FAILURES = (
    update(_subscribers)
    .where(_subscribers.c.id == bindparam("s_id"))
    .values(failure_count=_subscribers.c.failure_count + bindparam("s_n"))
)
_DISABLE = (
    update(_subscribers)
    .where(
        _subscribers.c.id == bindparam("s_id"),
        _subscribers.c.failure_count >= bindparam("s_limit"),
        _subscribers.c.quarantined_at.is_(None),
    )
    .values(
        quarantined_at=bindparam("s_at", type_=UTCDateTime),
        purge_at=bindparam("s_purge", type_=UTCDateTime),
        disabled_reason=bindparam("s_reason"),
    )
)


def record(
    session: Session,
    outcomes: Sequence[Outcome],
    *,
    worker_id: str,
    now: datetime,
    disable_after: int,
) -> None:
    """Write a batch of outcomes, one statement per kind; the caller commits.

    Rows another worker has claimed since are left alone. Permanent failures count
    against the subscriber, and `disable_after` of them in a row quarantine it.
    """
    by_result: dict[Result, list[Outcome]] = {result: [] for result in Result}
    for outcome in outcomes:
        by_result[outcome.result].append(outcome)
    _record_sent(session, by_result[Result.SENT], worker_id, now)
    _record_unsent(session, by_result[Result.RETRY] + by_result[Result.FAILED], worker_id)
    _release(session, by_result[Result.RELEASED], worker_id, now)
    _count_failures(session, by_result[Result.FAILED], now, disable_after)


def _record_sent(session: Session, sent: list[Outcome], worker_id: str, now: datetime) -> None:
    if not sent:
        return
    session.execute(
        _MARK_SENT,
        [
            {"d_id": o.delivery_id, "d_worker": worker_id, "d_at": now, "d_ms": o.duration_ms}
            for o in sent
        ],
    )
    session.execute(
        update(Subscriber)
        .where(Subscriber.id.in_({o.subscriber_id for o in sent}), Subscriber.failure_count > 0)
        .values(failure_count=0),
        execution_options={"synchronize_session": False},
    )


def _record_unsent(session: Session, unsent: list[Outcome], worker_id: str) -> None:
    if not unsent:
        return
    session.execute(
        _MARK_UNSENT,
        [
            {
                "d_id": o.delivery_id,
                "d_worker": worker_id,
                "d_status": (
                    DeliveryStatus.PENDING if o.result is Result.RETRY else DeliveryStatus.FAILED
                ).value,
                "d_next": o.next_attempt_at,
                "d_error": (o.error or "")[:ERROR_LENGTH],
                "d_ms": o.duration_ms,
            }
            for o in unsent
        ],
    )


def _release(session: Session, released: list[Outcome], worker_id: str, now: datetime) -> None:
    if not released:
        return
    session.execute(
        _RELEASE,
        [
            {"d_id": o.delivery_id, "d_worker": worker_id, "d_next": o.next_attempt_at or now}
            for o in released
        ],
    )


def _count_failures(
    session: Session, failed: list[Outcome], now: datetime, disable_after: int
) -> None:
    counted = [o for o in failed if o.counts_against_subscriber]
    if not counted:
        return
    counts = Counter(o.subscriber_id for o in counted)
    session.execute(_COUNT_FAILURES, [{"s_id": sid, "s_n": n} for sid, n in counts.items()])
    last_error = {o.subscriber_id: o.error or "" for o in counted}
    session.execute(
        _DISABLE,
        [
            {
                "s_id": sid,
                "s_limit": disable_after,
                "s_at": now,
                "s_purge": now + PURGE_AFTER,
                "s_reason": f"delivery failed {disable_after} times in a row: {error}"[:255],
            }
            for sid, error in last_error.items()
        ],
    )


# --- preparing claimed rows for sending ----------------------------------------------------


def destination_of(recipient: Recipient) -> str:
    """What a per-destination limit counts: the URL's host and port, or the one server
    that every email (the SMTP relay) or every SMS (the provider's API) goes through."""
    if recipient.mode in (SubscriberMode.SMS, SubscriberMode.EMAIL):
        return recipient.mode.value
    endpoint = recipient.endpoint or ""
    # Endpoints differ by path and token far more often than by origin, so the parse
    # of the origin part is what is cached.
    scheme, _, rest = endpoint.partition("://")
    return _destination(scheme, rest.partition("/")[0].partition("?")[0].partition("#")[0])


@functools.lru_cache(maxsize=4096)
def _destination(scheme: str, netloc: str) -> str:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        return f"{scheme}://{netloc}"
    return f"{parts.hostname}:{port}"


def recipient_of(subscriber: Subscriber | _Addressee) -> Recipient:
    return Recipient(
        subscriber_id=subscriber.id,
        mode=subscriber.mode,
        email=subscriber.email,
        endpoint=subscriber.endpoint,
        phone_number=subscriber.phone_number,
    )


# Only what sending needs, without the ORM: building objects for every claimed row
# cost more than the query.
_ADDRESSEES = select(
    Subscriber.id,
    Subscriber.mode,
    Subscriber.email,
    Subscriber.endpoint,
    Subscriber.phone_number,
    Subscriber.token_hash,
    Subscriber.unsubscribed_at.is_not(None).label("unsubscribed"),
    or_(Subscriber.quarantined_at.is_not(None), Subscriber.disabled_reason.is_not(None)).label(
        "disabled"
    ),
)
_Addressee = Row[str, SubscriberMode, str | None, str | None, str | None, str, bool, bool]


def _skip_reason(subscriber: _Addressee | None) -> str | None:
    if subscriber is None:
        return "skipped: the subscriber is gone"
    if subscriber.unsubscribed:
        return "skipped: the subscriber unsubscribed"
    if subscriber.disabled:
        return "skipped: the subscriber is disabled"
    return None


@dataclass(frozen=True)
class _Context:
    """What every message's links are built from: their key and address."""

    secret: str
    base_url: str


def prepare(
    session: Session, claimed: Sequence[_Claimed], *, context: _Context, worker_id: str
) -> list[Job]:
    """Load what the claimed deliveries need; fail (without sending) those whose
    subscriber has left or been disabled since the fan-out."""
    subscribers = {
        s.id: s
        for s in session.execute(
            _ADDRESSEES.where(Subscriber.id.in_({c.subscriber_id for c in claimed}))
        )
    }
    notifications = {
        n.id: n
        for n in session.scalars(
            select(Notification).where(Notification.id.in_({c.notification_id for c in claimed}))
        )
    }
    jobs: list[Job] = []
    skipped: list[Outcome] = []
    for row in claimed:
        subscriber = subscribers.get(row.subscriber_id)
        reason = _skip_reason(subscriber)
        if reason is not None or subscriber is None:
            skipped.append(Outcome(row.id, row.subscriber_id, Result.FAILED, error=reason))
            continue
        jobs.append(_job(row, subscriber, notifications[row.notification_id], context))
    if skipped:
        _record_unsent(session, skipped, worker_id)
    return jobs


def _job(
    row: _Claimed, subscriber: _Addressee, notification: Notification, context: _Context
) -> Job:
    recipient = recipient_of(subscriber)
    kind = NotificationKind(notification.kind)
    message = Outgoing(
        delivery_id=row.id,
        idempotency_key=f"{row.notification_id}.{row.subscriber_id}",
        kind=kind,
        # One object for all of a claim's deliveries of this notification (the session's
        # identity map); `_Run._share_payloads` makes it one across claims.
        payload=notification.payload,
        recipient=recipient,
        links=links_for(
            context.secret,
            subscriber,
            base_url=context.base_url,
            incident_id=notification.incident_id,
            confirm=kind is NotificationKind.CONFIRM_SUBSCRIPTION,
        ),
        attempt=row.attempts,
    )
    return Job(
        message=message,
        destination=destination_of(recipient),
        created_at=row.created_at,
        notification_id=row.notification_id,
    )


def retry_delay(attempts: int, *, base: float, cap: float = RETRY_CAP_SECONDS) -> float:
    """Seconds until the next try: doubling from `base` up to `cap`, jittered ±50 %."""
    exponent = min(max(attempts - 1, 0), 30)
    jitter: float = random.uniform(0.5, 1.5)  # noqa: S311 - not a secret
    return min(cap, base * 2.0**exponent) * jitter


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


# --- the sending side ----------------------------------------------------------------------


class DeliveryWorker:
    """Claims and sends deliveries until stopped; run one per process (several on PostgreSQL).

    `notifiers` maps each mode to the channel that sends it; by default every configured
    channel is built from `settings`, and closed again when a run ends.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        notifiers: Mapping[SubscriberMode, Notifier] | None = None,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.id = worker_id or new_worker_id()
        self.settings = settings
        self.totals: Counter[Result] = Counter()
        self._factory = factory
        self._given = notifiers
        self._context = _Context(secret=settings.resolved_secret_key(), base_url=settings.base_url)

    async def run(self, stop: asyncio.Event, *, until_idle: bool = False) -> None:
        """Deliver until `stop` is set, or with `until_idle` until nothing is due or in flight.

        Then stop claiming, hand back the claims not yet started, finish the sends in
        flight, record every outcome and return.
        """
        notifiers = self._given if self._given is not None else _build_notifiers(self.settings)
        run = _Run(self, notifiers)
        try:
            await run.claim_until(stop, until_idle=until_idle)
        finally:
            await run.finish()
            if self._given is None:
                await _close(notifiers.values())
        logger.info("delivery worker %s stopped: %s", self.id, dict(self.totals))

    def claim_jobs(self, limit: int, hasten: Collection[int] = ()) -> Claims:
        """Claim and prepare up to `limit` deliveries (the database side of a run),
        first making `hasten`, claims of ours turned away earlier, due now."""
        with transaction(self._factory) as session:
            now = utcnow()
            if hasten:
                session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id.in_(list(hasten)),
                        Delivery.status == DeliveryStatus.PENDING,
                        Delivery.claimed_by == self.id,
                    )
                    .values(next_attempt_at=now),
                    execution_options={"synchronize_session": False},
                )
            claimed = claim(session, worker_id=self.id, limit=limit, now=now)
            if not claimed:
                return Claims([], 0)
            jobs = prepare(session, claimed, context=self._context, worker_id=self.id)
        return Claims(jobs, len(claimed) - len(jobs))

    def reclaim(self, keep: Collection[int] = ()) -> int:
        """Take back expired claims except `keep`; return how many (the database side)."""
        with transaction(self._factory) as session:
            return reclaim_expired(
                session,
                now=utcnow(),
                lease_seconds=self.settings.delivery_lease_seconds,
                keep=keep,
            )

    def record(self, outcomes: Sequence[Outcome]) -> bool:
        """Write a batch of outcomes; True once written (the database side of a run)."""
        with transaction(self._factory) as session:
            record(
                session,
                outcomes,
                worker_id=self.id,
                now=utcnow(),
                disable_after=self.settings.delivery_disable_after,
            )
        return True

    def failure(
        self,
        job: Job,
        error: str,
        *,
        permanent: bool,
        started: float,
        retry_after: float | None = None,
    ) -> Outcome:
        """A permanent error fails the delivery; a temporary one is retried later (after
        `retry_after` seconds if the receiver named a time, else with backoff), until
        `delivery_retry_hours` after the delivery was queued."""
        now = utcnow()
        ms = _elapsed_ms(started)
        window_ends = job.created_at + timedelta(hours=self.settings.delivery_retry_hours)
        expired = now >= window_ends
        if permanent or expired:
            if not permanent:
                error = f"gave up after {job.message.attempt} attempts: {error}"
            return Outcome(
                job.delivery_id,
                job.subscriber_id,
                Result.FAILED,
                error=error,
                duration_ms=ms,
                counts_against_subscriber=True,
            )
        if retry_after is None:
            delay = retry_delay(job.message.attempt, base=self.settings.delivery_retry_base_seconds)
        else:
            # Waiting past the end of the retry window would only delay the last try.
            delay = min(retry_after, (window_ends - now).total_seconds())
        return Outcome(
            job.delivery_id,
            job.subscriber_id,
            Result.RETRY,
            error=error,
            duration_ms=ms,
            next_attempt_at=now + timedelta(seconds=delay),
        )


@dataclass
class _Lane:
    """One destination's jobs, sent in order by at most `per_destination` runners."""

    waiting: deque[Job] = field(default_factory=deque)
    queued: int = 0
    """Jobs admitted and not done yet: those waiting and those being sent."""
    runners: int = 0
    refused: bool = False
    """Claims were turned away: say so once the queue has room again."""


class _Lanes:
    """Per-destination queues, so that a slow or dead receiver only slows its own messages.

    Each destination keeps about QUEUE_SECONDS of work in memory at its recent pace;
    claims beyond that go back to the table, due when their turn should come.
    """

    def __init__(self, per_destination: int, max_queue: int) -> None:
        self.per_destination = per_destination
        self.max_queue = max_queue
        self.lanes: dict[str, _Lane] = {}
        self.paces: dict[str, float] = {}
        """Recent seconds between two sends to each destination finishing (an average)."""
        self.last_done: dict[str, float] = {}

    def admit(self, destination: str) -> _Lane | None:
        """The lane to queue on, or None when the destination already has enough queued."""
        lane = self.lanes.get(destination)
        if lane is None:
            lane = self.lanes[destination] = _Lane()
        if lane.queued >= self._capacity(destination):
            lane.refused = True
            return None
        lane.queued += 1
        return lane

    def leave(self, destination: str, lane: _Lane, seconds: float | None) -> bool:
        """Count a send as done; return True if its lane, full before, now has room."""
        lane.queued -= 1
        if not lane.queued:
            del self.lanes[destination]
        if seconds is not None:
            self._measure(destination, seconds)
        if lane.refused and lane.queued <= self._capacity(destination) // 2:
            lane.refused = False
            return True
        return False

    def _measure(self, destination: str, seconds: float) -> None:
        if len(self.paces) >= MAX_PACES and destination not in self.paces:
            self.paces.clear()
            self.last_done.clear()
        now = time.monotonic()
        last = self.last_done.get(destination)
        self.last_done[destination] = now
        # Never more than the send took: time the destination sat idle is not its pace.
        interval = seconds if last is None else min(now - last, seconds)
        pace = self.paces.get(destination)
        # The first send replaces the guess, which may be far off either way.
        self.paces[destination] = (
            seconds / self.per_destination
            if pace is None
            else pace + PACE_WEIGHT * (interval - pace)
        )

    def defer(self, destination: str) -> float:
        """Seconds until claims turned away now should come back: when the destination's
        queue should be down to half, at its recent pace. Those turned away together come
        back together, so that they are claimed again in one batch."""
        if destination not in self.paces:
            # Only the guess sized this queue: soon there is a real pace to go by.
            return MIN_DEFER_SECONDS
        lane = self.lanes.get(destination)
        backlog = (lane.queued if lane else 0) - self._capacity(destination) // 2
        seconds = backlog * self._pace(destination)
        return min(max(seconds, MIN_DEFER_SECONDS), MAX_DEFER_SECONDS)

    def has_room(self, destination: str) -> bool:
        """The destination's queue is down to half (or empty): claims may come back."""
        lane = self.lanes.get(destination)
        return lane is None or lane.queued <= self._capacity(destination) // 2

    def _capacity(self, destination: str) -> int:
        queue = int(QUEUE_SECONDS / max(self._pace(destination), 1e-4))
        return self.per_destination + min(self.max_queue, max(self.per_destination, queue))

    def _pace(self, destination: str) -> float:
        return self.paces.get(destination, FIRST_PACE_SECONDS / self.per_destination)


class _Run:
    """One run of a worker: the claim loop, the sends in flight and the outcome writer."""

    def __init__(self, worker: DeliveryWorker, notifiers: Mapping[SubscriberMode, Notifier]):
        settings = worker.settings
        self.worker = worker
        self.notifiers = notifiers
        self.batch_size = settings.delivery_batch_size
        # At most this many claims are held in memory, whatever the fan-out's size.
        self.max_held = settings.delivery_concurrency + 2 * settings.delivery_batch_size
        self.timeout = settings.delivery_timeout_seconds
        self.reclaim_every = min(max(settings.delivery_lease_seconds / 3, 0.5), 60.0)
        self.slots = asyncio.Semaphore(settings.delivery_concurrency)
        self.database = _database_side(worker)
        # A destination fast enough may use all of it: were its lane smaller than what is
        # held, every batch of a one-destination fan-out would turn some claims away, only
        # to claim them again later.
        per_destination = settings.delivery_per_destination
        self.lanes = _Lanes(per_destination, max(self.max_held - per_destination, 0))
        self.held: dict[int, Job] = {}
        """Every claim not done yet, waiting or being sent, by delivery id."""
        self.runners: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.room = asyncio.Event()
        self.drained = asyncio.Event()
        self.outcomes: list[Outcome] = []
        self.has_outcomes = asyncio.Event()
        self.batch_full = asyncio.Event()
        self.closing = False
        self.deferred_until = 0.0
        self.payloads: dict[str, dict[str, Any]] = {}
        self.deferring: dict[int, str] = {}
        """Claims turned away, by destination, until their release is written."""
        self.turned_away: dict[str, list[int]] = {}
        """Claims turned away and released, by destination, that may be hastened."""
        self.untracked = False
        self.recorder = asyncio.create_task(self._record_forever())

    # claiming

    async def claim_until(self, stop: asyncio.Event, *, until_idle: bool) -> None:
        next_reclaim = 0.0
        # A recorder that died of a bug ends the run (finish() raises its error): claiming
        # more would only pile up outcomes that cannot be written.
        while not stop.is_set() and not self.recorder.done():
            if time.monotonic() >= next_reclaim:
                taken = await self._guarded("reclaim", self._in_flight())
                if taken:
                    logger.warning("took back %d deliveries whose lease ran out", taken)
                next_reclaim = time.monotonic() + self.reclaim_every
            # Cleared before claiming, so room made while the claim runs is not missed.
            self.room.clear()
            wanted = self.batch_size if self._has_room() else 0
            jobs = await self._claim(wanted, self._to_hasten() if wanted else [])
            deferred = self._start(jobs)
            if until_idle and self._idle(jobs):
                return
            await self._pause(stop, wanted=wanted, got=len(jobs), deferred=deferred)

    def _has_room(self) -> bool:
        return len(self.held) + self.batch_size <= self.max_held

    def _in_flight(self) -> set[int]:
        """Our claims not yet recorded: slow perhaps, but not abandoned."""
        return set(self.held).union(o.delivery_id for o in self.outcomes)

    async def _claim(self, wanted: int, hasten: list[int]) -> list[Job]:
        if not wanted:
            return []
        claims: Claims | None = await self._guarded("claim_jobs", wanted, hasten)
        if claims is None:
            return []
        self.worker.totals[Result.FAILED] += claims.skipped
        return self._share_payloads(claims.jobs)

    def _share_payloads(self, jobs: list[Job]) -> list[Job]:
        """Give every job of a notification the same payload object, whichever claim it
        came in. Channels render a notification's message once per payload object
        (`render.Drafts`), and each reply of a database process carries its own copy:
        without this, every batch rendered the notification's templates again."""
        for job in jobs:
            kept = self.payloads.setdefault(job.notification_id, job.message.payload)
            if kept is not job.message.payload:
                job.message = replace(job.message, payload=kept)
        while len(self.payloads) > PAYLOADS_KEPT:
            del self.payloads[next(iter(self.payloads))]
        return jobs

    async def _guarded(self, method: str, *args: Any) -> Any:
        """`method` of the database side, or None when the database could not be reached."""
        try:
            return await self.database.call(method, *args)
        except (OperationalError, DatabaseUnreachable):
            # The database being away or locked must not stop the sends in flight;
            # the next round tries again.
            logger.exception("delivery worker could not reach the database")
            return None

    def _idle(self, jobs: list[Job]) -> bool:
        if jobs or self.held:
            return False
        # Claims turned away come back at their time, unless all were hastened back.
        waiting = self.deferring or self.turned_away or self.untracked
        return not waiting or time.monotonic() >= self.deferred_until

    async def _pause(self, stop: asyncio.Event, *, wanted: int, got: int, deferred: int) -> None:
        """Claim again at once after a full batch that all found room; after a full
        memory or a batch partly turned away, once room is made; otherwise poll."""
        if wanted and got == wanted and not deferred:
            return
        if not wanted or deferred:
            await _wait_any([stop, self.room], IDLE_POLL_SECONDS)
            return
        self.drained.clear()
        await _wait_any([stop, self.drained] if self.held else [stop], IDLE_POLL_SECONDS)

    # sending

    def _start(self, jobs: list[Job]) -> int:
        """Queue each job on its destination's lane; return how many were turned away."""
        deferred = 0
        for job in jobs:
            lane = self.lanes.admit(job.destination)
            if lane is None:
                self._defer(job)
                deferred += 1
                continue
            lane.waiting.append(job)
            self.held[job.delivery_id] = job
            if lane.runners < self.lanes.per_destination:
                lane.runners += 1
                runner = asyncio.create_task(self._run_lane(job.destination, lane))
                self.runners.add(runner)
                runner.add_done_callback(self._runner_done)
        return deferred

    def _to_hasten(self) -> list[int]:
        """Claims turned away whose destination has room again: they need not wait for
        the time they were given, which was only a guess of when that would be."""
        ready = [d for d in self.turned_away if self.lanes.has_room(d)]
        return [i for d in ready for i in self.turned_away.pop(d)]

    def _defer(self, job: Job) -> None:
        seconds = self.lanes.defer(job.destination)
        self.deferring[job.delivery_id] = job.destination
        self.deferred_until = max(self.deferred_until, time.monotonic() + seconds)
        back = utcnow() + timedelta(seconds=seconds)
        self._put(
            Outcome(job.delivery_id, job.subscriber_id, Result.RELEASED, next_attempt_at=back)
        )

    async def _run_lane(self, destination: str, lane: _Lane) -> None:
        """Send the lane's jobs one after another until none is left or the run stops.

        A runner takes its next job only once it holds a send slot, so that one waiting
        for a slot holds no job, and stopping has nothing to take back from it.
        """
        try:
            while True:
                async with self.slots:
                    if self.stopping or not lane.waiting:
                        return
                    job = lane.waiting.popleft()
                    outcome = await self._attempt(job)
                self._done(destination, lane, job, outcome)
        finally:
            lane.runners -= 1

    def _runner_done(self, runner: asyncio.Task[None]) -> None:
        self.runners.discard(runner)
        if not runner.cancelled() and runner.exception() is not None:
            logger.error("delivery runner failed", exc_info=runner.exception())

    def _done(self, destination: str, lane: _Lane, job: Job, outcome: Outcome) -> None:
        self.held.pop(job.delivery_id, None)
        ms = outcome.duration_ms
        if self.lanes.leave(destination, lane, None if ms is None else ms / 1000):
            self.room.set()
        if len(self.held) + self.batch_size == self.max_held:
            self.room.set()
        if not self.held:
            self.drained.set()
        self._put(outcome)

    async def _attempt(self, job: Job) -> Outcome:
        mode = job.message.recipient.mode
        notifier = self.notifiers.get(mode)
        started = time.monotonic()
        if notifier is None:
            return self.worker.failure(
                job, f"no {mode.value} channel is configured", permanent=False, started=started
            )
        try:
            async with asyncio.timeout(self.timeout):
                await notifier.send(job.message)
        except NotifyError as exc:
            return self.worker.failure(
                job,
                exc.message,
                permanent=exc.permanent,
                started=started,
                retry_after=exc.retry_after,
            )
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
            return self.worker.failure(job, error, permanent=False, started=started)
        except Exception as exc:
            # A channel bug: retried like a temporary error rather than losing the message.
            logger.exception("%s channel raised instead of NotifyError", mode.value)
            error = f"internal error ({type(exc).__name__})"
            return self.worker.failure(job, error, permanent=False, started=started)
        return Outcome(
            job.delivery_id, job.subscriber_id, Result.SENT, duration_ms=_elapsed_ms(started)
        )

    # recording

    def _put(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.has_outcomes.set()
        if len(self.outcomes) >= RECORD_EVERY:
            self.batch_full.set()

    async def _record_forever(self) -> None:
        while True:
            await self.has_outcomes.wait()
            if not self.closing:
                await _wait_any([self.batch_full], RECORD_AFTER_SECONDS)
            batch, self.outcomes = self.outcomes, []
            self.has_outcomes.clear()
            self.batch_full.clear()
            if batch:
                await self._write(batch)
            if self.closing and not self.outcomes:
                return

    async def _write(self, batch: list[Outcome]) -> None:
        for attempt in range(WRITE_TRIES):
            if await self._guarded("record", batch) is not None:
                self.worker.totals.update(o.result for o in batch)
                self._handed_back(batch)
                return
            await asyncio.sleep(0.5 * 2**attempt)
        # The rows stay claimed; once their lease runs out they are sent again.
        logger.error("could not record %d delivery outcomes", len(batch))

    def _handed_back(self, batch: list[Outcome]) -> None:
        """Note the claims turned away that are now back in the table, due later."""
        for outcome in batch:
            destination = self.deferring.pop(outcome.delivery_id, None)
            if destination is None:
                continue
            waiting = self.turned_away.setdefault(destination, [])
            if len(waiting) < self.max_held:
                waiting.append(outcome.delivery_id)
            else:
                # Not kept, so as not to grow with the fan-out: it comes back at its time.
                self.untracked = True

    async def finish(self) -> None:
        self.stopping = True
        for destination, lane in list(self.lanes.lanes.items()):
            while lane.waiting:
                # Never attempted: handed back untouched.
                job = lane.waiting.popleft()
                released = Outcome(job.delivery_id, job.subscriber_id, Result.RELEASED)
                self._done(destination, lane, job, released)
        await asyncio.gather(*self.runners, return_exceptions=True)
        self.closing = True
        self.has_outcomes.set()
        try:
            await self.recorder
        finally:
            await self.database.close()


class DatabaseUnreachable(Exception):
    """The database side's process could not reach the database (its OperationalError)."""


class _OnThread:
    """The database side on one thread of this process, for all of a run's database work:
    claims and writes never wait on each other's locks (SQLite's busy handler waits by
    sleeping)."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self._worker = worker
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deliveries")

    async def call(self, method: str, *args: Any) -> Any:
        work = partial(getattr(self._worker, method), *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def close(self) -> None:
        self._executor.shutdown(wait=False)


class _InProcess:
    """The database side in a process of its own.

    Claiming, preparing (links are signed there) and recording cost about a third of a
    webhook's CPU; on a thread they held the GIL the sending loop needs. The child
    answers one call at a time over a pipe; what it returns are plain rows (`Claims`,
    whose jobs of one notification share their payload object in each reply). It ignores
    SIGTERM and SIGINT, so that a stop signal sent to the whole process group still
    lets this process record the sends in flight, and exits when the pipe closes: when
    the run ends, or this process dies.
    """

    def __init__(self, worker: DeliveryWorker) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(
            target=_serve_database,
            args=(theirs, worker.settings, worker.id),
            name=f"tocsin-deliveries-{worker.id}",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deliveries")

    async def call(self, method: str, *args: Any) -> Any:
        work = partial(self._exchange, method, args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def _exchange(self, method: str, args: tuple[Any, ...]) -> Any:
        try:
            self._pipe.send((method, args))
            kind, value = self._pipe.recv()
        except (EOFError, OSError) as exc:
            raise RuntimeError("the delivery database process has gone") from exc
        if kind == "ok":
            return value
        if kind == "unreachable":
            raise DatabaseUnreachable(value)
        raise RuntimeError(f"the delivery database process failed:\n{value}")

    async def close(self) -> None:
        self._pipe.close()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._process.join, 10)
        if self._process.is_alive():
            self._process.kill()
        self._executor.shutdown(wait=False)


_DATABASE_METHODS = frozenset({"claim_jobs", "reclaim", "record"})


def _serve_database(pipe: Connection, settings: Settings, worker_id: str) -> None:
    """The database side's process: answer calls until the pipe closes."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = make_engine(settings.database_url)
    worker = DeliveryWorker(make_sessionmaker(engine), settings, worker_id=worker_id)
    try:
        while True:
            try:
                method, args = pipe.recv()
            except (EOFError, OSError):
                return
            if method not in _DATABASE_METHODS:
                reply: tuple[str, Any] = ("failed", f"no such call: {method}")
            else:
                try:
                    reply = ("ok", getattr(worker, method)(*args))
                except OperationalError as exc:
                    reply = ("unreachable", str(exc.orig or exc).splitlines()[0][:500])
                except Exception:
                    reply = ("failed", traceback.format_exc())
            pipe.send(reply)
    finally:
        engine.dispose()


def _database_side(worker: DeliveryWorker) -> _OnThread | _InProcess:
    database = make_url(worker.settings.database_url).database or ""
    # An in-memory SQLite database exists only in this process.
    if not worker.settings.delivery_database_process or database in ("", ":memory:"):
        return _OnThread(worker)
    return _InProcess(worker)


async def _wait_any(events: list[asyncio.Event], timeout: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _build_notifiers(settings: Settings) -> Mapping[SubscriberMode, Notifier]:
    from tocsin.notify.channels import build_notifiers

    return build_notifiers(settings)


async def _close(notifiers: Iterable[Notifier]) -> None:
    for notifier in set(notifiers):
        with contextlib.suppress(Exception):
            await notifier.aclose()


# --- progress ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanOut:
    """How far one notification's deliveries have got."""

    notification_id: str
    kind: NotificationKind
    title: str
    created_at: datetime
    counts: dict[str, int]
    incident_id: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts[DeliveryStatus.SENT] + self.counts[DeliveryStatus.FAILED]


def fan_outs(
    session: Session,
    *,
    incident_id: str | None = None,
    page_id: str | None = None,
    limit: int = 10,
) -> list[FanOut]:
    """The latest notifications (of one incident or page, or of any), oldest first,
    with counts."""
    query = select(Notification).order_by(Notification.created_at.desc()).limit(limit)
    if incident_id is not None:
        query = query.where(Notification.incident_id == incident_id)
    if page_id is not None:
        query = query.where(Notification.page_id == page_id)
    notes = list(reversed(session.scalars(query).all()))
    counts = outbox.delivery_counts(session, notification_ids=[n.id for n in notes])
    return [
        FanOut(
            notification_id=n.id,
            kind=NotificationKind(n.kind),
            title=_title(n.payload),
            created_at=n.created_at,
            counts=counts[n.id],
            incident_id=n.incident_id,
        )
        for n in notes
    ]


def _title(payload: dict[str, Any]) -> str:
    incident = payload.get("incident")
    if isinstance(incident, dict):
        return str(incident.get("name", ""))
    return ""
