"""Read a page's public state from the database into immutable view values: all of
it (`load`), or only what a change touched (`reload`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from operator import attrgetter
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.status import (
    SEVERITY,
    ComponentStatus,
    Indicator,
    overall_status,
    worst,
)
from tocsin.components.uptime import DEFAULT_DAYS, Uptime, compute_uptime, merge_uptimes
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident, IncidentUpdate
from tocsin.incidents.status import IncidentKind
from tocsin.pages import response_times
from tocsin.pages.models import Page
from tocsin.pages.view import (
    AffectedComponent,
    ComponentChange,
    ComponentView,
    IncidentView,
    PageState,
    PageView,
    UpdateView,
    WriteupView,
)

Names = dict[str, tuple[str, str | None]]


@dataclass(frozen=True)
class Components:
    """A page's components as shown, and what incident views take from them."""

    tree: tuple[ComponentView, ...]
    indicator: Indicator
    description: str
    names: Names
    """Each component's name and its group's name, in the page's order."""
    read_at: datetime
    """The time the uptime bars were computed for."""

    def same_for_incidents(self, other: Components) -> bool:
        """Whether incident views built with `other` read the same with these: no
        component they may name was renamed, regrouped, reordered or deleted (new
        ones cannot be named yet)."""
        if self is other:
            return True
        kept = [cid for cid in self.names if cid in other.names]
        return kept == list(other.names) and all(
            self.names[cid] == other.names[cid] for cid in kept
        )


@dataclass(frozen=True)
class LoadedState:
    """A page's state, with the parts that `reload` can keep."""

    state: PageState
    components: Components
    incidents: tuple[IncidentView, ...]
    """Every published incident and maintenance, newest start first (then by id)."""
    changed: frozenset[str] | None = None
    """The incidents whose views may differ from those `reload` started from (None: any)."""


def load_state(session: Session, *, page: Page, now: datetime, base_url: str) -> PageState:
    return load(session, page=page, now=now, base_url=base_url).state


def load(session: Session, *, page: Page, now: datetime, base_url: str) -> LoadedState:
    parts = load_components(session, page=page, now=now)
    views = tuple(_incident_views(session, page_id=page.id, components=parts))
    return _assemble(page, now, base_url, parts, views)


def reload(
    session: Session,
    previous: LoadedState,
    *,
    page: Page,
    now: datetime,
    base_url: str,
    incident_ids: Collection[str],
    components: bool,
) -> LoadedState:
    """`previous` with the incidents `incident_ids` and, if asked, the components read
    again; every incident too if a component they may name changed."""
    parts = load_components(session, page=page, now=now) if components else previous.components
    if not parts.same_for_incidents(previous.components):
        views = tuple(_incident_views(session, page_id=page.id, components=parts))
        return _assemble(page, now, base_url, parts, views)
    views = previous.incidents
    if incident_ids:
        fresh = _incident_views(session, page_id=page.id, components=parts, ids=incident_ids)
        merged = [*(v for v in views if v.id not in incident_ids), *fresh]
        # The order of `list_incidents`: newest start first, then by id (sorts are stable).
        merged.sort(key=attrgetter("id"))
        merged.sort(key=attrgetter("started_at"), reverse=True)
        views = tuple(merged)
    return _assemble(page, now, base_url, parts, views, changed=frozenset(incident_ids))


def load_components(session: Session, *, page: Page, now: datetime) -> Components:
    zone = ZoneInfo(page.time_zone)
    rows = components.list_components(session, page.id)
    window_start = datetime.combine(now.astimezone(zone).date(), time(), zone) - timedelta(
        days=DEFAULT_DAYS
    )
    history = components.status_history(
        session, component_ids=[r.id for r in rows if not r.is_group], since=window_start
    )
    tree = _component_tree(rows, history, page, now, zone)
    tree = response_times.attach(session, rows=rows, tree=tree, now=now)
    indicator, description = overall_status([r.status for r in rows if not r.is_group])
    by_id = {row.id: row for row in rows}
    names = {}
    for row in rows:
        group = by_id.get(row.group_id) if row.group_id else None
        names[row.id] = (row.name, group.name if group else None)
    return Components(tree, indicator, description, names, now)


def _incident_views(
    session: Session, *, page_id: str, components: Components, ids: Collection[str] | None = None
) -> list[IncidentView]:
    order = {cid: index for index, cid in enumerate(components.names)}
    return [
        _incident_view(incident, components.names, order)
        for incident in incidents.list_incidents(session, page_id=page_id, ids=ids)
        if not incident.draft
    ]


def _assemble(
    page: Page,
    now: datetime,
    base_url: str,
    parts: Components,
    views: tuple[IncidentView, ...],
    *,
    changed: frozenset[str] | None = None,
) -> LoadedState:
    realtime = tuple(i for i in views if i.kind is IncidentKind.INCIDENT)
    maintenances = tuple(
        sorted(
            (i for i in views if i.kind is IncidentKind.MAINTENANCE),
            key=lambda m: m.scheduled_for or m.started_at,
            reverse=True,
        )
    )
    state = PageState(
        page=_page_view(page, base_url),
        generated_at=now,
        components=parts.tree,
        indicator=parts.indicator,
        description=parts.description,
        incidents=realtime,
        maintenances=maintenances,
        by_id={i.id: i for i in views},
    )
    return LoadedState(state, parts, views, changed)


