"""Heartbeat check: a cron job or service pings us; a ping missing past its grace fails.

Nothing is probed. The ping endpoint records the time of the last ping, and the scheduler
calls `evaluate_heartbeat` with it.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tocsin.monitors.probes.base import ProbeConfigError, ProbeResult


class Config(BaseModel):
    """The expected period is the monitor's own interval; only the grace is configured."""

    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=60,
        ge=0,
        le=7 * 86_400,
        description="How long after the expected ping to wait before failing",
    )


def validate_target(target: str) -> str:
    # The target is whatever the ping URL is keyed by; the API owns its format.
    if len(target) > 200:
        raise ProbeConfigError("target is too long")
    return target


def evaluate_heartbeat(
    last_ping_at: datetime | None,
    interval: timedelta,
    grace: timedelta,
    now: datetime,
    *,
    since: datetime | None = None,
) -> ProbeResult:
    """Whether a ping arrived in time: at most `interval + grace` before `now`.

    Before the first ping, the wait counts from `since` (when the monitor was created or
    resumed); with neither, the heartbeat fails. A ping late but within the grace passes,
    with `details["late"]`. `latency_ms` is always None.
    """
    reference = last_ping_at or since
    if reference is None:
        return ProbeResult(ok=False, latency_ms=None, error="no ping received yet")
    due = reference + interval
    deadline = due + grace
    details: dict[str, Any] = {
        "last_ping_at": last_ping_at.isoformat() if last_ping_at else None,
        "due_at": due.isoformat(),
        "deadline": deadline.isoformat(),
        "late": now > due,
    }
    if now <= deadline:
        return ProbeResult(ok=True, latency_ms=None, details=details)
    if last_ping_at is None:
        error = f"no ping received in {format_span(now - reference)}"
    else:
        error = f"last ping {format_span(now - last_ping_at)} ago"
    expected = f"expected every {format_span(interval)}, grace {format_span(grace)}"
    return ProbeResult(ok=False, latency_ms=None, error=f"{error} ({expected})", details=details)


def format_span(span: timedelta) -> str:
    """`2 h 5 min`, `5 min 20 s`, `45 s`: the largest unit and the next one, rounded down."""
    seconds = max(0, int(span.total_seconds()))
    for (label, size), (next_label, next_size) in itertools.pairwise(_UNITS):
        if seconds >= size:
            rest = seconds % size // next_size
            return f"{seconds // size} {label}" + (f" {rest} {next_label}" if rest else "")
    return f"{seconds} s"


_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))
