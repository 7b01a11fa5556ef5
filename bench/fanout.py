"""Fan-out benchmark: one incident to N subscribers, through `tocsin worker`, to real receivers.

    python bench/fanout.py [--n 100000] [--baseline-n 10000] [--mode both|email|webhook]
                           [--database-url postgresql+psycopg://…] [--concurrency 200]
                           [--per-destination 10] [--ports 20] [--workers 1]

Each round creates a fresh database with N confirmed subscribers, starts `tocsin worker`
in its own process, opens one incident through the service (the fan-out commits with
it) and waits until every delivery is recorded as sent. Emails go to aiosmtpd and
webhooks to a keep-alive HTTP server, each in its own process (tests/notify/receivers.py).

It prints deliveries per second, the time from the incident's commit to the first and
the last delivery received, and the worker's peak RSS; then, against the same receivers
in the same run, the rate of a bare aiosmtplib loop and a bare httpx loop on the same
connections as the worker (per_destination to the SMTP server, and per_destination to
each webhook destination), as the ceiling. Two rounds (--baseline-n and --n) show
whether memory grows with N.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from sqlalchemy import func, insert, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "notify"))

from receivers import Receiver  # noqa: E402

from tocsin import migrate  # noqa: E402
from tocsin.audit.service import CLI  # noqa: E402
from tocsin.db import make_engine, make_sessionmaker, new_id, utcnow  # noqa: E402
from tocsin.incidents import service as incidents  # noqa: E402
from tocsin.incidents.schemas import IncidentCreate  # noqa: E402
from tocsin.notify.base import Notifier, NotifyError, Outgoing  # noqa: E402
from tocsin.notify.channels import build_notifiers  # noqa: E402
from tocsin.notify.channels import email as email_channel  # noqa: E402
from tocsin.notify.channels import webhook as webhook_channel  # noqa: E402
from tocsin.notify.channels._http import encode_json  # noqa: E402
from tocsin.notify.links import links_for  # noqa: E402
from tocsin.notify.models import (  # noqa: E402
    Delivery,
    Notification,
    NotificationKind,
    Subscriber,
    SubscriberMode,
)
from tocsin.notify.render import parse_snapshot  # noqa: E402
from tocsin.notify.worker import recipient_of  # noqa: E402
from tocsin.pages import service as pages  # noqa: E402
from tocsin.pages.models import Page  # noqa: E402
from tocsin.settings import Settings  # noqa: E402

SECRET = "bench-secret-key-0123456789"
SENDER = "status@bench.example"
INSERT_CHUNK = 5000


@dataclass
class Setup:
    mode: str
    concurrency: int
    per_destination: int
    smtp: Receiver
    http: Receiver
    workdir: Path
    database_url: str | None
    workers: int = 1
    """Worker processes (PostgreSQL only), which share `concurrency` and `per_destination`."""


@dataclass
class Round:
    n: int
    seconds: float
    first: float
    """From the commit to the first message received: how soon the worker noticed."""
    rss_mb: float
    samples: dict[SubscriberMode, Outgoing | None]
    cpu_ms: float
    """The worker processes' CPU time (user + system) per delivery, their database
    processes' included."""

    @property
    def rate(self) -> float:
        return self.n / self.seconds


# --- the database ---------------------------------------------------------------------------


