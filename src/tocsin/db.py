from __future__ import annotations

import contextlib
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Enum, MetaData, String, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    """A 12-character lowercase id, the shape Statuspage clients expect."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes in UTC and always hand back aware UTC values.

    SQLite keeps no zone, so values read back from it are naive and are tagged here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_type(enum: type[StrEnum], name: str) -> Enum:
    """A string column limited to `enum`'s values by a CHECK named `name`.

    Not a native PostgreSQL enum, so adding a value is a plain migration on both databases.
    """
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum) + 8,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[str] = mapped_column(String(12), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while the single writer commits; busy_timeout turns
    # brief lock contention into a wait instead of "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _follow_the_file(engine: Engine, path: Path) -> None:
    """Drop a pooled connection whose database file was moved, deleted or replaced.

    An open SQLite connection keeps reading its old file, so without this check a
    database taken away (a restore, a failed disk) would go unnoticed by the pool.
    """

    def remember(_dbapi_connection: Any, record: Any) -> None:
        with contextlib.suppress(OSError):
            record.info["inode"] = path.stat().st_ino

    def check(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        try:
            inode = path.stat().st_ino
        except OSError as exc:
            raise DisconnectionError(f"database file {path} is gone") from exc
        if record.info.get("inode") != inode:
            raise DisconnectionError(f"database file {path} was replaced")

    event.listen(engine, "connect", remember)
    event.listen(engine, "checkout", check)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _begin_before_savepoint)
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            _follow_the_file(engine, Path(parsed.database))
        return engine
    return create_engine(url, pool_pre_ping=True)


def _begin_before_savepoint(conn: Connection, _name: str | None) -> None:
    """Open the real transaction before a SAVEPOINT on SQLite.

    pysqlite begins a transaction only before a data-changing statement, so a SAVEPOINT
    that comes first would itself open the transaction, and releasing it would COMMIT:
    a later error in the same request could then no longer roll that work back.
    """
    driver = conn.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        conn.exec_driver_sql("BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on error."""
    with factory() as session, session.begin():
        yield session
