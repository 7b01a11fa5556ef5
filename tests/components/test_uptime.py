from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tocsin.components.status import ComponentStatus
from tocsin.components.uptime import compute_uptime, local_midnight, merge_uptimes
from tocsin.pages.view import DayBar

OPERATIONAL = ComponentStatus.OPERATIONAL
DEGRADED = ComponentStatus.DEGRADED_PERFORMANCE
PARTIAL = ComponentStatus.PARTIAL_OUTAGE
MAJOR = ComponentStatus.MAJOR_OUTAGE
MAINTENANCE = ComponentStatus.UNDER_MAINTENANCE

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
DAY = 86_400


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


NOW = utc(2026, 3, 10, 12, 0)


def one_bad_day(status: ComponentStatus) -> list[tuple[datetime, ComponentStatus]]:
    """Operational from Mar 1, `status` for the whole of Mar 5 (UTC)."""
    return [
        (utc(2026, 3, 1), OPERATIONAL),
        (utc(2026, 3, 5), status),
        (utc(2026, 3, 6), OPERATIONAL),
    ]


def bar_on(bars: tuple[DayBar, ...], day: date) -> DayBar:
    return next(bar for bar in bars if bar.day == day)


def test_it_gives_exactly_the_requested_days_ending_today() -> None:
    result = compute_uptime(one_bad_day(MAJOR), now=NOW, zone=UTC_ZONE)

    assert len(result.bars) == 90
    assert result.bars[-1].day == date(2026, 3, 10)
    assert result.bars[0].day == date(2026, 3, 10) - timedelta(days=89)


def test_it_ends_on_today_in_the_page_time_zone() -> None:
    late_evening_utc = utc(2026, 3, 10, 23, 30)

    result = compute_uptime(
        one_bad_day(MAJOR), now=late_evening_utc, zone=ZoneInfo("Europe/Berlin"), days=7
    )

    assert result.bars[-1].day == date(2026, 3, 11)


def test_it_counts_a_full_day_major_outage_as_zero() -> None:
    bar = bar_on(compute_uptime(one_bad_day(MAJOR), now=NOW, zone=UTC_ZONE).bars, date(2026, 3, 5))

    assert bar.worst is MAJOR
    assert bar.uptime == 0
    assert bar.down_seconds == DAY


def test_it_counts_a_partial_outage_as_thirty_percent_down_by_default() -> None:
    bar = bar_on(
        compute_uptime(one_bad_day(PARTIAL), now=NOW, zone=UTC_ZONE).bars, date(2026, 3, 5)
    )

    assert bar.worst is PARTIAL
    assert bar.uptime == pytest.approx(0.7)
    assert bar.down_seconds == pytest.approx(0.3 * DAY)


def test_it_uses_the_page_partial_outage_weight() -> None:
    result = compute_uptime(one_bad_day(PARTIAL), now=NOW, zone=UTC_ZONE, partial_outage_weight=1.0)

    assert bar_on(result.bars, date(2026, 3, 5)).uptime == 0


@pytest.mark.parametrize("status", [DEGRADED, MAINTENANCE])
def test_it_does_not_count_degraded_or_maintenance_as_down(status: ComponentStatus) -> None:
    bar = bar_on(compute_uptime(one_bad_day(status), now=NOW, zone=UTC_ZONE).bars, date(2026, 3, 5))

    assert bar.worst is status
    assert bar.uptime == 1
    assert bar.down_seconds == 0


def test_it_colours_a_day_by_its_worst_status() -> None:
    history = [
        (utc(2026, 3, 1), OPERATIONAL),
        (utc(2026, 3, 5, 8), DEGRADED),
        (utc(2026, 3, 5, 9), MAJOR),
        (utc(2026, 3, 5, 10), MAINTENANCE),
        (utc(2026, 3, 5, 11), OPERATIONAL),
    ]

    bar = bar_on(compute_uptime(history, now=NOW, zone=UTC_ZONE).bars, date(2026, 3, 5))

    assert bar.worst is MAJOR
    assert bar.down_seconds == 3600
    assert bar.uptime == pytest.approx(1 - 3600 / DAY)


def test_it_splits_an_outage_across_midnight() -> None:
    history = [
        (utc(2026, 3, 1), OPERATIONAL),
        (utc(2026, 3, 4, 18), MAJOR),
        (utc(2026, 3, 5, 6), OPERATIONAL),
    ]

    bars = compute_uptime(history, now=NOW, zone=UTC_ZONE).bars

    assert bar_on(bars, date(2026, 3, 4)).down_seconds == 6 * 3600
    assert bar_on(bars, date(2026, 3, 5)).down_seconds == 6 * 3600
    assert bar_on(bars, date(2026, 3, 6)).worst is OPERATIONAL


def test_it_has_no_data_before_the_first_change() -> None:
    bars = compute_uptime(one_bad_day(MAJOR), now=NOW, zone=UTC_ZONE).bars

    before = bar_on(bars, date(2026, 2, 28))
    assert before.worst is None
    assert before.uptime is None
    assert bar_on(bars, date(2026, 3, 1)).worst is OPERATIONAL


