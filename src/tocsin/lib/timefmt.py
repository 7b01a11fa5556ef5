"""Dates and times as the public page writes them, in English whatever the locale.

strftime's `%a`/`%b`/`%p` follow the process locale, so the names come from
fixed tables instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_MIN_GAP = timedelta(minutes=10)
_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


def format_date(d: date) -> str:
    """`Feb 03, 2026`."""
    return f"{_MONTHS[d.month - 1]} {d.day:02d}, {d.year}"


def format_month(d: date) -> str:
    """`February 2026`."""
    return f"{_MONTH_NAMES[d.month - 1]} {d.year}"


def format_timestamp(dt: datetime, zone: ZoneInfo) -> str:
    """`Tue, Feb 10, 2026, 07:43 PM`: `%a, %b %d, %Y, %I:%M %p` in `zone`."""
    local = dt.astimezone(zone)
    hour = local.hour % 12 or 12
    meridiem = "AM" if local.hour < 12 else "PM"
    day = _WEEKDAYS[local.weekday()]
    return f"{day}, {format_date(local.date())}, {hour:02d}:{local.minute:02d} {meridiem}"


def gap_note(newer: datetime, older: datetime) -> str | None:
    """`51 minutes earlier`: how long before `newer` `older` happened.

    None when the gap is under ten minutes. The amount is floored, in the
    largest unit that fits.
    """
    # Aware datetimes sharing a tzinfo subtract as wall-clock times; UTC gives
    # the real elapsed time across DST changes.
    gap = newer.astimezone(UTC) - older.astimezone(UTC)
    if gap < _MIN_GAP:
        return None
    seconds = int(gap.total_seconds())
    # The ten-minute floor guarantees that at least minutes fit.
    unit, size = next((unit, size) for unit, size in _UNITS if seconds >= size)
    amount = seconds // size
    plural = "" if amount == 1 else "s"
    return f"{amount} {unit}{plural} earlier"
