"""Component statuses and the rules that blend them (statuspage-api.md §1.6)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class ComponentStatus(StrEnum):
    OPERATIONAL = "operational"
    UNDER_MAINTENANCE = "under_maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"


class StatusCause(StrEnum):
    MANUAL = "manual"
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"
    MONITOR = "monitor"


# Order of badness used for "worst of": maintenance is planned, so any real
# degradation outranks it.
SEVERITY: dict[ComponentStatus, int] = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}

LABELS: dict[ComponentStatus, str] = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
}


def worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    return max(statuses, key=SEVERITY.__getitem__, default=ComponentStatus.OPERATIONAL)


class Indicator(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


ALL_OPERATIONAL = (Indicator.NONE, "All Systems Operational")
_MAJOR_SYSTEM = (Indicator.CRITICAL, "Major System Outage")
_PARTIAL_SYSTEM = (Indicator.MAJOR, "Partial System Outage")
_MINOR_SERVICE = (Indicator.MINOR, "Minor Service Outage")
_DEGRADED_SYSTEM = (Indicator.MINOR, "Degraded System Service")
_PARTIALLY_DEGRADED = (Indicator.MINOR, "Partially Degraded Service")
_MAINTENANCE = (Indicator.MAINTENANCE, "Service Under Maintenance")

_SINGLE: dict[ComponentStatus, tuple[Indicator, str]] = {
    ComponentStatus.MAJOR_OUTAGE: _MAJOR_SYSTEM,
    ComponentStatus.PARTIAL_OUTAGE: _PARTIAL_SYSTEM,
    ComponentStatus.DEGRADED_PERFORMANCE: _PARTIALLY_DEGRADED,
    ComponentStatus.UNDER_MAINTENANCE: _MAINTENANCE,
    ComponentStatus.OPERATIONAL: ALL_OPERATIONAL,
}


def overall_status(leaf_statuses: list[ComponentStatus]) -> tuple[Indicator, str]:
    """Blend the statuses of the page's leaf components (never group rows).

    Unresolved incidents do not raise the indicator on a page with components,
    as on Statuspage.
    """
    if not leaf_statuses:
        return ALL_OPERATIONAL
    if len(leaf_statuses) == 1:
        return _SINGLE[leaf_statuses[0]]
    present = set(leaf_statuses)
    everyone = len(present) == 1
    if ComponentStatus.MAJOR_OUTAGE in present:
        return _MAJOR_SYSTEM if everyone else _PARTIAL_SYSTEM
    if ComponentStatus.PARTIAL_OUTAGE in present:
        return _PARTIAL_SYSTEM if everyone else _MINOR_SERVICE
    if ComponentStatus.DEGRADED_PERFORMANCE in present:
        return _DEGRADED_SYSTEM if everyone else _PARTIALLY_DEGRADED
    if ComponentStatus.UNDER_MAINTENANCE in present:
        return _MAINTENANCE
    return ALL_OPERATIONAL
