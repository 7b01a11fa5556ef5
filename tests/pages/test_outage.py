"""The database made unreachable under a running server, and a restart during the outage.

PostgreSQL: the server reaches the database through a TCP proxy that the test
closes, so its connections break and new ones are refused. SQLite: the
database file is moved away, so it can no longer be read at its path.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from conftest import _free_port, start_server
from factories import component
from tocsin import migrate
from tocsin.accounts import service as accounts
from tocsin.accounts.models import Role
from tocsin.accounts.schemas import ApiKeyCreate, UserCreate
from tocsin.audit.service import CLI
from tocsin.db import make_engine, make_sessionmaker
from tocsin.pages import service as pages
from tocsin.pages.store import SnapshotDisk
from tocsin.settings import Settings

READ_ONLY = "read-only until the database is back"


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` closes everything, so connecting
    is refused, until `restore()` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        assert self._listener is not None
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._listener = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


# Polled often, so that each server soon notices the database coming back and the other's writes.
_SERVER_ENV = {"TOCSIN_SECRET_KEY": "test-secret-key", "TOCSIN_SNAPSHOT_POLL_SECONDS": "0.2"}


def _owner(database_url: str) -> tuple[str, str, str]:
    """A page with one component and an owner's API key: (page id, component id, key)."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            page = pages.ensure_default_page(session, name="Acme Cloud")
            api = component(session, page, "API")
            user = accounts.create_user(
                session,
                page=page,
                data=UserCreate(email="owner@example.com", password="x" * 20, role=Role.OWNER),
                actor=CLI,
            )
            key = accounts.create_api_key(
                session, user=user, data=ApiKeyCreate(name="outage"), actor=CLI
            )
            session.commit()
            return page.id, api.id, key.secret
    finally:
        engine.dispose()


Outage = tuple[str, Callable[[], None], Callable[[], None]]


@pytest.fixture
def outage(settings: Settings, session: Session, tmp_path: Path) -> Iterator[Outage]:
    """(the URL the server uses, cut, restore) for this run's database kind."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
        proxy.restore()
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        yield through, proxy.cut, proxy.restore
        return
    # A private file, as moving the shared test database away would break other tests.
    path = tmp_path / "outage.db"
    private = f"sqlite:///{path}"
    engine = make_engine(private)
    migrate.upgrade(engine)
    engine.dispose()
    files = [path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm")]

    def cut() -> None:
        for file in files:
            if file.exists():
                file.rename(file.with_name(file.name + ".away"))

    def restore() -> None:
        for file in files:
            away = file.with_name(file.name + ".away")
            if away.exists():
                away.replace(file)
            elif file.exists():
                file.unlink()  # an empty database SQLite made while the real one was away

    yield private, cut, restore


def _post_incident(
    url: str, page_id: str, component_id: str, key: str, name: str
) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/pages/{page_id}/incidents",
        headers={"Authorization": f"OAuth {key}"},
        json={"incident": {"name": name, "components": {component_id: "major_outage"}}},
        timeout=10,
    )


def _wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_public_side_survives_the_database_going_away_and_a_restart(
    outage: Outage, tmp_path: Path
) -> None:
    database_url, cut, restore = outage
    page_id, component_id, key = _owner(database_url)
    var_dir = tmp_path / "var"
    server, url = start_server(database_url, var_dir, env=_SERVER_ENV)
    servers = [server]
    try:
        created = _post_incident(url, page_id, component_id, key, "Payments down")
        assert created.status_code == 201, created.text
        incident_path = f"/incidents/{created.json()['id']}"
        disk = SnapshotDisk(var_dir / "snapshots")
        _wait_for(lambda: _saved(disk, page_id, incident_path))

        cut()
        _the_public_side_serves(url, incident_path, seconds=1.5)
        _changes_are_read_only(url, page_id, component_id, key)
        assert httpx.get(f"{url}/readyz").status_code == 503
        assert httpx.get(f"{url}/healthz").status_code == 200

        restarted, restarted_url = start_server(database_url, var_dir, env=_SERVER_ENV)
        servers.append(restarted)
        _the_public_side_serves(restarted_url, incident_path, seconds=0.5)
        _changes_are_read_only(restarted_url, page_id, component_id, key)

        restore()
        for live in (url, restarted_url):
            _wait_for(lambda live=live: httpx.get(f"{live}/readyz").status_code == 200)
        again = _post_incident(restarted_url, page_id, component_id, key, "Search slow")
        assert again.status_code == 201, again.text
        _wait_for(lambda: "Search slow" in httpx.get(f"{url}/").text)
    finally:
        for each in servers:
            each.terminate()
            each.wait(timeout=10)


def _saved(disk: SnapshotDisk, page_id: str, path: str) -> bool:
    snapshot = disk.load()[0].get(page_id)
    return snapshot is not None and snapshot.get(path) is not None


def _the_public_side_serves(url: str, incident_path: str, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        for path in ("/", incident_path, "/api/v2/summary.json", "/history.rss", "/badge.svg"):
            response = httpx.get(f"{url}{path}", timeout=5)
            assert response.status_code == 200, (path, response.status_code)
        home = httpx.get(f"{url}/", timeout=5).text
        assert "Payments down" in home
        if time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _changes_are_read_only(url: str, page_id: str, component_id: str, key: str) -> None:
    response = _post_incident(url, page_id, component_id, key, "Not now")
    assert response.status_code == 503, response.text
    assert READ_ONLY in response.json()["message"]
