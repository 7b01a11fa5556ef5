from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from factories import component
from tocsin.audit.service import CLI
from tocsin.components.status import ComponentStatus
from tocsin.db import transaction, utcnow
from tocsin.monitors import rollups
from tocsin.monitors import service as monitors
from tocsin.monitors.models import CheckResult, Monitor, MonitorRollup, RollupPeriod
from tocsin.monitors.probes import ProbeResult
from tocsin.monitors.scheduler import MonitorScheduler
from tocsin.monitors.schemas import MonitorCreate
from tocsin.pages.models import Page
from tocsin.settings import Settings


class Receiver(ThreadingHTTPServer):
    """A local HTTP target: /slow/<s> answers after s seconds, /fail answers 500."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.hits[self.path] += 1
            self.server.active += 1
            self.server.peak = max(self.server.peak, self.server.active)
        try:
            if self.path.startswith("/slow/"):
                time.sleep(float(self.path.rsplit("/", 1)[1]))
            status = 500 if self.path.startswith("/fail") else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        finally:
            with self.server.lock:
                self.server.active -= 1

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def add(session: Session, page: Page, name: str, target: str, **fields: object) -> Monitor:
    data = MonitorCreate.model_validate(
        {"name": name, "kind": "http", "target": target, "timeout_seconds": 5, **fields}
    )
    monitor = monitors.create_monitor(session, page=page, data=data, actor=CLI, allow_private=True)
    monitor.next_run_at = utcnow()
    return monitor


def results(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        rows = session.execute(
            select(CheckResult.monitor_id, func.count()).group_by(CheckResult.monitor_id)
        )
        return {monitor_id: count for monitor_id, count in rows}


async def run_until(
    schedulers: list[MonitorScheduler], done: object, *, timeout: float = 10.0
) -> float:
    """Run the schedulers until `done()` is true; return the seconds that took."""
    assert callable(done)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in schedulers]
    started = time.monotonic()
    try:
        while not done():
            assert time.monotonic() - started < timeout, "timed out"
            await asyncio.sleep(0.05)
        return time.monotonic() - started
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def test_it_runs_due_checks_on_time_and_applies_the_rules(
    session: Session,
    page: Page,
    factory: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    api = component(session, page, "API")
    ok = [add(session, page, f"ok {i}", f"{receiver.url}/ok/{i}") for i in range(5)]
    failing = add(
        session,
        page,
        "failing",
        f"{receiver.url}/fail",
        component_ids=[api.id],
        failure_threshold=1,
        window=1,
    )
    session.commit()
    scheduler = MonitorScheduler(factory, settings)

    asyncio.run(run_until([scheduler], lambda: len(results(factory)) == 6))

    session.expire_all()
    assert all(m.last_ok for m in ok)
    assert failing.last_ok is False
    assert failing.last_error == "HTTP 500" or "500" in str(failing.last_error)
    assert api.status is ComponentStatus.MAJOR_OUTAGE
    assert all(m.next_run_at > utcnow() + timedelta(seconds=50) for m in [*ok, failing])
    assert all(m.claimed_by is None for m in [*ok, failing])
    # Lateness is measured against the schedule: due checks start within a second or so
    # (bench/monitors.py measures it properly); 3 s leaves room for a busy test machine.
    assert len(scheduler.lateness) == 6
    assert max(scheduler.lateness) < 3.0


def test_a_slow_check_does_not_delay_the_others(
    session: Session,
    page: Page,
    factory: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    slow = add(session, page, "slow", f"{receiver.url}/slow/6")
    fast = [add(session, page, f"fast {i}", f"{receiver.url}/fast/{i}") for i in range(20)]
    session.commit()
    fast_ids = {m.id for m in fast}
    scheduler = MonitorScheduler(factory, settings, concurrency=5)

    # Every fast check is recorded while the slow one still has seconds to go (the
    # margin is wide so a machine busy with other tests cannot blur it).
    asyncio.run(run_until([scheduler], lambda: fast_ids <= set(results(factory)), timeout=5.0))

    # The slow check was recorded too before the scheduler returned.
    assert results(factory)[slow.id] == 1


def test_concurrency_is_bounded(
    session: Session,
    page: Page,
    factory: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    for i in range(12):
        add(session, page, f"m {i}", f"{receiver.url}/slow/0.3?{i}")
    session.commit()
    scheduler = MonitorScheduler(factory, settings, concurrency=3)

    asyncio.run(run_until([scheduler], lambda: len(results(factory)) == 12))

    assert scheduler.peak_probing == 3
    assert receiver.peak <= 3


def test_two_workers_share_the_checks_with_no_double_runs(
    session: Session,
    page: Page,
    factory: sessionmaker[Session],
    settings: Settings,
    receiver: Receiver,
) -> None:
    created = [add(session, page, f"m {i}", f"{receiver.url}/m/{i}") for i in range(60)]
    session.commit()
    workers = [
        MonitorScheduler(factory, settings, worker_id=f"w{i}", concurrency=5) for i in range(2)
    ]

    asyncio.run(run_until(workers, lambda: len(results(factory)) == 60))

    assert set(results(factory).values()) == {1}
    assert sorted(receiver.hits.values()) == [1] * 60
    assert sum(w.totals["ok"] for w in workers) == len(created)
    assert all(w.totals["ok"] for w in workers), "both workers took a share"


def test_a_live_claim_is_skipped_by_other_workers(
    session: Session, page: Page, factory: sessionmaker[Session], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED needs PostgreSQL; SQLite runs a single worker")
    for i in range(10):
        add(session, page, f"m {i}", f"https://example.com/{i}")
    session.commit()
    now = utcnow() + timedelta(seconds=1)

    with factory() as first, factory() as second:
        mine = monitors.claim_due(first, worker_id="a", limit=4, now=now)
        # `first` has not committed: its rows are locked, and skipped rather than waited on.
        theirs = monitors.claim_due(second, worker_id="b", limit=100, now=now)
        second.commit()
        first.commit()

    assert len(mine) == 4
    assert len(theirs) == 6
    assert not {d.id for d in mine} & {d.id for d in theirs}


def test_a_claimed_monitor_is_not_claimed_again_until_its_lease_ends(
    session: Session, page: Page, factory: sessionmaker[Session]
) -> None:
    add(session, page, "m", "https://example.com/")
    session.commit()
    now = utcnow()
    with transaction(factory) as s:
        assert len(monitors.claim_due(s, worker_id="a", limit=10, now=now)) == 1
    later = now + timedelta(seconds=61)
    with transaction(factory) as s:
        assert monitors.claim_due(s, worker_id="b", limit=10, now=later) == []
    with transaction(factory) as s:
        stale = later + monitors.CLAIM_LEASE
        assert len(monitors.claim_due(s, worker_id="b", limit=10, now=stale)) == 1


def test_heartbeats_are_judged_from_their_pings(
    session: Session, page: Page, factory: sessionmaker[Session], settings: Settings
) -> None:
    data = MonitorCreate(
        name="nightly backup", kind="heartbeat", interval_seconds=60, config={"grace_seconds": 0}
    )
    late = monitors.create_monitor(session, page=page, data=data, actor=CLI, allow_private=True)
    fine = monitors.create_monitor(session, page=page, data=data, actor=CLI, allow_private=True)
    session.flush()
    session.execute(
        update(Monitor).values(created_at=utcnow() - timedelta(minutes=5), next_run_at=utcnow())
    )
    session.commit()
    assert monitors.record_ping(session, token=str(fine.heartbeat_token))
    session.commit()

    outcomes = asyncio.run(MonitorScheduler(factory, settings).run_once([late.id, fine.id]))

    by_id = {o.due.id: o.result for o in outcomes}
    assert by_id[fine.id].ok
    assert not by_id[late.id].ok
    assert "no ping received" in str(by_id[late.id].error)


def test_closed_hours_and_days_are_rolled_up_and_raw_results_expire(
    session: Session, page: Page
) -> None:
    monitor = add(session, page, "m", "https://example.com/")
    monitor.created_at = datetime(2026, 5, 3, 22, 10, tzinfo=UTC)
    session.flush()
    start = datetime(2026, 5, 3, 23, 0, tzinfo=UTC)
    for minute in range(0, 120):
        ok = minute % 10 != 0  # one failure in ten
        monitors.observe(
            session,
            monitor=monitor,
            result=ProbeResult(ok=ok, latency_ms=float(minute % 60 + 1)),
            checked_at=start + timedelta(minutes=minute),
        )
    session.commit()

    written = rollups.roll_up(session, now=datetime(2026, 5, 4, 1, 3, tzinfo=UTC))
    session.commit()
    # Hours 23:00 and 00:00 and the day of 3 May have closed and settled; 01:00 is open.
    assert written == 3
    rows = {(r.period, r.start): r for r in session.scalars(select(MonitorRollup))}
    hour = rows[(RollupPeriod.HOUR, start)]
    assert (hour.checks, hour.failures, hour.availability) == (60, 6, 90.0)
    assert (hour.latency_p50, hour.latency_p95, hour.latency_p99) == (30.0, 57.0, 60.0)
    day = rows[(RollupPeriod.DAY, datetime(2026, 5, 3, tzinfo=UTC))]
    assert day.checks == 60
    assert (RollupPeriod.DAY, datetime(2026, 5, 4, tzinfo=UTC)) not in rows
    # Nothing is summarised twice.
    assert rollups.roll_up(session, now=datetime(2026, 5, 4, 1, 59, tzinfo=UTC)) == 0

    deleted = rollups.purge_results(session, before=datetime(2026, 5, 4, tzinfo=UTC))
    session.commit()
    assert deleted == 60
    remaining = session.scalar(select(func.count()).select_from(CheckResult))
    assert remaining == 60


def test_percentiles_use_the_nearest_rank() -> None:
    summary = rollups.summarise([(True, float(v)) for v in range(1, 101)] + [(False, None)])
    assert (summary.p50, summary.p95, summary.p99) == (50.0, 95.0, 99.0)
    assert summary.checks == 101
    assert summary.failures == 1
    assert rollups.summarise([]).p50 is None
