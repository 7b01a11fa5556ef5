from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from factories import component
from tocsin.monitors.models import CheckResult, Monitor
from tocsin.pages.models import Page


def tocsin(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": database_url,
        "TOCSIN_VAR_DIR": str(tmp_path / "var"),
        "TOCSIN_PAGE_NAME": "Acme Cloud",
        "TOCSIN_BASE_URL": "https://status.example.com",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "tocsin", "monitor", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_add_list_and_run_once(
    database_url: str,
    tmp_path: Path,
    session: Session,
    page: Page,
    factory: sessionmaker[Session],
    target: str,
) -> None:
    api = component(session, page, "API")
    session.commit()

    added = tocsin(
        database_url,
        tmp_path,
        "add",
        "--name",
        "API health",
        "--kind",
        "http",
        "--target",
        f"{target}/health",
        "--interval",
        "30",
        "--component",
        api.id,
        "--config",
        '{"expected_status": [200]}',
    )
    assert added.returncode == 0, added.stderr
    assert "added monitor" in added.stdout
    broken = tocsin(
        database_url,
        tmp_path,
        "add",
        "--name",
        "Broken",
        "--kind",
        "http",
        "--target",
        f"{target}/down",
    )
    assert broken.returncode == 0, broken.stderr

    listed = tocsin(database_url, tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert "API health" in listed.stdout
    assert "unknown" in listed.stdout

    ran = tocsin(database_url, tmp_path, "run-once", "--all")
    assert ran.returncode == 0, ran.stderr
    lines = {line.split("│")[1].strip(): line for line in ran.stdout.splitlines() if "│" in line}
    assert " ok " in lines["API health"]
    assert "failed" in lines["Broken"]
    assert "HTTP 503" in lines["Broken"] or "503" in lines["Broken"]
    with factory() as check:
        monitor = check.scalars(select(Monitor).where(Monitor.name == "API health")).one()
        assert monitor.component_ids == [api.id]
        assert monitor.last_ok is True
        assert len(check.scalars(select(CheckResult)).all()) == 2

    again = tocsin(database_url, tmp_path, "run-once")
    assert again.returncode == 0, again.stderr
    assert "no monitor was due" in again.stdout


def test_add_prints_the_ping_url_of_a_heartbeat(
    database_url: str, tmp_path: Path, page: Page
) -> None:
    result = tocsin(database_url, tmp_path, "add", "--name", "backup", "--kind", "heartbeat")
    assert result.returncode == 0, result.stderr
    assert "ping URL: https://status.example.com/ping/" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "http", "--target", "ftp://x/"], "http"),
        (["--kind", "http", "--target", "https://x.example/", "--interval", "5"], "interval"),
        (["--kind", "http", "--target", "https://x.example/", "--config", "[1]"], "JSON object"),
        (["--kind", "nope"], "nope"),
    ],
)
def test_add_refuses_invalid_monitors(
    database_url: str, tmp_path: Path, page: Page, args: list[str], message: str
) -> None:
    result = tocsin(database_url, tmp_path, "add", "--name", "x", *args)
    assert result.returncode == 2
    assert message in result.stderr
