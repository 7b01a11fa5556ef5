"""Response times and uptime from checks, for the components that opted in."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.components.models import Component
from tocsin.monitors import history
from tocsin.pages.view import ComponentView, ResponseTimes


def attach(
    session: Session,
    *,
    rows: list[Component],
    tree: tuple[ComponentView, ...],
    now: datetime,
    hours: int = history.DEFAULT_HOURS,
) -> tuple[ComponentView, ...]:
    """`tree` with `response_times` filled in on each opted-in leaf, from hourly rollups."""
    wanted = [row.id for row in rows if row.show_response_times and not row.is_group]
    if not wanted:
        return tree
    found = history.component_checks(session, component_ids=wanted, now=now, hours=hours)
    shown = {
        cid: ResponseTimes(hours=hours, latency_ms=c.latency_ms, uptime_percent=c.uptime_percent)
        for cid, c in found.items()
    }
    return tuple(_with(view, shown) for view in tree)


def _with(view: ComponentView, shown: dict[str, ResponseTimes]) -> ComponentView:
    if view.is_group:
        return replace(view, children=tuple(_with(child, shown) for child in view.children))
    times = shown.get(view.id)
    return replace(view, response_times=times) if times is not None else view
