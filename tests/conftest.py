from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from factories import empty_database
from tocsin import migrate
from tocsin.accounts import service as accounts
from tocsin.accounts.models import Role, User
from tocsin.accounts.schemas import ApiKeyCreate, UserCreate
from tocsin.audit.service import CLI
from tocsin.db import make_engine, make_sessionmaker
from tocsin.main import create_app
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.settings import Settings

# The suite always runs on SQLite; TOCSIN_TEST_DATABASE_URL adds a PostgreSQL run.
_POSTGRES_URL = os.environ.get("TOCSIN_TEST_DATABASE_URL")
DATABASES = ["sqlite", *(["postgresql"] if _POSTGRES_URL else [])]
CHROMIUM = Path("/usr/bin/chromium")
# Every Status API v2 resource, as a client asks for it.
V2_PATHS = [
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/incidents/resolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
]


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """Argon2 at its production cost takes ~0.1 s per hash, and most tests make an
    account or two: minutes of the suite. Tests check what is hashed and verified, not
    how hard it is to guess; a hash carries its own cost, so these verify as cheaply."""
    patch = pytest.MonkeyPatch()
    patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    patch.undo()


@pytest.fixture(scope="session", params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database of each kind, private to this test run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'tocsin.db'}"
        _migrate(url)
        yield url
        return
    assert _POSTGRES_URL is not None
    server = make_url(_POSTGRES_URL)
    name = f"tocsin_test_{secrets.token_hex(6)}"
    admin = make_engine(server.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(url)
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test database, emptied again after each test."""
    yield make_sessionmaker(engine)
    empty_database(engine)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        yield session


@pytest.fixture
def page(session: Session) -> Page:
    page = pages.ensure_default_page(session, name="Acme Cloud")
    session.commit()
    return page


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        var_dir=tmp_path / "var",
        base_url="http://testserver",
        run_worker=False,
        # Tests hand the worker their own session factory (sometimes one made to fail);
        # the separate database process, the default, opens its own from the URL. It is
        # run by the tests that start `tocsin worker`, and in tests/notify/test_worker.py.
        delivery_database_process=False,
    )


@pytest.fixture
def client(settings: Settings, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    """A client whose every request first rebuilds the snapshots, as tests write rows
    straight through `session` (another engine, and not always via `touch`)."""
    with TestClient(create_app(settings)) as client:
        client.event_hooks["request"].append(lambda _: refresh_snapshots(client))
        yield client


def refresh_snapshots(client: TestClient) -> None:
    """Make the app's public side show everything committed so far."""
    client.app.state.snapshots.refresh(everything=True)


@dataclass(frozen=True)
class Persona:
    """A user with an API key; `headers` authenticate as Statuspage clients do."""

    user: User
    key: str
    page: Page

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"OAuth {self.key}"}


def _persona(session: Session, page: Page, email: str, role: Role) -> Persona:
    user = accounts.create_user(
        session,
        page=page,
        data=UserCreate(email=email, password="correct horse battery", role=role),
        actor=CLI,
    )
    created = accounts.create_api_key(session, user=user, data=ApiKeyCreate(name=email), actor=CLI)
    session.commit()
    return Persona(user=user, key=created.secret, page=page)


@pytest.fixture
def alice(session: Session, page: Page) -> Persona:
    """Owner of the default page."""
    return _persona(session, page, "alice@example.com", Role.OWNER)


@pytest.fixture
def bob(session: Session, page: Page) -> Persona:
    """Editor on the default page: incidents and statuses, not settings."""
    return _persona(session, page, "bob@example.com", Role.EDITOR)


@pytest.fixture
def vera(session: Session, page: Page) -> Persona:
    """Viewer on the default page: reads only."""
    return _persona(session, page, "vera@example.com", Role.VIEWER)


@pytest.fixture
def charlie(session: Session, page: Page) -> Persona:
    """Owner of another page, with no role on the default one."""
    other = Page(name="Other Corp", domain="status.other.example")
    session.add(other)
    session.commit()
    return _persona(session, other, "charlie@example.com", Role.OWNER)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(
    database_url: str, var_dir: Path, *, env: Mapping[str, str], stderr: int = subprocess.DEVNULL
) -> tuple[subprocess.Popen[bytes], str]:
    """`tocsin serve` in its own process (no worker, no migration), once it answers;
    `env` adds to the environment. The caller terminates the process."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tocsin", "serve", "--no-migrate", "--port", str(port)],
        env={
            **os.environ,
            "TOCSIN_DATABASE_URL": database_url,
            "TOCSIN_VAR_DIR": str(var_dir),
            "TOCSIN_RUN_WORKER": "false",
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server)
    except BaseException:
        server.kill()
        server.communicate(timeout=10)
        raise
    return server, url


@pytest.fixture
def live_url(settings: Settings, tmp_path: Path, factory: sessionmaker[Session]) -> Iterator[str]:
    """`tocsin serve` in its own process, on the test database (emptied after the test)."""
    server, url = start_server(
        settings.database_url,
        tmp_path / "var",
        env={"TOCSIN_SNAPSHOT_POLL_SECONDS": "0.05"},
        stderr=subprocess.PIPE,
    )
    try:
        yield url
    finally:
        server.terminate()
        server.communicate(timeout=10)


def wait_for_snapshot(url: str, session: Session, page: Page) -> None:
    """Wait until the server at `url` serves `page` as last committed: its public side
    follows the database in the background (well within a second)."""
    session.refresh(page)
    want = page.updated_at.replace(microsecond=page.updated_at.microsecond // 1000 * 1000)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = httpx.get(f"{url}/api/v2/status.json", timeout=5)
        if response.status_code == 200:
            served = datetime.fromisoformat(response.json()["page"]["updated_at"])
            if served >= want:
                return
        time.sleep(0.02)
    raise TimeoutError("the server did not pick up the change")


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited: {server.stderr.read() if server.stderr else b''!r}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("server did not start")


# Module scope: Playwright's sync API keeps an event loop running in the main thread
# while it is open, which would break every later test that runs asyncio.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright, shared by the browser tests."""
    assert CHROMIUM.exists(), "install Debian's chromium: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
