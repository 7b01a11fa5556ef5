from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.components.models import Component, StatusChange
from tocsin.components.schemas import ComponentCreate, ComponentUpdate, GroupCreate
from tocsin.components.status import ComponentStatus, StatusCause
from tocsin.db import utcnow
from tocsin.errors import Invalid, NotFound
from tocsin.pages import service as pages
from tocsin.pages.models import Page


def list_components(session: Session, page_id: str) -> list[Component]:
    """Every component and group of the page, ordered by level position then age."""
    query = (
        select(Component)
        .where(Component.page_id == page_id)
        .order_by(Component.position, Component.created_at, Component.id)
    )
    return list(session.scalars(query))


def get_component(session: Session, *, page_id: str, component_id: str) -> Component:
    component = session.get(Component, component_id)
    if component is None or component.page_id != page_id:
        raise NotFound(f"component {component_id} not found")
    return component


def get_leaves(session: Session, *, page_id: str, ids: Iterable[str]) -> list[Component]:
    """Look up components that can carry a status; unknown ids and groups are refused."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    found = {
        c.id: c
        for c in session.scalars(
            select(Component).where(Component.page_id == page_id, Component.id.in_(wanted))
        )
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"component {missing[0]} not found")
    groups = [found[i].name for i in wanted if found[i].is_group]
    if groups:
        raise Invalid(f"{groups[0]!r} is a group; name its components instead")
    return [found[i] for i in wanted]


def _next_position(session: Session, page_id: str, group_id: str | None) -> int:
    query = select(func.max(Component.position)).where(
        Component.page_id == page_id,
        Component.group_id.is_(None) if group_id is None else Component.group_id == group_id,
    )
    return (session.scalar(query) or 0) + 1


def _check_group(session: Session, page_id: str, group_id: str | None) -> Component | None:
    if group_id is None:
        return None
    group = get_component(session, page_id=page_id, component_id=group_id)
    if not group.is_group:
        raise Invalid(f"{group.name!r} is not a group; groups hold components one level deep")
    return group


def _refresh_children(session: Session, *groups: Component | None) -> None:
    for group in groups:
        if group is not None:
            session.expire(group, ["children"])


def create_component(
    session: Session,
    *,
    page: Page,
    data: ComponentCreate,
    actor: Actor,
    now: datetime | None = None,
) -> Component:
    group = _check_group(session, page.id, data.group_id)
    at = now or utcnow()
    component = Component(
        page_id=page.id,
        position=_next_position(session, page.id, data.group_id),
        created_at=at,
        updated_at=at,
        **data.model_dump(),
    )
    session.add(component)
    session.flush()
    _refresh_children(session, group)
    session.add(
        StatusChange(
            component_id=component.id, status=data.status, changed_at=at, cause=StatusCause.MANUAL
        )
    )
    _audit(session, actor, "component.create", component, data.model_dump(mode="json"))
    pages.touch(session, page.id, components=True)
    return component


def create_group(
    session: Session, *, page: Page, data: GroupCreate, actor: Actor, now: datetime | None = None
) -> Component:
    at = now or utcnow()
    group = Component(
        page_id=page.id,
        is_group=True,
        name=data.name,
        description=data.description,
        position=_next_position(session, page.id, None),
        created_at=at,
        updated_at=at,
        showcase=True,
    )
    session.add(group)
    session.flush()
    set_group_members(session, group=group, component_ids=data.component_ids)
    _audit(session, actor, "group.create", group, data.model_dump(mode="json"))
    return group


def set_group_members(session: Session, *, group: Component, component_ids: list[str]) -> None:
    members = get_leaves(session, page_id=group.page_id, ids=component_ids)
    for child in list(group.children):
        if child.id not in component_ids:
            child.group_id = None
            child.position = _next_position(session, group.page_id, None)
    old_groups = [m.group for m in members if m.group is not None and m.group is not group]
    for position, member in enumerate(members, start=1):
        member.group_id = group.id
        member.position = position
    session.flush()
    _refresh_children(session, group, *old_groups)
    pages.touch(session, group.page_id, components=True)


def update_component(
    session: Session, *, component: Component, data: ComponentUpdate, actor: Actor
) -> Component:
    changes = data.model_dump(exclude_unset=True)
    status = changes.pop("status", None)
    moved: list[Component | None] = []
    if "group_id" in changes and changes["group_id"] != component.group_id:
        if component.is_group:
            raise Invalid("a group cannot be put inside another group")
        moved = [component.group, _check_group(session, component.page_id, changes["group_id"])]
        changes.setdefault(
            "position", _next_position(session, component.page_id, changes["group_id"])
        )
    for key, value in changes.items():
        setattr(component, key, value)
    if status is not None:
        if component.is_group:
            raise Invalid("a group's status is the worst of its components; set theirs")
        set_status(session, component=component, status=status, cause=StatusCause.MANUAL)
    session.flush()
    _refresh_children(session, *moved)
    pages.touch(session, component.page_id, components=True)
    _audit(
        session,
        actor,
        "component.update",
        component,
        data.model_dump(mode="json", exclude_unset=True),
    )
    return component


def update_group(session: Session, *, group: Component, data: GroupCreate, actor: Actor) -> None:
    """Rename a group and make `data.component_ids` its members, in that order."""
    if not group.is_group:
        raise Invalid(f"{group.name!r} is not a group")
    get_leaves(session, page_id=group.page_id, ids=data.component_ids)
    group.name = data.name
    group.description = data.description
    set_group_members(session, group=group, component_ids=data.component_ids)
    _audit(session, actor, "group.update", group, data.model_dump(mode="json"))


def _level(session: Session, page_id: str, group_id: str | None) -> list[Component]:
    query = (
        select(Component)
        .where(
            Component.page_id == page_id,
            Component.group_id.is_(None) if group_id is None else Component.group_id == group_id,
        )
        .order_by(Component.position, Component.created_at, Component.id)
    )
    return list(session.scalars(query))


def _check_order(level: list[Component], ordered_ids: list[str]) -> None:
    names = {c.id: c.name for c in level}
    repeated = [i for i, count in Counter(ordered_ids).items() if count > 1]
    if repeated:
        raise Invalid(f"{names.get(repeated[0], repeated[0])!r} is listed twice in the new order")
    foreign = [i for i in ordered_ids if i not in names]
    if foreign:
        raise Invalid(f"component {foreign[0]} is not at this level; reload and try again")
    left_out = [c.name for c in level if c.id not in ordered_ids]
    if left_out:
        raise Invalid(f"the new order leaves out {left_out[0]!r}; reload and try again")


def reorder(
    session: Session, *, page_id: str, parent_id: str | None, ordered_ids: list[str], actor: Actor
) -> None:
    """Number one level of the page (the top level, or one group's members) as ordered.

    `ordered_ids` must name every component of that level once: an id that is not on the
    page is NotFound; a repeated, missing or other-level id is Invalid. Nothing is
    written unless the whole order is accepted.
    """
    known = set(
        session.scalars(
            select(Component.id).where(Component.page_id == page_id, Component.id.in_(ordered_ids))
        )
    )
    unknown = [i for i in ordered_ids if i not in known]
    if unknown:
        raise NotFound(f"component {unknown[0]} not found")
    group = _check_group(session, page_id, parent_id)
    level = _level(session, page_id, parent_id)
    _check_order(level, ordered_ids)
    positions = {component_id: n for n, component_id in enumerate(ordered_ids, start=1)}
    for component in level:
        component.position = positions[component.id]
    session.flush()
    _refresh_children(session, group)
    pages.touch(session, page_id, components=True)
    audit.record(
        session,
        actor=actor,
        action="component.reorder",
        page_id=page_id,
        object_type="component",
        object_id=parent_id,
        changes={"order": ordered_ids},
    )


def move(session: Session, *, component: Component, offset: int, actor: Actor) -> bool:
    """Move `component` `offset` places among its siblings (negative is up, towards the
    top of the page); return False, changing nothing, if that is past either end."""
    ids = [c.id for c in _level(session, component.page_id, component.group_id)]
    index = ids.index(component.id)
    if not 0 <= index + offset < len(ids):
        return False
    ids.insert(index + offset, ids.pop(index))
    reorder(
        session,
        page_id=component.page_id,
        parent_id=component.group_id,
        ordered_ids=ids,
        actor=actor,
    )
    return True


def set_status(
    session: Session,
    *,
    component: Component,
    status: ComponentStatus,
    cause: StatusCause,
    incident_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Move the component to `status` and record it; return False if it was there already."""
    if component.status == status:
        return False
    at = now or utcnow()
    session.add(
        StatusChange(
            component_id=component.id,
            status=status,
            previous_status=component.status,
            changed_at=at,
            cause=cause,
            incident_id=incident_id,
        )
    )
    component.status = status
    component.updated_at = at
    pages.touch(session, component.page_id, components=True)
    return True


def delete_component(session: Session, *, component: Component, actor: Actor) -> None:
    """Delete a component; deleting a group leaves its components at the top level."""
    for child in list(component.children):
        child.group_id = None
    _audit(session, actor, "component.delete", component, {"name": component.name})
    page_id = component.page_id
    session.delete(component)
    session.flush()
    pages.touch(session, page_id, components=True)


def status_history(
    session: Session, *, component_ids: list[str], since: datetime | None = None
) -> dict[str, list[tuple[datetime, ComponentStatus]]]:
    """Each component's status changes, oldest first, including the one in force at `since`."""
    history: dict[str, list[tuple[datetime, ComponentStatus]]] = {i: [] for i in component_ids}
    query = select(StatusChange.component_id, StatusChange.changed_at, StatusChange.status).where(
        StatusChange.component_id.in_(component_ids)
    )
    if since is not None:
        for component_id, changed_at, status in session.execute(_in_force(component_ids, since)):
            history[component_id].append((changed_at, status))
        query = query.where(StatusChange.changed_at > since)
    order = (StatusChange.component_id, StatusChange.changed_at, StatusChange.id)
    for component_id, changed_at, status in session.execute(query.order_by(*order)):
        history[component_id].append((changed_at, status))
    return history


def _in_force(component_ids: list[str], at: datetime) -> Select[str, datetime, ComponentStatus]:
    """Each component's latest change at or before `at`, in the order of the full history
    (`changed_at`, then `id`)."""
    latest = (
        select(
            StatusChange.component_id,
            StatusChange.changed_at,
            StatusChange.status,
            func.row_number()
            .over(
                partition_by=StatusChange.component_id,
                order_by=(StatusChange.changed_at.desc(), StatusChange.id.desc()),
            )
            .label("rank"),
        )
        .where(StatusChange.component_id.in_(component_ids), StatusChange.changed_at <= at)
        .subquery()
    )
    return select(latest.c.component_id, latest.c.changed_at, latest.c.status).where(
        latest.c.rank == 1
    )


@dataclass(frozen=True)
class Outage:
    """Seconds a component spent in each state that counts against uptime, over a range."""

    covered: float
    """Seconds of the range after the component's first recorded status."""
    major: float
    partial: float
    incident_ids: tuple[str, ...]
    """Incidents that changed the component's status within the range, oldest first."""

    def uptime_percent(self, partial_outage_weight: float) -> float | None:
        if not self.covered:
            return None
        down = self.major + self.partial * partial_outage_weight
        return 100 * (1 - down / self.covered)


def outage_between(
    session: Session, *, component_id: str, start: datetime, end: datetime
) -> Outage:
    """Major and partial outage time of one component within [start, end)."""
    changes = status_history(session, component_ids=[component_id], since=start)[component_id]
    seconds = dict.fromkeys(ComponentStatus, 0.0)
    ends = [changed_at for changed_at, _ in changes[1:]] + [end]
    for (changed_at, status), until in zip(changes, ends, strict=True):
        overlap = (min(until, end) - max(changed_at, start)).total_seconds()
        if overlap > 0:
            seconds[status] += overlap
    query = (
        select(StatusChange.incident_id)
        .where(
            StatusChange.component_id == component_id,
            StatusChange.incident_id.is_not(None),
            StatusChange.changed_at >= start,
            StatusChange.changed_at < end,
        )
        .order_by(StatusChange.changed_at, StatusChange.id)
    )
    incident_ids = [i for i in session.scalars(query) if i is not None]
    return Outage(
        covered=sum(seconds.values()),
        major=seconds[ComponentStatus.MAJOR_OUTAGE],
        partial=seconds[ComponentStatus.PARTIAL_OUTAGE],
        incident_ids=tuple(dict.fromkeys(incident_ids)),
    )


def _audit(
    session: Session, actor: Actor, action: str, component: Component, changes: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        page_id=component.page_id,
        object_type="component",
        object_id=component.id,
        changes=changes,
    )
