"""Per-day uptime bars from a component's status history.

Pure maths over plain values: the loader feeds it the history it read and
stores the result in the page's view models.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from tocsin.components.status import SEVERITY, ComponentStatus, worst
from tocsin.pages.view import DayBar

StatusHistory = Sequence[tuple[datetime, ComponentStatus]]
"""(changed_at, status) pairs, oldest first; each status holds until the next change."""

DEFAULT_DAYS = 90
DEFAULT_PARTIAL_OUTAGE_WEIGHT = 0.3


@dataclass(frozen=True)
class Uptime:
    bars: tuple[DayBar, ...]
    """Oldest first, the last one is today in the page's time zone."""
    percent: float | None
    """Over the whole window, counting only time when the component existed."""


@dataclass
class _Tally:
    covered: float = 0.0
    down: float = 0.0
    worst: ComponentStatus | None = None

    def add(self, status: ComponentStatus, seconds: float, weight: float) -> None:
        self.covered += seconds
        self.down += seconds * weight
        if self.worst is None or SEVERITY[status] > SEVERITY[self.worst]:
            self.worst = status

    def bar(self, day: date) -> DayBar:
        uptime = 1 - self.down / self.covered if self.covered else None
        return DayBar(day=day, worst=self.worst, uptime=uptime, down_seconds=self.down)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant `day` starts in `zone`, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def down_weight(status: ComponentStatus, partial_outage_weight: float) -> float:
    """How much of the time spent in `status` counts as downtime."""
    if status is ComponentStatus.MAJOR_OUTAGE:
        return 1.0
    if status is ComponentStatus.PARTIAL_OUTAGE:
        return partial_outage_weight
    return 0.0


def _segments(
    history: StatusHistory, start: datetime | None, now: datetime
) -> Iterator[tuple[datetime, datetime, ComponentStatus]]:
    if not history:
        return
    ends = [changed_at for changed_at, _ in history[1:]] + [now]
    for (changed_at, status), end in zip(history, ends, strict=True):
        begin = max(changed_at, start) if start else changed_at
        if end > begin:
            yield begin, min(end, now), status


def _day_edges(days: int, now: datetime, zone: ZoneInfo) -> tuple[list[date], list[datetime]]:
    """The window's days and the `days + 1` instants bounding them; today ends now."""
    today = now.astimezone(zone).date()
    window = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    return window, [local_midnight(day, zone) for day in window] + [now]


def compute_uptime(
    history: StatusHistory,
    *,
    now: datetime,
    zone: ZoneInfo,
    start: datetime | None = None,
    days: int = DEFAULT_DAYS,
    partial_outage_weight: float = DEFAULT_PARTIAL_OUTAGE_WEIGHT,
) -> Uptime:
    """Bars for the `days` days ending today in `zone`, and the window's uptime.

    Time before `start` and before the first change has no data. Days are cut
    at real local midnights, so DST days last 23 or 25 hours. One pass over
    `history`, which must be sorted by time.
    """
    now = now.astimezone(UTC)
    window, edges = _day_edges(days, now, zone)
    tallies = [_Tally() for _ in window]
    day = 0
    for begin, end, status in _segments(history, start, now):
        weight = down_weight(status, partial_outage_weight)
        while day < days and edges[day + 1] <= begin:
            day += 1
        for index in range(day, days):
            if edges[index] >= end:
                break
            overlap = min(end, edges[index + 1]) - max(begin, edges[index])
            if overlap > timedelta(0):
                tallies[index].add(status, overlap.total_seconds(), weight)
    return Uptime(
        bars=tuple(tally.bar(day) for tally, day in zip(tallies, window, strict=True)),
        percent=_percent(tallies),
    )


def _percent(tallies: Sequence[_Tally]) -> float | None:
    covered = sum(tally.covered for tally in tallies)
    if not covered:
        return None
    return 100 * (1 - sum(tally.down for tally in tallies) / covered)


def _merge_day(bars: Sequence[DayBar]) -> DayBar:
    with_data = [bar for bar in bars if bar.uptime is not None]
    names = dict.fromkeys(name for bar in bars for name in bar.incident_names)
    if not with_data:
        return DayBar(day=bars[0].day, worst=None, uptime=None, down_seconds=0.0)
    return DayBar(
        day=bars[0].day,
        worst=worst(bar.worst for bar in with_data if bar.worst is not None),
        uptime=fmean(bar.uptime for bar in with_data if bar.uptime is not None),
        down_seconds=fmean(bar.down_seconds for bar in with_data),
        incident_names=tuple(names),
    )


def merge_uptimes(children: Sequence[Uptime]) -> Uptime:
    """A group's uptime: the worst status of each day, and the mean uptime of
    the members that have data. All children must cover the same days."""
    if not children:
        return Uptime(bars=(), percent=None)
    days = zip(*(child.bars for child in children), strict=True)
    percents = [child.percent for child in children if child.percent is not None]
    return Uptime(
        bars=tuple(_merge_day(bars) for bars in days),
        percent=fmean(percents) if percents else None,
    )
