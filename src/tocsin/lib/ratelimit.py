"""Rate limits kept in the database, so every web process shares the same buckets.

Each bucket is one row holding the time at which it will be full again (`busy_until`,
the "theoretical arrival time" of GCRA, which behaves exactly as a token bucket of
`limit` tokens refilled over `per_seconds`). A hit moves that time forward by one
token's worth, in a single conditional UPDATE: concurrent hits from several processes
can never both take the last token, on SQLite or PostgreSQL, without reading first.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Float, String, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.db import Base

# Float sums of the interval drift by an ulp or so; without this margin the last token
# of a burst could be refused.
_ROUNDING = 1e-3


class RateLimit(Base):
    """One bucket. The key is a digest, so the table holds no readable address or IP."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    busy_until: Mapped[float] = mapped_column(Float, index=True)
    """Unix seconds at which the bucket is full again; a bucket in the past is full."""


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits in any `per_seconds`, as a burst or spread out."""

    limit: int
    per_seconds: float

    @property
    def interval(self) -> float:
        return self.per_seconds / self.limit

    @property
    def slack(self) -> float:
        """How far ahead of now `busy_until` may be for a hit to still be allowed."""
        return self.per_seconds - self.interval


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int
    """Whole seconds until the next hit would be allowed; 0 when this one was."""


def hit(session: Session, key: str, limit: Limit, *, now: float | None = None) -> Decision:
    """Take one token from the bucket `key` if it has one.

    Writes in the caller's transaction: on PostgreSQL the row stays locked until it ends,
    so keep the rest of that transaction short, and take several buckets in a fixed order.
    """
    at = time.time() if now is None else now
    digest = hashlib.sha256(key.encode()).hexdigest()
    if _insert(session, digest, at + limit.interval) or _take(session, digest, limit, at):
        return Decision(allowed=True, retry_after=0)
    busy_until = session.scalar(select(RateLimit.busy_until).where(RateLimit.key == digest))
    # The row may have been pruned in between; then the next try is allowed at once.
    wait = (busy_until or at) - (at + limit.slack)
    return Decision(allowed=False, retry_after=max(1, math.ceil(wait)))


def _insert(session: Session, digest: str, busy_until: float) -> bool:
    """Create the bucket with one token taken; False if it already exists."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(RateLimit)
        .values(key=digest, busy_until=busy_until)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(RateLimit.key)
    )
    # RETURNING rather than rowcount, which psycopg reports as -1 after ON CONFLICT.
    return session.scalar(statement) is not None


def _take(session: Session, digest: str, limit: Limit, at: float) -> bool:
    start = case((RateLimit.busy_until > at, RateLimit.busy_until), else_=at)
    statement = (
        update(RateLimit)
        .where(RateLimit.key == digest, RateLimit.busy_until <= at + limit.slack + _ROUNDING)
        .values(busy_until=start + limit.interval)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(session, statement) == 1


def prune(session: Session, *, now: float | None = None) -> int:
    """Delete full buckets (the same as no row at all); return how many went."""
    at = time.time() if now is None else now
    statement = delete(RateLimit).where(RateLimit.busy_until < at)
    return _rowcount(session, statement)


def _rowcount(session: Session, statement: Executable) -> int:
    return cast(CursorResult[Any], session.execute(statement)).rowcount
