"""What the public page may show of checks: response times and availability per component,
read from the hourly rollups only (raw results never leave the monitors domain)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import fmean

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.monitors.models import (
    Monitor,
    MonitorComponent,
    MonitorKind,
    MonitorRollup,
    RollupPeriod,
)
from tocsin.monitors.rollups import HOUR, floor_hour

DEFAULT_HOURS = 24


@dataclass(frozen=True)
class ComponentChecks:
    latency_ms: tuple[float | None, ...]
    """Median latency per hour, oldest first; the mean over the component's monitors."""
    uptime_percent: float | None
    """Percent of checks that passed over all those hours; None without checks."""


def component_checks(
    session: Session, *, component_ids: Sequence[str], now: datetime, hours: int = DEFAULT_HOURS
) -> dict[str, ComponentChecks]:
    """The last `hours` closed hours of checks of each component's probed monitors.

    Alert monitors are left out: they count notifications, not checks.
    """
    if not component_ids:
        return {}
    end = floor_hour(now.astimezone(UTC))
    start = end - hours * HOUR
    query = (
        select(
            MonitorComponent.component_id,
            MonitorRollup.start,
            MonitorRollup.checks,
            MonitorRollup.failures,
            MonitorRollup.latency_p50,
        )
        .join(Monitor, Monitor.id == MonitorComponent.monitor_id)
        .join(MonitorRollup, MonitorRollup.monitor_id == Monitor.id)
        .where(
            MonitorComponent.component_id.in_(list(component_ids)),
            Monitor.kind != MonitorKind.ALERT,
            MonitorRollup.period == RollupPeriod.HOUR,
            MonitorRollup.start >= start,
            MonitorRollup.start < end,
        )
    )
    latencies: dict[str, dict[datetime, list[float]]] = defaultdict(lambda: defaultdict(list))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for component_id, hour, checks, failures, p50 in session.execute(query):
        counts[component_id][0] += checks
        counts[component_id][1] += failures
        if p50 is not None:
            latencies[component_id][hour].append(p50)
    slots = [start + timedelta(hours=i) for i in range(hours)]
    return {
        cid: ComponentChecks(
            latency_ms=tuple(
                fmean(latencies[cid][slot]) if latencies[cid].get(slot) else None for slot in slots
            ),
            uptime_percent=_percent(*counts[cid]) if cid in counts else None,
        )
        for cid in component_ids
    }


def _percent(checks: int, failures: int) -> float | None:
    return 100.0 * (checks - failures) / checks if checks else None