def _page_view(page: Page, base_url: str) -> PageView:
    return PageView(
        id=page.id,
        name=page.name,
        url=page.url or base_url,
        time_zone=page.time_zone,
        logo_url=page.logo_url,
        accent_color=page.accent_color,
        partial_outage_weight=page.partial_outage_weight,
        updated_at=page.updated_at,
        language=page.language,
    )


def _component_tree(
    rows: list[Component],
    history: dict[str, list[tuple[datetime, ComponentStatus]]],
    page: Page,
    now: datetime,
    zone: ZoneInfo,
) -> tuple[ComponentView, ...]:
    uptimes: dict[str, Uptime] = {}
    for row in rows:
        if row.is_group:
            continue
        start = datetime.combine(row.start_date, time(), zone) if row.start_date else None
        uptimes[row.id] = compute_uptime(
            history[row.id],
            now=now,
            zone=zone,
            start=start,
            partial_outage_weight=page.partial_outage_weight,
        )
    children: dict[str, list[ComponentView]] = {}
    for row in rows:
        if row.group_id is not None and not row.is_group:
            children.setdefault(row.group_id, []).append(_leaf_view(row, uptimes[row.id]))
    top: list[ComponentView] = []
    for row in rows:
        if row.is_group:
            top.append(_group_view(row, tuple(children.get(row.id, ())), uptimes))
        elif row.group_id is None:
            top.append(_leaf_view(row, uptimes[row.id]))
    return tuple(top)


def _leaf_view(row: Component, uptime: Uptime) -> ComponentView:
    return ComponentView(
        id=row.id,
        name=row.name,
        description=row.description,
        status=row.status,
        position=row.position,
        is_group=False,
        group_id=row.group_id,
        showcase=row.showcase,
        only_show_if_degraded=row.only_show_if_degraded,
        start_date=row.start_date,
        created_at=row.created_at,
        updated_at=row.updated_at,
        bars=uptime.bars if row.showcase else (),
        uptime_percent=uptime.percent if row.showcase else None,
    )


def _group_view(
    row: Component, members: tuple[ComponentView, ...], uptimes: dict[str, Uptime]
) -> ComponentView:
    merged = merge_uptimes([uptimes[m.id] for m in members]) if members else None
    return ComponentView(
        id=row.id,
        name=row.name,
        description=row.description,
        status=worst(m.status for m in members),
        position=row.position,
        is_group=True,
        group_id=None,
        showcase=row.showcase,
        only_show_if_degraded=row.only_show_if_degraded,
        start_date=row.start_date,
        created_at=row.created_at,
        updated_at=max([row.updated_at, *(m.updated_at for m in members)]),
        children=members,
        bars=merged.bars if merged and row.showcase else (),
        uptime_percent=merged.percent if merged and row.showcase else None,
    )


def _names(component_id: str, names: Names) -> tuple[str, str | None]:
    return names.get(component_id, (component_id, None))


def _update_view(update: IncidentUpdate, names: Names) -> UpdateView:
    changes = []
    for change in update.changes:
        name, group_name = _names(change.component_id, names)
        changes.append(
            ComponentChange(
                id=change.component_id,
                name=name,
                group_name=group_name,
                old_status=change.old_status,
                new_status=change.new_status,
            )
        )
    return UpdateView(
        id=update.id,
        status=update.status,
        body=update.body,
        display_at=update.display_at,
        created_at=update.created_at,
        updated_at=update.updated_at,
        deliver_notifications=update.deliver_notifications,
        changes=tuple(changes),
    )


def _affected(
    incident: Incident, updates: list[UpdateView], names: Names, order: dict[str, int]
) -> tuple[AffectedComponent, ...]:
    worst_by_id: dict[str, ComponentStatus] = {}
    for update in updates:
        for change in update.changes:
            seen = worst_by_id.get(change.id, ComponentStatus.OPERATIONAL)
            if SEVERITY[change.new_status] > SEVERITY[seen]:
                worst_by_id[change.id] = change.new_status
    planned = (
        ComponentStatus.UNDER_MAINTENANCE
        if incident.kind is IncidentKind.MAINTENANCE
        else ComponentStatus.OPERATIONAL
    )
    for link in incident.components:
        worst_by_id.setdefault(link.component_id, link.status or planned)
    result = []
    for component_id in sorted(worst_by_id, key=lambda cid: order.get(cid, len(order))):
        name, group_name = _names(component_id, names)
        result.append(AffectedComponent(component_id, name, group_name, worst_by_id[component_id]))
    return tuple(result)


def _incident_view(incident: Incident, names: Names, order: dict[str, int]) -> IncidentView:
    # The id settles ties, so that the same rows give the same page whatever order
    # the database returned them in.
    updates = sorted(
        (_update_view(u, names) for u in incident.updates),
        key=lambda u: (u.display_at, u.created_at, u.id),
        reverse=True,
    )
    writeup = None
    if incident.postmortem_published_at is not None:
        writeup = WriteupView(
            url=incident.writeup_url,
            body=incident.postmortem_body,
            published_at=incident.postmortem_published_at,
        )
    return IncidentView(
        id=incident.id,
        kind=incident.kind,
        name=incident.name,
        status=incident.status,
        impact=incident.impact,
        backfilled=incident.backfilled,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        started_at=incident.started_at,
        monitoring_at=incident.monitoring_at,
        resolved_at=incident.resolved_at,
        scheduled_for=incident.scheduled_for,
        scheduled_until=incident.scheduled_until,
        updates=tuple(updates),
        affected=_affected(incident, updates, names, order),
        component_ids=tuple(link.component_id for link in incident.components),
        writeup=writeup,
    )
