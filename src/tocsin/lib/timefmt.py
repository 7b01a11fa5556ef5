"""Dates and times as the public page writes them, in English unless told otherwise.

strftime's `%a`/`%b`/`%p` follow the process locale, so the names come from
fixed tables instead: `ENGLISH` here, other languages' from `pages.i18n`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_MIN_GAP = timedelta(minutes=10)
_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


@dataclass(frozen=True)
class DateStyle:
    """How one language writes dates: its names and its `str.format` patterns.

    `date` gets `month` (abbreviated), `day` and `year`; `month` gets `month_name`
    and `year`; `timestamp` gets `weekday`, `date`, `hour`, `hour12`, `minute` and
    `meridiem`.
    """

    weekdays: tuple[str, str, str, str, str, str, str]
    months: tuple[str, str, str, str, str, str, str, str, str, str, str, str]
    month_names: tuple[str, str, str, str, str, str, str, str, str, str, str, str]
    date: str = "{month} {day:02d}, {year}"
    month: str = "{month_name} {year}"
    timestamp: str = "{weekday}, {date}, {hour12:02d}:{minute:02d} {meridiem}"


ENGLISH = DateStyle(
    weekdays=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    months=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    month_names=(
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
)  # fmt: skip


def format_date(d: date, style: DateStyle = ENGLISH) -> str:
    """`Feb 03, 2026`."""
    return style.date.format(month=style.months[d.month - 1], day=d.day, year=d.year)


def format_month(d: date, style: DateStyle = ENGLISH) -> str:
    """`February 2026`."""
    return style.month.format(month_name=style.month_names[d.month - 1], year=d.year)


def format_timestamp(dt: datetime, zone: ZoneInfo, style: DateStyle = ENGLISH) -> str:
    """`Tue, Feb 10, 2026, 07:43 PM`: `%a, %b %d, %Y, %I:%M %p` in `zone`."""
    local = dt.astimezone(zone)
    return style.timestamp.format(
        weekday=style.weekdays[local.weekday()],
        date=format_date(local.date(), style),
        hour=local.hour,
        hour12=local.hour % 12 or 12,
        minute=local.minute,
        meridiem="AM" if local.hour < 12 else "PM",
    )


def gap_note(
    newer: datetime, older: datetime, phrase: Callable[[int, str], str] | None = None
) -> str | None:
    """`51 minutes earlier`: how long before `newer` `older` happened.

    None when the gap is under ten minutes. The amount is floored, in the
    largest unit that fits; `phrase(amount, unit)` words it (unit being `day`,
    `hour` or `minute`), in English by default.
    """
    # Aware datetimes sharing a tzinfo subtract as wall-clock times; UTC gives
    # the real elapsed time across DST changes.
    elapsed = newer.astimezone(UTC) - older.astimezone(UTC)
    if elapsed < _MIN_GAP:
        return None
    seconds = int(elapsed.total_seconds())
    # The ten-minute floor guarantees that at least minutes fit.
    unit, size = next((unit, size) for unit, size in _UNITS if seconds >= size)
    return (phrase or _english_gap)(seconds // size, unit)


def _english_gap(amount: int, unit: str) -> str:
    plural = "" if amount == 1 else "s"
    return f"{amount} {unit}{plural} earlier"