def fresh_database(setup: Setup, name: str) -> str:
    if setup.database_url is None:
        url = f"sqlite:///{setup.workdir / name}.db"
    else:
        server = make_url(setup.database_url)
        admin = make_engine(server.render_as_string(hide_password=False))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def drop_database(setup: Setup, name: str) -> None:
    if setup.database_url is None:
        return
    admin = make_engine(make_url(setup.database_url).render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def subscribe(factory: sessionmaker[Session], setup: Setup, n: int) -> str:
    """N confirmed subscribers, inserted in bulk; return the page id."""
    with factory() as session:
        page = pages.ensure_default_page(session, name="Bench")
        now = utcnow()
        for start in range(0, n, INSERT_CHUNK):
            rows = [row(setup, page.id, i, now) for i in range(start, min(n, start + INSERT_CHUNK))]
            session.execute(insert(Subscriber), rows)
        session.commit()
        return page.id


def row(setup: Setup, page_id: str, i: int, now: Any) -> dict[str, Any]:
    email = setup.mode == "email" or (setup.mode == "both" and i % 2 == 0)
    address = (
        f"user{i}@example{i % 97}.com"
        if email
        else setup.http.url(f"/hook/{i}", port=setup.http.ports[i % len(setup.http.ports)])
    )
    return {
        "id": new_id(),
        "page_id": page_id,
        "mode": SubscriberMode.EMAIL if email else SubscriberMode.WEBHOOK,
        "email": address if email else None,
        "endpoint": None if email else address,
        "subscription_key": hashlib.sha256(address.encode()).hexdigest(),
        "token_hash": secrets.token_hex(32),
        "skip_confirmation": True,
        "confirmed_at": now,
        "all_components": True,
        "failure_count": 0,
        "created_at": now,
        "updated_at": now,
    }


def open_incident(factory: sessionmaker[Session], page_id: str) -> float:
    """Open an incident through the service; return the wall-clock time of its commit."""
    with factory() as session:
        page = session.get(Page, page_id)
        assert page is not None
        incidents.create_incident(
            session,
            page=page,
            data=IncidentCreate(name="Payments API returning errors", body="Investigating."),
            actor=CLI,
        )
        session.commit()
        return time.time()


def counts(factory: sessionmaker[Session]) -> Counter[str]:
    with factory() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return Counter({status.value: count for status, count in rows})


def sample_message(factory: sessionmaker[Session], mode: SubscriberMode) -> Outgoing | None:
    """One real message of the fan-out, for the ceiling loops to send copies of."""
    with factory() as session:
        found = session.execute(
            select(Delivery, Subscriber, Notification)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Subscriber.mode == mode)
            .limit(1)
        ).first()
        if found is None:
            return None
        delivery, subscriber, notification = found
        return Outgoing(
            delivery_id=delivery.id,
            idempotency_key=delivery.idempotency_key,
            kind=NotificationKind(notification.kind),
            payload=notification.payload,
            recipient=recipient_of(subscriber),
            links=links_for(SECRET, subscriber, base_url="https://bench.example", incident_id=None),
        )


# --- the worker process ---------------------------------------------------------------------


