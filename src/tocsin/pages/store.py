"""The current snapshot of every page, kept fresh in the background and on disk.

Invalidation, in order of speed:

1. A commit in this process that touched pages (`pages.service.touch`) rebuilds
   them before the commit returns, so the writer's next read sees its change.
2. On PostgreSQL, a `LISTEN tocsin_pages` connection hears other processes'
   commits (the NOTIFY is sent in the writing transaction) and wakes the refresher.
3. A refresher thread compares every page's `updated_at` with its snapshot's
   every `snapshot_poll_seconds` (one small query), and rebuilds a page at least
   every minute and when its day changes, for the uptime bars and the
   "past 14 days" list.

A touch says what changed (`pages.Touched`), so 1 and 2 read again only those
incidents and, if named, the components, and render only the artifacts that
depend on them. A version that moved with nobody saying what changed (another
process on SQLite) reads the whole page again, as does every rebuild after
`FULL_RELOAD`, which bounds how long a change is missed if an unannounced write
races an announced one.

Public requests only read `SnapshotStore.current`, swapped by one assignment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tocsin.db import utcnow
from tocsin.pages import service as pages
from tocsin.pages.render import Renderer
from tocsin.pages.snapshot import Snapshot, build_snapshot
from tocsin.pages.state import LoadedState, load, reload

logger = logging.getLogger(__name__)

MAX_AGE = timedelta(minutes=1)
FULL_RELOAD = timedelta(minutes=10)
SAVE_QUIET = 1.0
SAVE_MAX_DELAY = 10.0
SNAPSHOT_FILE = "snapshot.pickle"
DEFAULT_FILE = "default_page"


@dataclass(frozen=True)
class Published:
    """Everything public requests need, replaced as a whole on every change."""

    pages: Mapping[str, Snapshot] = field(default_factory=dict)
    hosts: Mapping[str, str] = field(default_factory=dict)
    default_id: str | None = None

    def for_host(self, host: str | None) -> Snapshot | None:
        """The snapshot of the page whose domain is `host`, else of the default page."""
        if host:
            hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
            page_id = self.hosts.get(hostname)
            if page_id is not None:
                return self.pages.get(page_id)
        return self.pages.get(self.default_id) if self.default_id else None


class SnapshotStore:
    def __init__(
        self,
        factory: sessionmaker[Session],
        renderer: Renderer,
        *,
        base_url: str,
        directory: Path,
        poll_seconds: float,
        on_rebuild: Callable[[float], None] | None = None,
    ) -> None:
        self.factory = factory
        self.renderer = renderer
        self.base_url = base_url
        self.poll_seconds = poll_seconds
        self.on_rebuild = on_rebuild
        self.current = Published()
        self.database_ok = False
        self.disk = SnapshotDisk(directory)
        self._lock = threading.Lock()
        self._dirty_lock = threading.Lock()
        self._dirty: dict[str, pages.Touched] = {}
        # Per page: its state as last read, and when it was last read whole.
        self._loaded: dict[str, tuple[LoadedState, datetime]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.origin = secrets.token_hex(8)

    # --- reading ----------------------------------------------------------------------

    def for_host(self, host: str | None) -> Snapshot | None:
        return self.current.for_host(host)

    # --- refreshing -------------------------------------------------------------------

    def mark_dirty(self, changes: Mapping[str, pages.Touched]) -> None:
        """Have the refresher rebuild these pages soon (from another thread or the loop)."""
        with self._dirty_lock:
            _merge(self._dirty, changes)
        self._wake.set()

    def refresh(
        self, changes: Mapping[str, pages.Touched] | None = None, *, everything: bool = False
    ) -> bool:
        """Rebuild what `changes` name (or, with `everything`, all pages) and every page
        whose version or day moved on; return False (keeping the current snapshots) if
        the database cannot be read."""
        with self._lock:
            with self._dirty_lock:
                forced, self._dirty = self._dirty, {}
                _merge(forced, changes or {})
            try:
                self._refresh(forced, everything=everything)
            except DBAPIError as exc:
                self.mark_dirty(forced)
                if self.database_ok:
                    logger.warning("database unreachable, serving the last snapshots: %s", exc)
                self.database_ok = False
                return False
        if not self.database_ok:
            logger.info("database reachable, snapshots are live")
        self.database_ok = True
        return True

    def _refresh(self, forced: dict[str, pages.Touched], *, everything: bool) -> None:
        old = self.current
        now = utcnow()
        with self.factory() as session:
            versions = pages.page_versions(session)
            snapshots = {}
            for version in versions:
                previous = old.pages.get(version.id)
                change = forced.get(version.id)
                if everything or previous is None:
                    change = pages.Touched(everything=True)
                change = self._to_read(version, previous, change, now)
                if change is not None:
                    snapshots[version.id] = self._build(session, version, previous, change, now)
                elif previous is not None:
                    snapshots[version.id] = previous
        hosts = {v.domain: v.id for v in versions if v.domain}
        self.current = Published(snapshots, hosts, versions[0].id if versions else None)
        for page_id, snapshot in snapshots.items():
            if old.pages.get(page_id) is not snapshot:
                self.disk.save(snapshot, default=page_id == self.current.default_id)

    def _to_read(
        self,
        version: pages.PageVersion,
        previous: Snapshot | None,
        change: pages.Touched | None,
        now: datetime,
    ) -> pages.Touched | None:
        """What of the page to read again (None: nothing, keep `previous`)."""
        cached = self._loaded.get(version.id)
        if cached is None or now - cached[1] >= FULL_RELOAD:
            return pages.Touched(everything=True)
        if change is None and previous is not None and previous.version != version.updated_at:
            return pages.Touched(everything=True)
        if _stale(cached[0], now):
            change = change or pages.Touched()
            change.components = True
        return change

    def _build(
        self,
        session: Session,
        version: pages.PageVersion,
        previous: Snapshot | None,
        change: pages.Touched,
        now: datetime,
    ) -> Snapshot:
        started = time.perf_counter()
        page = pages.get_page(session, version.id)
        cached = self._loaded.get(version.id)
        if change.everything or cached is None:
            loaded = load(session, page=page, now=now, base_url=self.base_url)
            read_whole_at = now
        else:
            loaded = reload(
                session,
                cached[0],
                page=page,
                now=now,
                base_url=self.base_url,
                incident_ids=change.incidents,
                components=change.components,
            )
            read_whole_at = cached[1]
        snapshot = build_snapshot(
            loaded.state,
            self.renderer,
            domain=page.domain,
            previous=previous,
            changed=loaded.changed,
        )
        # Only now: the next reload starts from the state its previous snapshot shows.
        self._loaded[version.id] = (loaded, read_whole_at)
        if self.on_rebuild is not None:
            self.on_rebuild(time.perf_counter() - started)
        return snapshot

    def load_from_disk(self) -> int:
        """Serve the snapshots saved by an earlier run (the database being down); return
        how many pages were loaded."""
        loaded, default_id = self.disk.load()
        if loaded and not self.current.pages:
            hosts = {s.domain: s.page_id for s in loaded.values() if s.domain}
            self.current = Published(loaded, hosts, default_id or next(iter(loaded)))
        return len(loaded)

    # --- background threads -----------------------------------------------------------

    def start(self, database_url: str) -> None:
        self._spawn("snapshot-refresher", self._run_refresher)
        self._spawn("snapshot-writer", self.disk.run, self._stop)
        if make_url(database_url).get_backend_name() == "postgresql":
            self._spawn("snapshot-listener", self._run_listener, database_url)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.disk.wake()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run_refresher(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if not self._stop.is_set():
                self.refresh()

    def _run_listener(self, database_url: str) -> None:
        """LISTEN for other processes' changes; reconnect after an outage."""
        import psycopg

        conninfo = make_url(database_url).set(drivername="postgresql")
        dsn = conninfo.render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {pages.NOTIFY_CHANNEL}")
                    # Changes made while not listening are found by the version check.
                    self.mark_dirty({})
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=1.0):
                            notice = pages.decode_notice(notify.payload)
                            # Our own commits were rebuilt as they returned.
                            if notice.origin != self.origin:
                                self.mark_dirty({notice.page_id: notice.change})
            except psycopg.Error:
                self._stop.wait(1.0)