def test_it_has_no_data_before_the_start_date() -> None:
    result = compute_uptime(
        one_bad_day(MAJOR), now=NOW, zone=UTC_ZONE, start=local_midnight(date(2026, 3, 6), UTC_ZONE)
    )

    assert bar_on(result.bars, date(2026, 3, 5)).worst is None
    assert bar_on(result.bars, date(2026, 3, 6)).worst is OPERATIONAL
    assert result.percent == 100


def test_it_counts_only_the_part_of_a_day_when_the_component_existed() -> None:
    history = [(utc(2026, 3, 5, 18), OPERATIONAL), (utc(2026, 3, 5, 21), MAJOR)]

    bar = bar_on(compute_uptime(history, now=NOW, zone=UTC_ZONE).bars, date(2026, 3, 5))

    assert bar.uptime == pytest.approx(0.5)


def test_it_counts_today_only_up_to_now() -> None:
    history = [(utc(2026, 3, 1), OPERATIONAL), (utc(2026, 3, 10, 6), MAJOR)]

    today = compute_uptime(history, now=NOW, zone=UTC_ZONE).bars[-1]

    assert today.down_seconds == 6 * 3600
    assert today.uptime == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 3, 9), 24)],
)
def test_it_uses_real_local_days_across_dst(day: date, hours: int) -> None:
    history = [
        (utc(2026, 1, 1), OPERATIONAL),
        (local_midnight(day, NEW_YORK), MAJOR),
        (local_midnight(day + timedelta(days=1), NEW_YORK), OPERATIONAL),
    ]

    result = compute_uptime(
        history, now=local_midnight(day + timedelta(days=5), NEW_YORK), zone=NEW_YORK
    )

    bar = bar_on(result.bars, day)
    assert bar.down_seconds == hours * 3600
    assert bar.uptime == 0
    assert bar_on(result.bars, day - timedelta(days=1)).worst is OPERATIONAL
    assert bar_on(result.bars, day + timedelta(days=1)).worst is OPERATIONAL


def test_it_gives_the_uptime_percent_over_the_existing_part_of_the_window() -> None:
    history = [(utc(2026, 3, 8, 12), MAJOR), (utc(2026, 3, 9, 12), OPERATIONAL)]

    result = compute_uptime(history, now=NOW, zone=UTC_ZONE)

    assert result.percent == pytest.approx(50)


def test_it_has_no_percent_without_history() -> None:
    result = compute_uptime([], now=NOW, zone=UTC_ZONE)

    assert result.percent is None
    assert all(bar.worst is None for bar in result.bars)


def test_it_ignores_changes_older_than_the_window() -> None:
    history = [(utc(2025, 1, 1), MAJOR), (utc(2026, 3, 1), OPERATIONAL)]

    result = compute_uptime(history, now=NOW, zone=UTC_ZONE, days=5)

    assert result.percent == 100
    assert [bar.worst for bar in result.bars] == [OPERATIONAL] * 5


def test_it_merges_a_group_by_worst_status_and_mean_uptime() -> None:
    api = compute_uptime(one_bad_day(MAJOR), now=NOW, zone=UTC_ZONE, days=7)
    web = compute_uptime(one_bad_day(DEGRADED), now=NOW, zone=UTC_ZONE, days=7)
    newcomer = compute_uptime([(utc(2026, 3, 9), PARTIAL)], now=NOW, zone=UTC_ZONE, days=7)

    group = merge_uptimes([api, web, newcomer])

    assert [bar.day for bar in group.bars] == [bar.day for bar in api.bars]
    mar5 = bar_on(group.bars, date(2026, 3, 5))
    assert mar5.worst is MAJOR
    assert mar5.uptime == pytest.approx(0.5)
    mar9 = bar_on(group.bars, date(2026, 3, 9))
    assert mar9.worst is PARTIAL
    assert mar9.uptime == pytest.approx((1 + 1 + 0.7) / 3)
    assert group.percent == pytest.approx(
        ((api.percent or 0) + (web.percent or 0) + (newcomer.percent or 0)) / 3
    )


def test_it_gives_a_group_no_data_on_days_no_member_has() -> None:
    late = compute_uptime([(utc(2026, 3, 9), OPERATIONAL)], now=NOW, zone=UTC_ZONE, days=7)

    group = merge_uptimes([late, late])

    assert group.bars[0].worst is None
    assert group.bars[0].uptime is None
    assert group.bars[-1].worst is OPERATIONAL


def test_it_is_cheap_for_a_large_page() -> None:
    statuses = [OPERATIONAL, PARTIAL, MAJOR, DEGRADED]
    history = [(utc(2025, 11, 1) + timedelta(hours=6 * i), statuses[i % 4]) for i in range(600)]

    for _ in range(200):
        compute_uptime(history, now=NOW, zone=NEW_YORK)