def start_worker(setup: Setup, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": url,
        "TOCSIN_SECRET_KEY": SECRET,
        "TOCSIN_VAR_DIR": str(setup.workdir),
        "TOCSIN_BASE_URL": "https://bench.example",
        "TOCSIN_SMTP_HOST": "127.0.0.1",
        "TOCSIN_SMTP_PORT": str(setup.smtp.port),
        "TOCSIN_EMAIL_FROM": SENDER,
        "TOCSIN_WEBHOOKS_ALLOW_PRIVATE": "true",
        "TOCSIN_SCHEDULER_INTERVAL_SECONDS": "3600",
        # Together, the workers have as many connections and sends in flight as one
        # would, and as the ceiling loops.
        "TOCSIN_DELIVERY_CONCURRENCY": str(setup.concurrency // setup.workers),
        "TOCSIN_DELIVERY_PER_DESTINATION": str(setup.per_destination // setup.workers),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tocsin", "worker"], env=env, stdout=out, stderr=out
        )


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def family(pid: int) -> list[int]:
    """A worker process and its children (the database side's process)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [pid, *children]


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_round(setup: Setup, n: int, index: int) -> Round:
    name = f"tocsin_bench_{index}_{secrets.token_hex(4)}"
    url = fresh_database(setup, name)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        started = time.monotonic()
        page_id = subscribe(factory, setup, n)
        print(f"  {n:,} subscribers inserted in {time.monotonic() - started:.1f} s", flush=True)
        for w in range(setup.workers):
            workers.append(start_worker(setup, url, setup.workdir / f"worker-{index}-{w}.log"))
        time.sleep(3)  # imports and the first (empty) claim, so they don't count
        processes = [pid for worker in workers for pid in family(worker.pid)]
        cpu_before = sum(cpu_seconds(pid) for pid in processes)
        committed = open_incident(factory, page_id)
        wait_until_sent(factory, n, workers)
        cpu = sum(cpu_seconds(pid) for pid in processes) - cpu_before
        # Each worker's peak, with its database process's.
        rss = max(sum(peak_rss_mb(pid) for pid in family(worker.pid)) for worker in workers)
        first, last = received_between(setup, committed)
        samples = {mode: sample_message(factory, mode) for mode in SubscriberMode}
        return Round(
            n=n,
            seconds=last - committed,
            first=first - committed,
            rss_mb=rss,
            samples=samples,
            cpu_ms=cpu * 1000 / n,
        )
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        engine.dispose()
        drop_database(setup, name)


def wait_until_sent(
    factory: sessionmaker[Session], n: int, workers: list[subprocess.Popen[bytes]]
) -> None:
    while True:
        seen = counts(factory)
        if seen["sent"] == n:
            return
        if seen["failed"] or any(worker.poll() is not None for worker in workers):
            raise SystemExit(f"fan-out failed: {dict(seen)}; see the worker logs")
        # Each look counts every row, on the CPUs the worker and the database need: the
        # figures come from the receivers' clocks, so looking rarely costs them nothing.
        time.sleep(1.0)


def received_between(setup: Setup, since: float) -> tuple[float, float]:
    """When the first and the last message since `since` arrived."""
    times = [t for r in (setup.smtp, setup.http) for t in r.times() if t >= since]
    return min(times), max(times)


# --- the ceiling ----------------------------------------------------------------------------


def widths(setup: Setup) -> tuple[int, int]:
    """How many emails and webhooks the worker can have in flight at once: up to
    `per_destination` to the SMTP server and to each webhook destination, and up to
    `concurrency` in all. The ceiling loops run as many, no more."""
    emails = 0 if setup.mode == "webhook" else min(setup.per_destination, setup.concurrency)
    room = min(setup.concurrency - emails, setup.per_destination * len(setup.http.ports))
    return emails, 0 if setup.mode == "email" else room


def shares(setup: Setup, count: int, tasks: int) -> list[tuple[Iterator[int], int]]:
    """Webhooks 0 to count - 1 by destination (webhook i goes to port i mod ports, as in
    the fan-out), each destination with its share of `tasks`: as with the worker's lanes,
    none has more sends at once than connections, so none waits for its pool."""
    ports = len(setup.http.ports)
    return [
        (iter(range(port, count, ports)), tasks // ports + (port < tasks % ports))
        for port in range(ports)
    ]


async def bare_email(setup: Setup, count: int, message: bytes) -> None:
    numbers = itertools.count()

    async def connection() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=setup.smtp.port)
        await smtp.connect()
        while (i := next(numbers)) < count:
            body = message.replace(b"CEILING-ID", f"ceiling-{i}".encode())
            await smtp.sendmail(SENDER, [f"user{i}@example.com"], body)
        await smtp.quit()

    # The email channel keeps one pool of `per_destination` SMTP connections.
    await asyncio.gather(*(connection() for _ in range(min(widths(setup)[0], count))))


async def bare_http(setup: Setup, count: int, body: bytes) -> None:
    ports = setup.http.ports
    # Shared, as the channel shares it: loading the CA bundle takes milliseconds per client.
    context = httpx.create_ssl_context(trust_env=False)

    # The connections the webhook channel has: one of its own for each sender, and as
    # many senders per destination as the worker sends to one destination at once.
    async def loop(numbers: Iterator[int]) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(limits=limits, timeout=30, verify=context) as client:
            for i in numbers:
                url = setup.http.url(f"/hook/{i}", port=ports[i % len(ports)])
                headers = {"Content-Type": "application/json", "Idempotency-Key": f"ceiling-{i}"}
                await post_until_answered(client, url, body, headers)

    await asyncio.gather(
        *(
            loop(numbers)
            for numbers, tasks in shares(setup, count, widths(setup)[1])
            for _ in range(tasks)
        )
    )


async def post_until_answered(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> None:
    # Like the worker, try again on a dropped connection rather than give up the message.
    for _ in range(5):
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.TransportError:
            continue
        response.raise_for_status()
        return
    raise SystemExit(f"{url}: no answer after 5 tries")


def split(setup: Setup, n: int) -> tuple[int, int]:
    emails = n if setup.mode == "email" else 0 if setup.mode == "webhook" else (n + 1) // 2
    return emails, n - emails


def bare_ceiling(setup: Setup, n: int, samples: dict[SubscriberMode, Outgoing | None]) -> float:
    """Messages/s of bare aiosmtplib and httpx loops sending pre-built copies of the
    fan-out's messages: the transport's limit."""
    emails, hooks = split(setup, n)
    message = body = b""
    if (mail := samples[SubscriberMode.EMAIL]) is not None:
        mime = email_channel.build_message(mail, sender=email_channel.sender_address(SENDER))
        message = re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: <CEILING-ID@bench>", mime)
    if (hook := samples[SubscriberMode.WEBHOOK]) is not None:
        body = encode_json(webhook_channel.payload(hook, parse_snapshot(hook.payload)))

    async def both() -> None:
        await asyncio.gather(bare_email(setup, emails, message), bare_http(setup, hooks, body))

    return timed(both, n, "bare loops")


def timed(loops: Any, n: int, name: str) -> float:
    """Messages/s of running `loops()`, printing its CPU time per message too."""
    cpu = time.process_time()
    started = time.monotonic()
    asyncio.run(loops())
    rate = n / (time.monotonic() - started)
    print(
        f"  {name}: {rate:,.0f}/s; CPU {(time.process_time() - cpu) * 1000 / n:.2f} ms per message"
    )
    return rate


def channel_ceiling(setup: Setup, n: int, samples: dict[SubscriberMode, Outgoing | None]) -> float:
    """Messages/s of the channels' own `send()` called in a bare loop with the worker's
    concurrency: the transport plus building each message, without the worker."""
    emails, hooks = split(setup, n)
    settings = Settings(
        secret_key=SECRET,
        var_dir=setup.workdir,
        smtp_host="127.0.0.1",
        smtp_port=setup.smtp.port,
        email_from=SENDER,
        webhooks_allow_private=True,
        delivery_concurrency=setup.concurrency,
        delivery_per_destination=setup.per_destination,
    )
    email_width, webhook_width = widths(setup)

    async def loop(mode: SubscriberMode, work: list[tuple[Iterator[int], int]]) -> None:
        sample = samples[mode]
        if sample is None:
            return
        notifier = build_notifiers(settings, modes=[mode])[mode]

        async def one(numbers: Iterator[int]) -> None:
            for i in numbers:
                await send_until_sent(notifier, copy_of(setup, sample, i))

        await asyncio.gather(*(one(numbers) for numbers, tasks in work for _ in range(tasks)))
        await notifier.aclose()

    async def both() -> None:
        await asyncio.gather(
            loop(SubscriberMode.EMAIL, [(iter(range(emails)), email_width)]),
            loop(SubscriberMode.WEBHOOK, shares(setup, hooks, webhook_width)),
        )

    return timed(both, n, "channels' loop")


async def send_until_sent(notifier: Notifier, message: Outgoing) -> None:
    for _ in range(5):
        try:
            await notifier.send(message)
        except NotifyError:
            continue
        return
    raise SystemExit(f"{message.idempotency_key}: not sent after 5 tries")


def copy_of(setup: Setup, sample: Outgoing, i: int) -> Outgoing:
    if sample.recipient.mode is SubscriberMode.EMAIL:
        recipient = replace(sample.recipient, email=f"user{i}@example.com")
    else:
        port = setup.http.ports[i % len(setup.http.ports)]
        recipient = replace(sample.recipient, endpoint=setup.http.url(f"/hook/{i}", port=port))
    return replace(sample, idempotency_key=f"channel-{i}", recipient=recipient)


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--baseline-n", type=int, help="the smaller round (default: n / 10)")
    parser.add_argument("--mode", choices=["email", "webhook", "both"], default="both")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--per-destination", type=int, default=10)
    parser.add_argument("--ports", type=int, default=20, help="webhook receiver ports")
    parser.add_argument("--ceiling-n", type=int, default=20_000, help="messages per ceiling")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (PostgreSQL only)")
    args = parser.parse_args()
    if args.workers > 1 and not args.database_url:
        parser.error("SQLite runs a single worker: --workers needs --database-url")
    if args.concurrency % args.workers or args.per_destination % args.workers:
        parser.error("--concurrency and --per-destination must divide among the workers")
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, workdir: Path) -> None:
    smtp = Receiver("smtp", free_ports(1), workdir / "smtp.log").start()
    http = Receiver("http", free_ports(args.ports), workdir / "http.log").start()
    setup = Setup(
        mode=args.mode,
        concurrency=args.concurrency,
        per_destination=args.per_destination,
        smtp=smtp,
        http=http,
        workdir=workdir,
        database_url=args.database_url,
        workers=args.workers,
    )
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"fan-out benchmark: mode={args.mode}, {database}, {args.workers} worker(s),"
        f" {os.cpu_count()} CPUs",
        flush=True,
    )
    try:
        rounds = []
        for index, n in enumerate([args.baseline_n or max(args.n // 10, 1), args.n]):
            print(f"round {index + 1}: N = {n:,}", flush=True)
            result = run_round(setup, n, index)
            rounds.append(result)
            print(
                f"  worker: {result.rate:,.0f} deliveries/s; first delivery {result.first:.2f} s"
                f" and last {result.seconds:.1f} s after the commit; peak RSS"
                f" {result.rss_mb:.0f} MB; CPU {result.cpu_ms:.2f} ms per delivery",
                flush=True,
            )
        n = min(args.n, args.ceiling_n)
        print(f"ceilings: {n:,} messages each", flush=True)
        bare = bare_ceiling(setup, n, rounds[-1].samples)
        channels = channel_ceiling(setup, n, rounds[-1].samples)
        check_receivers(setup, sum(r.n for r in rounds))
    finally:
        smtp.stop()
        http.stop()
    report(rounds, bare, channels)


def check_receivers(setup: Setup, delivered: int) -> None:
    """Every delivery of the worker rounds arrived exactly once."""
    received = setup.smtp.received() + setup.http.received()
    ours = {
        key: n for key, n in received.items() if "ceiling-" not in key and "channel-" not in key
    }
    twice = sum(1 for n in ours.values() if n > 1)
    print(f"receivers: {len(ours):,} worker deliveries, {twice} more than once", flush=True)
    if len(ours) != delivered or twice:
        raise SystemExit(f"expected {delivered:,} deliveries, each once")


def report(rounds: list[Round], bare: float, channels: float) -> None:
    last = rounds[-1]
    print(f"worker at N = {last.n:,}: {last.rate:,.0f} deliveries/s")
    print(
        f"ceiling, bare aiosmtplib/httpx loops (pre-built messages): {bare:,.0f}/s;"
        f" ratio {last.rate / bare:.2f} (target >= 0.8)"
    )
    print(
        f"ceiling, the channels' send() in a bare loop (builds each message): "
        f"{channels:,.0f}/s; ratio {last.rate / channels:.2f}"
    )
    sizes = ", ".join(f"{r.rss_mb:.0f} MB at N = {r.n:,}" for r in rounds)
    print(f"worker peak RSS: {sizes}")


def free_ports(count: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


if __name__ == "__main__":
    main()
