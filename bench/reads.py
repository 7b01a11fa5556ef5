"""Read throughput against nginx serving the same bytes, and change-to-served latency.

    python bench/reads.py [--duration 10] [--connections 32] [--workers 2]
                          [--components 200] [--incidents 10000] [--updates 50]
                          [--only throughput|latency]

Part 1 loads `tocsin demo` into a fresh SQLite database, exports it with
`tocsin export`, and serves it twice on loopback: `tocsin serve` (one process, then
`--workers` processes when the command supports it) and Debian's nginx (one worker
process, gzip_static on the export's .gz files). wrk measures requests per second and
latency on `/`, an incident page and `/api/v2/summary.json`, all with
`Accept-Encoding: gzip`, and the script prints Tocsin's throughput as a ratio of nginx's.

Part 2 fills another database with `--components` components and `--incidents` past
incidents (the issue's 200 and 10,000 by default), then posts `--updates` incident
updates through the v1 API to one `tocsin serve` process and measures the time from
sending each update, and from the API's answer, until `GET /incidents/<id>` serves the
new text (p50, p95). It also prints the server's resident memory.

Needs `nginx` and `wrk` (apt-get install nginx-light wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tocsin.audit.service import CLI
from tocsin.components import service as components
from tocsin.components.schemas import ComponentCreate
from tocsin.db import make_engine, make_sessionmaker, transaction
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.migrate import upgrade
from tocsin.pages import service as pages

TOCSIN = [sys.executable, "-m", "tocsin"]
PATHS = ("/", "INCIDENT", "/api/v2/summary.json")

NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        gzip_static on;
        etag on;
        location / {{ try_files $uri $uri/index.html =404; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(url)


def rss_mb(pid: int) -> float:
    total = 0.0
    for child in [pid, *children(pid)]:
        status = Path(f"/proc/{child}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) / 1024 if match else 0
    return total


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def wrk(url: str, duration: int, connections: int) -> tuple[float, str, str]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-H",
            "Accept-Encoding: gzip",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rate, p50, p99


def tocsin_env(tmp: Path, database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TOCSIN_DATABASE_URL": f"sqlite:///{database}",
        "TOCSIN_VAR_DIR": str(tmp / "var"),
        "TOCSIN_SECRET_KEY": "bench",
        "TOCSIN_RUN_WORKER": "false",
    }


def start_tocsin(env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    args = [*TOCSIN, "serve", "--no-migrate", "--port", str(port)]
    if workers > 1:
        args += ["--workers", str(workers)]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(f"http://127.0.0.1:{port}/healthz")
    return server


def start_nginx(tmp: Path, root: Path, port: int) -> subprocess.Popen[bytes]:
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root))
    server = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
    wait_up(f"http://127.0.0.1:{port}/")
    return server


def supports_workers() -> bool:
    help_text = subprocess.run([*TOCSIN, "serve", "--help"], capture_output=True, text=True).stdout
    return "--workers" in help_text


def throughput(args: argparse.Namespace, tmp: Path) -> None:
    database = tmp / "demo.db"
    env = tocsin_env(tmp, database)
    subprocess.run([*TOCSIN, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    site = tmp / "site"
    subprocess.run([*TOCSIN, "export", str(site)], env=env, check=True, stdout=subprocess.DEVNULL)
    incident = sorted(p.name for p in (site / "incidents").iterdir())[0]
    paths = [p.replace("INCIDENT", f"/incidents/{incident}") for p in PATHS]

    nginx_port = free_port()
    nginx = start_nginx(tmp, site, nginx_port)
    try:
        baseline = {
            p: wrk(f"http://127.0.0.1:{nginx_port}{p}", args.duration, args.connections)
            for p in paths
        }
    finally:
        nginx.terminate()
        nginx.wait()

    rounds = [1, args.workers] if args.workers > 1 and supports_workers() else [1]
    print(
        f"{'path':40} {'nginx req/s':>12} "
        + " ".join(f"{f'tocsin x{w}':>12} {'ratio':>6}" for w in rounds)
    )
    measured: dict[int, dict[str, tuple[float, str, str]]] = {}
    rss: dict[int, float] = {}
    for workers in rounds:
        port = free_port()
        server = start_tocsin(env, port, workers)
        try:
            for path in paths:
                httpx.get(f"http://127.0.0.1:{port}{path}")
            measured[workers] = {
                p: wrk(f"http://127.0.0.1:{port}{p}", args.duration, args.connections)
                for p in paths
            }
            rss[workers] = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait()
    for path in paths:
        line = f"{path:40} {baseline[path][0]:12.0f} "
        line += " ".join(
            f"{measured[w][path][0]:12.0f} {measured[w][path][0] / baseline[path][0]:6.2f}"
            for w in rounds
        )
        print(line)
    for path in paths:
        print(
            f"  latency {path}: nginx p50 {baseline[path][1]} p99 {baseline[path][2]}; "
            + "; ".join(
                f"tocsin x{w} p50 {measured[w][path][1]} p99 {measured[w][path][2]}" for w in rounds
            )
        )
    for workers in rounds:
        print(f"tocsin x{workers} RSS after the run: {rss[workers]:.0f} MB")


def fill(database: Path, n_components: int, n_incidents: int) -> str:
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    factory = make_sessionmaker(engine)
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    with transaction(factory) as session:
        page = pages.ensure_default_page(session, name="Bench")
        ids = [
            components.create_component(
                session, page=page, data=ComponentCreate(name=f"Service {i}"), actor=CLI, now=start
            ).id
            for i in range(n_components)
        ]
        step = timedelta(days=3 * 365) / max(n_incidents, 1)
        for i in range(n_incidents):
            began = start + step * i
            incidents.create_incident(
                session,
                page=page,
                actor=CLI,
                now=began,
                data=IncidentCreate(
                    name=f"Past incident {i}",
                    backfilled=True,
                    started_at=began,
                    resolved_at=began + timedelta(minutes=30),
                    body="Resolved.",
                ),
            )
        live = incidents.create_incident(
            session,
            page=page,
            actor=CLI,
            data=IncidentCreate(
                name="Live incident", components={ids[0]: "major_outage"}, body="Start."
            ),
        )
        incident_id = live.id
    engine.dispose()
    return incident_id


def update_latency(args: argparse.Namespace, tmp: Path) -> None:
    database = tmp / "big.db"
    began = time.monotonic()
    incident_id = fill(database, args.components, args.incidents)
    took = time.monotonic() - began
    print(f"\nfilled {args.components} components and {args.incidents} incidents in {took:.0f} s")
    env = tocsin_env(tmp, database)
    key = (
        subprocess.run(
            [*TOCSIN, "apikey", "create", "--name", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    server = start_tocsin(env, port, 1)
    base = f"http://127.0.0.1:{port}"
    try:
        page_id = httpx.get(
            f"{base}/api/v1/pages", headers={"Authorization": f"OAuth {key}"}
        ).json()[0]["id"]
        sent_to_served, answered_to_served = [], []
        with httpx.Client(
            base_url=base, headers={"Authorization": f"OAuth {key}"}, timeout=30
        ) as client:
            for n in range(args.updates):
                marker = f"bench-update-{n}-{time.time_ns()}"
                sent = time.monotonic()
                client.patch(
                    f"/api/v1/pages/{page_id}/incidents/{incident_id}",
                    json={"incident": {"body": marker}},
                ).raise_for_status()
                answered = time.monotonic()
                while marker not in client.get(f"/incidents/{incident_id}").text:
                    time.sleep(0.002)
                served = time.monotonic()
                sent_to_served.append((served - sent) * 1000)
                answered_to_served.append((served - answered) * 1000)
        # The writer's process rebuilds before it answers, so the API's own time counts.
        for label, delays in (
            ("update sent → served", sent_to_served),
            ("update answered → served", answered_to_served),
        ):
            delays.sort()
            p95 = delays[max(0, round(0.95 * len(delays)) - 1)]
            print(
                f"{label} over {len(delays)} updates: p50 {statistics.median(delays):.1f} ms, "
                f"p95 {p95:.1f} ms, max {delays[-1]:.1f} ms (target p95 < 50 ms)"
            )
        print(f"server RSS with {args.incidents} incidents: {rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--components", type=int, default=200)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--only", choices=("throughput", "latency"))
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install nginx-light wrk")
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as name:
        tmp = Path(name)
        if args.only != "latency":
            throughput(args, tmp)
        if args.only != "throughput":
            update_latency(args, tmp)


if __name__ == "__main__":
    main()
