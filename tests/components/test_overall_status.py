from __future__ import annotations

import pytest

from tocsin.components.status import ComponentStatus, Indicator, overall_status, worst
from tocsin.incidents.status import Impact, impact_from_components

OP = ComponentStatus.OPERATIONAL
MAINT = ComponentStatus.UNDER_MAINTENANCE
DEG = ComponentStatus.DEGRADED_PERFORMANCE
PART = ComponentStatus.PARTIAL_OUTAGE
MAJOR = ComponentStatus.MAJOR_OUTAGE


@pytest.mark.parametrize(
    ("statuses", "indicator", "description"),
    [
        ([], Indicator.NONE, "All Systems Operational"),
        ([OP], Indicator.NONE, "All Systems Operational"),
        ([MAJOR], Indicator.CRITICAL, "Major System Outage"),
        ([PART], Indicator.MAJOR, "Partial System Outage"),
        ([DEG], Indicator.MINOR, "Partially Degraded Service"),
        ([MAINT], Indicator.MAINTENANCE, "Service Under Maintenance"),
        ([OP, OP], Indicator.NONE, "All Systems Operational"),
        ([MAJOR, MAJOR], Indicator.CRITICAL, "Major System Outage"),
        ([MAJOR, OP], Indicator.MAJOR, "Partial System Outage"),
        ([MAJOR, DEG], Indicator.MAJOR, "Partial System Outage"),
        ([PART, PART], Indicator.MAJOR, "Partial System Outage"),
        ([PART, OP], Indicator.MINOR, "Minor Service Outage"),
        ([PART, DEG, OP], Indicator.MINOR, "Minor Service Outage"),
        ([DEG, DEG], Indicator.MINOR, "Degraded System Service"),
        ([DEG, OP], Indicator.MINOR, "Partially Degraded Service"),
        ([DEG, MAINT], Indicator.MINOR, "Partially Degraded Service"),
        ([MAINT, OP], Indicator.MAINTENANCE, "Service Under Maintenance"),
    ],
)
def test_it_blends_leaf_statuses_like_statuspage(
    statuses: list[ComponentStatus], indicator: Indicator, description: str
) -> None:
    assert overall_status(statuses) == (indicator, description)


def test_maintenance_is_better_than_any_degradation() -> None:
    assert worst([MAINT, DEG]) is DEG
    assert worst([OP, MAINT]) is MAINT
    assert worst([]) is OP


@pytest.mark.parametrize(
    ("statuses", "impact"),
    [
        ([], Impact.NONE),
        ([OP, MAINT], Impact.NONE),
        ([DEG], Impact.MINOR),
        ([DEG, PART], Impact.MAJOR),
        ([OP, MAJOR, DEG], Impact.CRITICAL),
    ],
)
def test_impact_follows_the_worst_component(
    statuses: list[ComponentStatus], impact: Impact
) -> None:
    assert impact_from_components(statuses) is impact
