"""The monitor scheduler, run inside the worker: claim due checks, probe, record, roll up.

Three loops share one event loop:

- claiming: every poll, claim due monitors (a committed UPDATE … SKIP LOCKED that also moves
  each one's next run on), as long as fewer than twice `concurrency` are held;
- probing: one task per check, at most `concurrency` probing at once; each check has its
  own timeout, so a slow target only ever holds its own slot;
- recording: outcomes are written every RECORD_EVERY_SECONDS in one short transaction,
  with the rules and automation applied in that same transaction.

No stage waits for a whole batch: a check starts as soon as it is claimed and a slot is
free, and is recorded with whatever else finished around the same time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tocsin.db import transaction, utcnow
from tocsin.monitors import rollups
from tocsin.monitors import service as monitors
from tocsin.monitors.models import Monitor, MonitorKind
from tocsin.monitors.probes import ProbeConfigError, ProbeResult, run_probe
from tocsin.monitors.probes.heartbeat import Config as HeartbeatConfig
from tocsin.monitors.probes.heartbeat import evaluate_heartbeat
from tocsin.monitors.service import Due, Outcome
from tocsin.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

POLL_SECONDS = 0.25
BATCH_SIZE = 200
RECORD_EVERY_SECONDS = 0.2
HOUSEKEEPING_EVERY_SECONDS = 60.0
WRITE_TRIES = 4
LATENESS_KEPT = 100_000
RESTART_AFTER_SECONDS = 5.0


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class MonitorScheduler:
    """Runs monitors until stopped; one per worker process (several on PostgreSQL).

    `lateness` keeps how late recent checks started against their schedule, in seconds.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        *,
        worker_id: str | None = None,
        concurrency: int | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.id = worker_id or new_worker_id()
        self.settings = settings
        self.concurrency = concurrency or settings.monitors_concurrency
        self.poll_seconds = poll_seconds
        self.lateness: deque[float] = deque(maxlen=LATENESS_KEPT)
        self.totals: Counter[str] = Counter()
        self.peak_probing = 0
        self._factory = factory
        self._probing = 0
        self._slots = asyncio.Semaphore(self.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._room = asyncio.Event()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitors-db")

    # --- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run checks until `stop` is set; then finish the checks in flight, record them
        and return."""
        recorder = asyncio.create_task(self._record_until(stop))
        housekeeping = asyncio.create_task(self._housekeep_until(stop))
        try:
            while not stop.is_set():
                wanted = self._room_for()
                claimed = await self._claim(wanted) if wanted else []
                self._start(claimed)
                if wanted and len(claimed) == wanted:
                    continue
                self._room.clear()
                await _wait_any([stop, self._room] if not wanted else [stop], self.poll_seconds)
        finally:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await recorder
            housekeeping.cancel()
            await asyncio.gather(housekeeping, return_exceptions=True)
            await self._flush()
        logger.info("monitor scheduler %s stopped: %s", self.id, dict(self.totals))

    async def run_once(self, ids: Sequence[str] | None = None) -> list[Outcome]:
        """Run the given monitors (or every due one) once now and record them; for the CLI."""
        claimed = await self._claim(len(ids) if ids is not None else 10_000, ids=ids)
        self._start(claimed)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        done = list(self._outcomes)
        await self._flush()
        return done

    def _room_for(self) -> int:
        # Hold up to twice the concurrency, so a slot that frees up never waits for a claim,
        # without taking so much that other workers sit idle while checks queue here.
        return max(0, min(BATCH_SIZE, 2 * self.concurrency - len(self._tasks)))

    async def _claim(self, limit: int, ids: Sequence[str] | None = None) -> list[Due]:
        def claim() -> list[Due]:
            with transaction(self._factory) as session:
                return monitors.claim_due(
                    session, worker_id=self.id, limit=limit, now=utcnow(), ids=ids
                )

        return await self._guarded(claim) or []

    def _start(self, claimed: list[Due]) -> None:
        for due in claimed:
            task = asyncio.create_task(self._check(due))
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("monitor check task failed", exc_info=task.exception())

    # --- checking -------------------------------------------------------------------------

    async def _check(self, due: Due) -> None:
        if due.kind is MonitorKind.HEARTBEAT:
            started = utcnow()
            self._put(Outcome(due, _judge_heartbeat(due, started), started))
            return
        async with self._slots:
            self._probing += 1
            self.peak_probing = max(self.peak_probing, self._probing)
            started = utcnow()
            try:
                result = await self._probe(due, started)
            finally:
                self._probing -= 1
        self._put(Outcome(due, result, started))

    async def _probe(self, due: Due, started: datetime) -> ProbeResult:
        try:
            return await run_probe(
                due.kind.value,
                due.target,
                due.config,
                timeout=due.timeout,
                allow_private=self.settings.monitors_allow_private,
                now=started,
            )
        except ProbeConfigError as exc:
            return ProbeResult(ok=False, latency_ms=None, error=exc.message)
        except Exception as exc:
            # A probe bug must cost one result, not the scheduler.
            logger.exception("%s probe raised instead of returning a result", due.kind.value)
            return ProbeResult(
                ok=False, latency_ms=None, error=f"internal error ({type(exc).__name__})"
            )

    def _put(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self.lateness.append(outcome.lateness)
        self.totals["ok" if outcome.result.ok else "failed"] += 1

    # --- recording ------------------------------------------------------------------------

    async def _record_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _wait_any([stop], RECORD_EVERY_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        batch, self._outcomes = self._outcomes, []
        if not batch:
            return

        def write() -> int:
            with transaction(self._factory) as session:
                return monitors.record_outcomes(session, batch, worker_id=self.id)

        for attempt in range(WRITE_TRIES):
            moved = await self._guarded(write)
            if moved is not None:
                self.totals["moved"] += moved
                return
            await asyncio.sleep(0.2 * 2**attempt)
        # The claims lapse after their lease and the monitors run again then.
        logger.error("could not record %d monitor results", len(batch))

    async def _guarded(self, work: Callable[[], T], *, hot: bool = True) -> T | None:
        # Claims and records run one at a time on their own thread: they never wait for
        # each other's write lock (SQLite), and never queue in front of the default
        # executor, where every probe's getaddrinfo runs.
        try:
            if hot:
                return await asyncio.get_running_loop().run_in_executor(self._db, work)
            return await asyncio.to_thread(work)
        except DBAPIError:
            # The database being away, locked, or picking us as a deadlock victim must not
            # stop the checks in flight; the caller tries again.
            logger.exception("monitor scheduler could not use the database")
            return None

    # --- housekeeping ---------------------------------------------------------------------

    async def _housekeep_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._guarded(self.housekeep, hot=False)
            await _wait_any([stop], HOUSEKEEPING_EVERY_SECONDS)

    def housekeep(self) -> tuple[int, int]:
        """Summarise closed hours and delete raw results past retention, in short
        transactions; return (rollup rows written, results deleted)."""
        now = utcnow()
        keep = max(timedelta(days=self.settings.monitors_retention_days), rollups.MIN_RETENTION)
        written = deleted = 0
        while True:
            with transaction(self._factory) as session:
                count = rollups.roll_up(session, now=now)
            written += count
            if not count:
                break
        while True:
            with transaction(self._factory) as session:
                count = rollups.purge_results(session, before=now - keep)
            deleted += count
            if count < rollups.PURGE_BATCH:
                break
        return written, deleted


async def run_monitors(
    factory: sessionmaker[Session], settings: Settings, *, stop: asyncio.Event
) -> None:
    """Run monitors until `stop` is set; a crash of the scheduler restarts it after a pause."""
    while not stop.is_set():
        try:
            await MonitorScheduler(factory, settings).run(stop)
        except Exception:
            logger.exception("monitor scheduler failed; restarting")
            await _wait_any([stop], RESTART_AFTER_SECONDS)


def _judge_heartbeat(due: Due, now: datetime) -> ProbeResult:
    grace = HeartbeatConfig.model_validate(due.config).grace_seconds
    return evaluate_heartbeat(
        due.last_ping_at,
        timedelta(seconds=due.interval),
        timedelta(seconds=grace),
        now,
        since=due.since,
    )


def all_monitor_ids(session: Session) -> list[str]:
    """Every monitor the scheduler can run, paused or not."""
    query = select(Monitor.id).where(Monitor.kind != MonitorKind.ALERT).order_by(Monitor.name)
    return list(session.scalars(query))


async def _wait_any(events: list[asyncio.Event], timeout: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
