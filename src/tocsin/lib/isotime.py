"""Timestamps as Statuspage clients parse them: ISO 8601 with milliseconds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def iso(value: datetime | None, zone: ZoneInfo | None = None) -> str | None:
    """`2021-12-10T14:56:24.510Z` in UTC, or with the zone's offset (`...-08:00`); None stays None.

    Never an empty string: clients crash on "" where they accept null.
    """
    if value is None:
        return None
    local = value.astimezone(zone or UTC)
    text = local.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
