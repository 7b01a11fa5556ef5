from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tocsin.lib.timefmt import format_date, format_month, format_timestamp, gap_note

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 2, 10, 19, 43), "Tue, Feb 10, 2026, 07:43 PM"),
        (utc(2026, 2, 3, 9, 5), "Tue, Feb 03, 2026, 09:05 AM"),
        (utc(2026, 3, 2, 12, 0), "Mon, Mar 02, 2026, 12:00 PM"),
        (utc(2026, 3, 2, 0, 0), "Mon, Mar 02, 2026, 12:00 AM"),
        (utc(2026, 3, 2, 0, 59), "Mon, Mar 02, 2026, 12:59 AM"),
        (utc(2026, 3, 2, 23, 59), "Mon, Mar 02, 2026, 11:59 PM"),
        (utc(2026, 12, 27, 13, 1), "Sun, Dec 27, 2026, 01:01 PM"),
    ],
)
def test_it_formats_timestamps_like_strftime_in_english(moment: datetime, expected: str) -> None:
    assert format_timestamp(moment, UTC_ZONE) == expected


def test_it_converts_to_the_page_time_zone() -> None:
    moment = utc(2026, 2, 10, 23, 30)

    assert format_timestamp(moment, NEW_YORK) == "Tue, Feb 10, 2026, 06:30 PM"
    assert format_timestamp(moment, BERLIN) == "Wed, Feb 11, 2026, 12:30 AM"


def test_it_follows_new_york_across_the_spring_forward() -> None:
    # Clocks jump from 02:00 EST to 03:00 EDT at 07:00 UTC on 2026-03-08.
    assert format_timestamp(utc(2026, 3, 8, 6, 59), NEW_YORK) == "Sun, Mar 08, 2026, 01:59 AM"
    assert format_timestamp(utc(2026, 3, 8, 7, 0), NEW_YORK) == "Sun, Mar 08, 2026, 03:00 AM"


def test_it_follows_berlin_across_both_transitions() -> None:
    assert format_timestamp(utc(2026, 3, 29, 0, 59), BERLIN) == "Sun, Mar 29, 2026, 01:59 AM"
    assert format_timestamp(utc(2026, 3, 29, 1, 0), BERLIN) == "Sun, Mar 29, 2026, 03:00 AM"
    # 02:30 happens twice on 2026-10-25: first in CEST, then in CET.
    assert format_timestamp(utc(2026, 10, 25, 0, 30), BERLIN) == "Sun, Oct 25, 2026, 02:30 AM"
    assert format_timestamp(utc(2026, 10, 25, 1, 30), BERLIN) == "Sun, Oct 25, 2026, 02:30 AM"


def test_it_formats_dates_and_months() -> None:
    assert format_date(date(2026, 2, 3)) == "Feb 03, 2026"
    assert format_date(date(2026, 12, 31)) == "Dec 31, 2026"
    assert format_month(date(2026, 9, 1)) == "September 2026"


NEWER = utc(2026, 3, 5, 10, 2)


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        (timedelta(0), None),
        (timedelta(minutes=5), None),
        (timedelta(minutes=9, seconds=59), None),
        (timedelta(minutes=10), "10 minutes earlier"),
        (timedelta(minutes=38), "38 minutes earlier"),
        (timedelta(minutes=51, seconds=59), "51 minutes earlier"),
        (timedelta(minutes=59, seconds=59), "59 minutes earlier"),
        (timedelta(hours=1), "1 hour earlier"),
        (timedelta(hours=1, minutes=59), "1 hour earlier"),
        (timedelta(hours=2), "2 hours earlier"),
        (timedelta(hours=23, minutes=59), "23 hours earlier"),
        (timedelta(days=1), "1 day earlier"),
        (timedelta(days=1, hours=23), "1 day earlier"),
        (timedelta(days=2), "2 days earlier"),
        (timedelta(days=2, hours=17, minutes=22), "2 days earlier"),
        (timedelta(days=400), "400 days earlier"),
    ],
)
def test_it_notes_gaps_floored_in_the_largest_unit(gap: timedelta, expected: str | None) -> None:
    assert gap_note(NEWER, NEWER - gap) == expected


def test_it_gives_no_note_when_the_older_time_is_later() -> None:
    assert gap_note(NEWER, NEWER + timedelta(hours=3)) is None


def test_it_measures_real_elapsed_time_across_dst() -> None:
    # 01:30 EST to 03:30 EDT is one hour of real time.
    older = datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK)
    newer = datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)

    assert gap_note(newer, older) == "1 hour earlier"
