"""Incident and maintenance statuses, impact and their labels."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from tocsin.components.status import SEVERITY, ComponentStatus


class IncidentKind(StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


class Impact(StrEnum):
    NONE = "none"
    MAINTENANCE = "maintenance"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


INCIDENT_STATUSES = (
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
    IncidentStatus.RESOLVED,
    IncidentStatus.POSTMORTEM,
)
MAINTENANCE_STATUSES = (
    IncidentStatus.SCHEDULED,
    IncidentStatus.IN_PROGRESS,
    IncidentStatus.VERIFYING,
    IncidentStatus.COMPLETED,
)
CLOSED_STATUSES = frozenset(
    {IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM, IncidentStatus.COMPLETED}
)
# Statuses that stamp monitoring_at / resolved_at the first time they are reached.
MONITORING_LIKE = frozenset({IncidentStatus.MONITORING, IncidentStatus.VERIFYING})

LABELS: dict[IncidentStatus, str] = {
    IncidentStatus.INVESTIGATING: "Investigating",
    IncidentStatus.IDENTIFIED: "Identified",
    IncidentStatus.MONITORING: "Monitoring",
    IncidentStatus.RESOLVED: "Resolved",
    IncidentStatus.POSTMORTEM: "Postmortem",
    IncidentStatus.SCHEDULED: "Scheduled",
    IncidentStatus.IN_PROGRESS: "In progress",
    IncidentStatus.VERIFYING: "Verifying",
    IncidentStatus.COMPLETED: "Completed",
}

DEFAULT_BODIES: dict[IncidentStatus, str] = {
    IncidentStatus.INVESTIGATING: "We are currently investigating this issue.",
    IncidentStatus.IDENTIFIED: "The issue has been identified and a fix is being implemented.",
    IncidentStatus.MONITORING: "A fix has been implemented and we are monitoring the results.",
    IncidentStatus.RESOLVED: "This incident has been resolved.",
    IncidentStatus.POSTMORTEM: "A write-up of this incident has been published.",
    IncidentStatus.SCHEDULED: "This maintenance has been scheduled.",
    IncidentStatus.IN_PROGRESS: (
        "Scheduled maintenance is currently in progress. We will provide updates as necessary."
    ),
    IncidentStatus.VERIFYING: "Verification is currently underway for the maintenance items.",
    IncidentStatus.COMPLETED: "The scheduled maintenance has been completed.",
}

_IMPACT_OF: dict[ComponentStatus, Impact] = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}


def statuses_for(kind: IncidentKind) -> tuple[IncidentStatus, ...]:
    return MAINTENANCE_STATUSES if kind is IncidentKind.MAINTENANCE else INCIDENT_STATUSES


def impact_from_components(statuses: Iterable[ComponentStatus]) -> Impact:
    """The impact an incident earns from the worst status it ever gave a component."""
    worst = max(statuses, key=SEVERITY.__getitem__, default=ComponentStatus.OPERATIONAL)
    return _IMPACT_OF[worst]
