"""Monitor scheduler benchmark: N HTTP checks at one interval against a real local receiver.

    python bench/monitors.py [--n 10000] [--interval 60] [--duration 180]
                             [--database-url postgresql+psycopg://…] [--concurrency 200]
                             [--ports 4]

It creates a fresh database with N HTTP monitors whose first runs are spread over the
first interval, starts a keep-alive HTTP server in its own process
(tests/notify/receivers.py) and runs the real `MonitorScheduler` in this process for
`--duration` seconds, recording every result with its rules, as the worker does. It
prints checks per second, lateness against schedule (when each check started minus when
it was due: p50, p99, max), CPU time (user + system, as a share of one core) and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "notify"))

from receivers import Receiver  # noqa: E402

from tocsin import migrate  # noqa: E402
from tocsin.db import make_engine, make_sessionmaker, new_id, utcnow  # noqa: E402
from tocsin.monitors.models import CheckResult, Monitor, MonitorKind  # noqa: E402
from tocsin.monitors.scheduler import MonitorScheduler  # noqa: E402
from tocsin.pages import service as pages  # noqa: E402
from tocsin.settings import Settings  # noqa: E402

WARMUP_SECONDS = 3.0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--ports", type=int, default=4)
    parser.add_argument("--base-port", type=int, default=18_600)
    return parser.parse_args()


def _database(url: str | None, workdir: Path) -> str:
    if url is None:
        return f"sqlite:///{workdir / 'bench.db'}"
    server = make_url(url)
    name = f"tocsin_bench_{os.getpid()}"
    admin = make_engine(server.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def _drop(admin_url: str, url: str) -> None:
    admin = make_engine(admin_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def _seed(url: str, n: int, interval: int, receiver: Receiver, ports: list[int]) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    start = utcnow() + timedelta(seconds=WARMUP_SECONDS)
    rng = random.Random(7)
    with factory.begin() as session:
        page = pages.ensure_default_page(session, name="Bench")
        rows = [
            {
                "id": new_id(),
                "page_id": page.id,
                "name": f"check {i:06d}",
                "kind": MonitorKind.HTTP,
                "target": receiver.url(f"/health/{i}", port=ports[i % len(ports)]),
                "config": {},
                "interval_seconds": interval,
                "timeout_seconds": 10.0,
                "next_run_at": start + timedelta(seconds=rng.uniform(0, interval)),
                "created_at": start,
                "updated_at": start,
            }
            for i in range(n)
        ]
        for offset in range(0, n, 2_000):
            session.execute(insert(Monitor), rows[offset : offset + 2_000])
    engine.dispose()


async def _run(url: str, args: argparse.Namespace) -> MonitorScheduler:
    settings = Settings(
        database_url=url,
        secret_key="bench",
        monitors_allow_private=True,
        monitors_concurrency=args.concurrency,
        run_worker=False,
    )
    engine = make_engine(url)
    scheduler = MonitorScheduler(make_sessionmaker(engine), settings)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(args.duration, stop.set)
    await scheduler.run(stop)
    engine.dispose()
    return scheduler


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _report(args: argparse.Namespace, url: str, scheduler: MonitorScheduler, wall: float) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    lateness = list(scheduler.lateness)
    engine = make_engine(url)
    with engine.connect() as conn:
        recorded = conn.scalar(select(func.count()).select_from(CheckResult)) or 0
        failed = conn.scalar(select(func.count()).where(CheckResult.ok.is_(False))) or 0
    engine.dispose()
    print(f"database            {make_url(url).get_backend_name()}")
    print(f"checks              {args.n} every {args.interval} s for {args.duration:.0f} s")
    print(f"expected rate       {args.n / args.interval:.1f} checks/s")
    print(f"checks run          {len(lateness)} ({dict(scheduler.totals)})")
    print(f"results recorded    {recorded} ({failed} failed)")
    print(f"checks/s            {len(lateness) / wall:.1f}")
    if lateness:
        p50, p99 = _percentile(lateness, 50), _percentile(lateness, 99)
        print(f"lateness            p50 {p50:.3f} s  p99 {p99:.3f} s  max {max(lateness):.3f} s")
    print(f"peak probing        {scheduler.peak_probing} of {scheduler.concurrency}")
    print(f"CPU                 {cpu:.1f} s in {wall:.1f} s = {100 * cpu / wall:.0f} % of one core")
    print(f"peak RSS            {_peak_rss_mib():.0f} MiB")


def main() -> None:
    args = _args()
    ports = [args.base_port + i for i in range(args.ports)]
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as tmp:
        workdir = Path(tmp)
        receiver = Receiver("http", ports, Path(os.devnull)).start()
        url = _database(args.database_url, workdir)
        try:
            _seed(url, args.n, args.interval, receiver, ports)
            print(f"seeded {args.n} monitors; running for {args.duration:.0f} s", flush=True)
            started = time.monotonic()
            scheduler = asyncio.run(_run(url, args))
            _report(args, url, scheduler, time.monotonic() - started)
        finally:
            receiver.stop()
            if args.database_url is not None:
                _drop(args.database_url, url)


if __name__ == "__main__":
    main()
