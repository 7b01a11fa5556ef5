"""Hourly and daily summaries of raw results, and the deletion of raw results past retention.

Summaries are computed in Python from the raw rows once the hour (or day, in UTC) has
closed, so percentiles are exact and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from tocsin.monitors.models import CheckResult, Monitor, MonitorRollup, RollupPeriod

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Results are written a few seconds after their check starts; waiting this long after an
# hour closes means its last checks are in before it is summarised.
SETTLE = timedelta(minutes=2)
# A day is summarised from raw rows after it closes, so raw rows must outlive a day.
MIN_RETENTION = timedelta(days=2)
PURGE_BATCH = 5_000


@dataclass(frozen=True)
class Summary:
    checks: int
    failures: int
    availability: float
    p50: float | None
    p95: float | None
    p99: float | None


def summarise(rows: Iterable[tuple[bool, float | None]]) -> Summary:
    """Availability (percent) and nearest-rank latency percentiles of (ok, latency) pairs."""
    outcomes = list(rows)
    failures = sum(1 for ok, _ in outcomes if not ok)
    latencies = sorted(latency for _, latency in outcomes if latency is not None)
    checks = len(outcomes)
    return Summary(
        checks=checks,
        failures=failures,
        availability=100.0 * (checks - failures) / checks if checks else 0.0,
        p50=percentile(latencies, 50),
        p95=percentile(latencies, 95),
        p99=percentile(latencies, 99),
    )


def percentile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def roll_up(session: Session, *, now: datetime, limit: int = 200) -> int:
    """Summarise the closed hours (and days) of up to `limit` monitors; return how many rows.

    Each monitor's watermark is advanced with a conditional UPDATE in the same
    transaction, so two workers never summarise the same hour.
    """
    horizon = floor_hour(now - SETTLE)
    behind = (
        select(Monitor.id, Monitor.rolled_up_until, Monitor.created_at)
        .where(or_(Monitor.rolled_up_until.is_(None), Monitor.rolled_up_until < horizon))
        .order_by(Monitor.id)
        .limit(limit)
    )
    written = 0
    for monitor_id, until, created_at in session.execute(behind).all():
        if _take(session, monitor_id, until, horizon):
            start = until or floor_hour(created_at)
            written += _summarise_monitor(session, monitor_id, start, horizon)
    return written


def purge_results(session: Session, *, before: datetime, limit: int = PURGE_BATCH) -> int:
    """Delete up to `limit` raw results older than `before`; return how many."""
    oldest = select(CheckResult.id).where(CheckResult.checked_at < before).limit(limit)
    statement = delete(CheckResult).where(CheckResult.id.in_(oldest.scalar_subquery()))
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        statement.execution_options(synchronize_session=False)
    )
    return result.rowcount


def _take(session: Session, monitor_id: str, until: datetime | None, horizon: datetime) -> bool:
    same = Monitor.rolled_up_until.is_(None) if until is None else Monitor.rolled_up_until == until
    statement = (
        update(Monitor)
        .where(Monitor.id == monitor_id, same)
        .values(rolled_up_until=horizon)
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return result.rowcount == 1


def _summarise_monitor(
    session: Session, monitor_id: str, start: datetime, horizon: datetime
) -> int:
    if start >= horizon:
        return 0
    day_start = start.replace(hour=0)
    rows = session.execute(
        select(CheckResult.checked_at, CheckResult.ok, CheckResult.latency_ms).where(
            CheckResult.monitor_id == monitor_id,
            CheckResult.checked_at >= day_start,
            CheckResult.checked_at < horizon,
        )
    ).all()
    hours: dict[datetime, list[tuple[bool, float | None]]] = defaultdict(list)
    days: dict[datetime, list[tuple[bool, float | None]]] = defaultdict(list)
    for checked_at, ok, latency in rows:
        hour = floor_hour(checked_at)
        if hour >= start:
            hours[hour].append((ok, latency))
        days[hour.replace(hour=0)].append((ok, latency))
    closed_days = {d: v for d, v in days.items() if d + DAY <= horizon and d + DAY > start}
    for period, groups in ((RollupPeriod.HOUR, hours), (RollupPeriod.DAY, closed_days)):
        for begin, outcomes in groups.items():
            session.merge(_row(monitor_id, period, begin, summarise(outcomes)))
    return len(hours) + len(closed_days)


def _row(monitor_id: str, period: RollupPeriod, start: datetime, summary: Summary) -> MonitorRollup:
    return MonitorRollup(
        monitor_id=monitor_id,
        period=period,
        start=start,
        checks=summary.checks,
        failures=summary.failures,
        availability=summary.availability,
        latency_p50=summary.p50,
        latency_p95=summary.p95,
        latency_p99=summary.p99,
    )