def _stale(loaded: LoadedState, now: datetime) -> bool:
    """Whether the uptime bars or the day's lists are due for the clock's sake."""
    read_at = loaded.components.read_at
    if now - read_at >= MAX_AGE:
        return True
    zone = loaded.state.page.zone
    return read_at.astimezone(zone).date() != now.astimezone(zone).date()


def _merge(into: dict[str, pages.Touched], changes: Mapping[str, pages.Touched]) -> None:
    for page_id, change in changes.items():
        into.setdefault(page_id, pages.Touched()).merge(change)


class SnapshotDisk:
    """The last snapshot of each page under `directory/<page_id>/`, written by a
    background thread and replaced atomically by a rename.

    The thread writes once changes pause for `SAVE_QUIET` seconds (or after
    `SAVE_MAX_DELAY`), the latest snapshot winning: pickling a page with
    thousands of incidents holds the interpreter for tens of milliseconds, which
    a burst of updates should not pay each time. What is written is what serving
    needs (the artifacts, and the state without its incidents, for the badges);
    the first rebuild after loading it renders everything again.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._pending: dict[str, tuple[Snapshot, bool]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def save(self, snapshot: Snapshot, *, default: bool) -> None:
        with self._lock:
            self._pending[snapshot.page_id] = (snapshot, default)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while True:
            self._wake.wait()
            deadline = time.monotonic() + SAVE_MAX_DELAY
            while not stop.is_set():
                self._wake.clear()
                quiet = min(SAVE_QUIET, deadline - time.monotonic())
                if quiet <= 0 or not self._wake.wait(quiet):
                    break
            self.flush()
            if stop.is_set():
                return

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for snapshot, default in pending.values():
            try:
                self._write(snapshot, default=default)
            except OSError:
                logger.exception("could not save the snapshot of page %s", snapshot.page_id)

    def _write(self, snapshot: Snapshot, *, default: bool) -> None:
        folder = self.directory / snapshot.page_id
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(folder / SNAPSHOT_FILE, pickle.dumps(_for_disk(snapshot), protocol=5))
        if default:
            _write_atomically(self.directory / DEFAULT_FILE, snapshot.page_id.encode())

    def load(self) -> tuple[dict[str, Snapshot], str | None]:
        found: dict[str, Snapshot] = {}
        for path in sorted(self.directory.glob(f"*/{SNAPSHOT_FILE}")):
            try:
                # Only this process writes here, next to the secret key: trusted input.
                snapshot = pickle.loads(path.read_bytes())  # noqa: S301
            except (OSError, pickle.UnpicklingError, AttributeError, TypeError, EOFError):
                logger.warning("ignoring unreadable snapshot %s", path)
                continue
            if isinstance(snapshot, Snapshot):
                found[snapshot.page_id] = snapshot
        default_path = self.directory / DEFAULT_FILE
        default_id = default_path.read_text().strip() if default_path.exists() else None
        return found, default_id if default_id in found else None


def _for_disk(snapshot: Snapshot) -> Snapshot:
    state = replace(snapshot.state, incidents=(), maintenances=(), by_id={})
    return replace(snapshot, state=state, inputs={})


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def follow_commits(store: SnapshotStore, factory: sessionmaker[Session]) -> None:
    """Rebuild the pages a commit touched before the commit returns, so that the
    writer's next request sees its change.

    A commit on the event loop's thread (a worker job) only marks the pages
    dirty, so the loop is never blocked by a rebuild.
    """

    def after_commit(session: Session) -> None:
        touched: dict[str, pages.Touched] | None = session.info.pop(pages.TOUCHED, None)
        if not touched:
            return
        if _on_event_loop():
            store.mark_dirty(touched)
        else:
            store.refresh(touched)

    def after_rollback(session: Session) -> None:
        session.info.pop(pages.TOUCHED, None)

    # Signs this process's NOTIFYs, so that its listener skips what it has rebuilt.
    factory.configure(info={**(factory.kw.get("info") or {}), pages.ORIGIN: store.origin})
    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_rollback", after_rollback)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
