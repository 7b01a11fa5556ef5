"""The page's public state as plain immutable values.

The loader builds a `PageState` from the database in one go; every public
artifact is rendered from it, so no template ever runs a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from tocsin.components.status import ComponentStatus, Indicator
from tocsin.incidents.status import Impact, IncidentKind, IncidentStatus


@dataclass(frozen=True)
class PageView:
    id: str
    name: str
    url: str
    time_zone: str
    logo_url: str | None
    accent_color: str | None
    partial_outage_weight: float
    updated_at: datetime
    language: str = "en"
    """The public page's language code (`pages.i18n`)."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class DayBar:
    """One day of a component's uptime bar, in the page's time zone.

    `worst` is None when the component did not exist yet on that day (no data).
    """

    day: date
    worst: ComponentStatus | None
    uptime: float | None
    down_seconds: float
    incident_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseTimes:
    """What a component's monitors measured over the last hours, from hourly rollups.

    `latency_ms` has one median per hour, oldest first, None for an hour without checks.
    """

    hours: int
    latency_ms: tuple[float | None, ...]
    uptime_percent: float | None


@dataclass(frozen=True)
class ComponentView:
    id: str
    name: str
    description: str | None
    status: ComponentStatus
    position: int
    is_group: bool
    group_id: str | None
    showcase: bool
    only_show_if_degraded: bool
    start_date: date | None
    created_at: datetime
    updated_at: datetime
    children: tuple[ComponentView, ...] = ()
    bars: tuple[DayBar, ...] = ()
    uptime_percent: float | None = None
    response_times: ResponseTimes | None = None
    """Only for components that opted in (`show_response_times`)."""


@dataclass(frozen=True)
class AffectedComponent:
    id: str
    name: str
    group_name: str | None
    status: ComponentStatus


@dataclass(frozen=True)
class ComponentChange:
    """What one update did to one component."""

    id: str
    name: str
    group_name: str | None
    old_status: ComponentStatus
    new_status: ComponentStatus


@dataclass(frozen=True)
class UpdateView:
    id: str
    status: IncidentStatus
    body: str
    display_at: datetime
    created_at: datetime
    updated_at: datetime
    deliver_notifications: bool
    changes: tuple[ComponentChange, ...]


@dataclass(frozen=True)
class WriteupView:
    url: str | None
    body: str | None
    published_at: datetime


@dataclass(frozen=True)
class IncidentView:
    id: str
    kind: IncidentKind
    name: str
    status: IncidentStatus
    impact: Impact
    backfilled: bool
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    scheduled_for: datetime | None
    scheduled_until: datetime | None
    updates: tuple[UpdateView, ...]
    """Newest first, by display time."""
    affected: tuple[AffectedComponent, ...]
    """Each component the incident touched, with the worst status it gave it."""
    component_ids: tuple[str, ...]
    writeup: WriteupView | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None and self.status not in (
            IncidentStatus.RESOLVED,
            IncidentStatus.POSTMORTEM,
            IncidentStatus.COMPLETED,
        )


@dataclass(frozen=True)
class PageState:
    page: PageView
    generated_at: datetime
    components: tuple[ComponentView, ...]
    """Top level, by position; groups carry their children."""
    indicator: Indicator
    description: str
    incidents: tuple[IncidentView, ...]
    """Every realtime incident, newest first."""
    maintenances: tuple[IncidentView, ...]
    """Every maintenance, soonest scheduled_for last."""
    by_id: dict[str, IncidentView] = field(default_factory=dict)

    # Cached: a rebuild reads these several times, and each scans every incident.
    @cached_property
    def unresolved(self) -> tuple[IncidentView, ...]:
        return tuple(i for i in self.incidents if i.is_open)

    @cached_property
    def active_maintenances(self) -> tuple[IncidentView, ...]:
        return tuple(
            m
            for m in self.maintenances
            if m.status in (IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING)
        )

    @cached_property
    def upcoming_maintenances(self) -> tuple[IncidentView, ...]:
        return tuple(m for m in self.maintenances if m.status is IncidentStatus.SCHEDULED)

    @cached_property
    def past(self) -> tuple[IncidentView, ...]:
        """Incidents and maintenances that have happened or are happening, newest first."""
        started = [m for m in self.maintenances if m.status is not IncidentStatus.SCHEDULED]
        return tuple(sorted([*self.incidents, *started], key=occurred_at, reverse=True))


def occurred_at(incident: IncidentView) -> datetime:
    """When an incident belongs in lists: its start, or a maintenance's window start."""
    if incident.kind is IncidentKind.MAINTENANCE and incident.scheduled_for:
        return incident.scheduled_for
    return incident.started_at
