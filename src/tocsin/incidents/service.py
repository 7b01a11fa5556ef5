from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, selectinload

from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.components.status import ComponentStatus, StatusCause
from tocsin.db import utcnow
from tocsin.errors import Invalid, NotFound
from tocsin.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentUpdate,
    UpdateComponentChange,
)
from tocsin.incidents.schemas import (
    IncidentCreate,
    IncidentEdit,
    MaintenanceCreate,
    UpdateCreate,
    UpdateEdit,
    WriteupPublish,
)
from tocsin.incidents.status import (
    CLOSED_STATUSES,
    DEFAULT_BODIES,
    MONITORING_LIKE,
    Impact,
    IncidentKind,
    IncidentStatus,
    impact_from_components,
    statuses_for,
)
from tocsin.notify import outbox
from tocsin.notify.models import NotificationKind
from tocsin.pages import service as pages
from tocsin.pages.models import Page

_RUNNING = frozenset({IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING})


@dataclass
class _Post:
    """One update to apply: the shared core of creating, updating and auto-transitioning."""

    status: IncidentStatus
    body: str | None
    at: datetime
    display_at: datetime | None = None
    components: dict[str, ComponentStatus] | None = None
    component_ids: list[str] = field(default_factory=list)
    deliver_notifications: bool = True
    cause: StatusCause = StatusCause.INCIDENT


def get_incident(session: Session, *, page_id: str, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.page_id != page_id:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def get_update(session: Session, *, incident: Incident, update_id: str) -> IncidentUpdate:
    update = session.get(IncidentUpdate, update_id)
    if update is None or update.incident_id != incident.id:
        raise NotFound(f"incident update {update_id} not found")
    return update


def list_incidents(
    session: Session,
    *,
    page_id: str,
    kind: IncidentKind | None = None,
    statuses: Collection[IncidentStatus] | None = None,
    q: str | None = None,
    ids: Collection[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Incident]:
    """The page's incidents with their updates and components loaded, newest first.

    `q` matches the name, the status, the published post-mortem or any update's text;
    `ids` keeps only those incidents.
    """
    query = (
        select(Incident)
        .where(Incident.page_id == page_id)
        .options(
            selectinload(Incident.updates).selectinload(IncidentUpdate.changes),
            selectinload(Incident.components),
        )
        .order_by(Incident.started_at.desc(), Incident.id)
    )
    if kind is not None:
        query = query.where(Incident.kind == kind)
    if statuses is not None:
        query = query.where(Incident.status.in_(list(statuses)))
    if q:
        query = query.where(_matching(q))
    if ids is not None:
        query = query.where(Incident.id.in_(list(ids)))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(session.scalars(query))


def _matching(text: str) -> ColumnElement[bool]:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    in_updates = select(IncidentUpdate.incident_id).where(
        IncidentUpdate.body.ilike(pattern, escape="\\")
    )
    conditions: list[ColumnElement[bool]] = [
        Incident.name.ilike(pattern, escape="\\"),
        Incident.postmortem_body.ilike(pattern, escape="\\"),
        Incident.id.in_(in_updates),
    ]
    word = text.strip().lower()
    if word in set(IncidentStatus):
        conditions.append(Incident.status == IncidentStatus(word))
    return or_(*conditions)


def create_incident(
    session: Session,
    *,
    page: Page,
    data: IncidentCreate,
    actor: Actor,
    now: datetime | None = None,
    draft: bool = False,
) -> Incident:
    """Open an incident; a `draft` stays off every public view, unannounced, until
    `publish_draft`."""
    at = now or utcnow()
    status = data.status
    if data.backfilled and data.status not in CLOSED_STATUSES:
        status = IncidentStatus.RESOLVED
    _check_status(IncidentKind.INCIDENT, status)
    started_at = data.started_at or at
    incident = Incident(
        page_id=page.id,
        kind=IncidentKind.INCIDENT,
        name=data.name,
        status=status,
        impact_override=data.impact_override,
        backfilled=data.backfilled,
        draft=draft,
        started_at=started_at,
        metadata_=data.metadata,
        created_at=at,
        updated_at=at,
    )
    session.add(incident)
    session.flush()
    display_at = (data.resolved_at or started_at) if data.backfilled else started_at
    _apply(
        session,
        incident,
        _Post(
            status=status,
            body=data.body,
            at=at,
            display_at=display_at,
            components=data.components,
            component_ids=data.component_ids,
            deliver_notifications=data.deliver_notifications and not data.backfilled,
        ),
    )
    _audit(session, actor, "incident.create", incident, data.model_dump(mode="json"))
    return incident


def post_update(
    session: Session,
    *,
    incident: Incident,
    data: UpdateCreate,
    actor: Actor,
    now: datetime | None = None,
) -> IncidentUpdate:
    """Post an update; a maintenance moving past `scheduled` starts as the worker would start it."""
    at = now or utcnow()
    if data.name is not None:
        incident.name = data.name
    if "impact_override" in data.model_fields_set:
        incident.impact_override = data.impact_override
    status = data.status or incident.status
    _check_status(IncidentKind(incident.kind), status)
    cause = (
        StatusCause.MAINTENANCE
        if incident.kind is IncidentKind.MAINTENANCE
        else StatusCause.INCIDENT
    )
    targets = data.components
    if incident.status is IncidentStatus.SCHEDULED and status in _RUNNING:
        incident.started_at = at
        targets = {**_start_targets(session, incident), **(data.components or {})}
    update = _apply(
        session,
        incident,
        _Post(
            status=status,
            body=data.body,
            at=at,
            display_at=data.display_at,
            components=targets,
            component_ids=data.component_ids or [],
            deliver_notifications=data.deliver_notifications,
            cause=cause,
        ),
    )
    _audit(
        session,
        actor,
        "incident.update",
        incident,
        data.model_dump(mode="json", exclude_unset=True),
    )
    return update


def edit_update(
    session: Session, *, update: IncidentUpdate, data: UpdateEdit, actor: Actor
) -> IncidentUpdate:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for key, value in changes.items():
        setattr(update, key, value)
    update.updated_at = utcnow()
    session.flush()
    incident = update.incident
    session.refresh(incident, ["updates"])
    pages.touch(session, incident.page_id, incident_id=incident.id)
    _audit(
        session,
        actor,
        "incident_update.edit",
        incident,
        {"update_id": update.id, **data.model_dump(mode="json", exclude_unset=True)},
    )
    return update


def edit_incident(
    session: Session,
    *,
    incident: Incident,
    data: IncidentEdit,
    actor: Actor,
    now: datetime | None = None,
) -> Incident:
    """Rename, re-schedule or re-tag an incident without posting an update."""
    _edit_schedule(incident, data)
    if data.name is not None:
        incident.name = data.name
    if "impact_override" in data.model_fields_set:
        incident.impact_override = data.impact_override
    if data.metadata is not None:
        incident.metadata_ = data.metadata
    if data.component_ids:
        _attach(session, incident, data.component_ids)
    _refresh_impact(incident)
    incident.updated_at = now or utcnow()
    session.flush()
    pages.touch(session, incident.page_id, incident_id=incident.id)
    _audit(
        session, actor, "incident.edit", incident, data.model_dump(mode="json", exclude_unset=True)
    )
    return incident


def revise_incident(
    session: Session,
    *,
    incident: Incident,
    edit: IncidentEdit,
    update: UpdateCreate,
    actor: Actor,
    now: datetime | None = None,
) -> IncidentUpdate | None:
    """Apply `edit`, then post `update` if it says something: a body, components or a new status.

    Returns the posted update, or None when the change was only an edit.
    """
    if edit.model_fields_set:
        edit_incident(session, incident=incident, data=edit, actor=actor, now=now)
    news = update.body or update.components or update.status not in (None, incident.status)
    if not news:
        return None
    return post_update(session, incident=incident, data=update, actor=actor, now=now)


def _edit_schedule(incident: Incident, data: IncidentEdit) -> None:
    if incident.kind is not IncidentKind.MAINTENANCE:
        if data.scheduled_for or data.scheduled_until:
            raise Invalid("only a scheduled maintenance has scheduled_for and scheduled_until")
        return
    starts = data.scheduled_for or incident.scheduled_for
    ends = data.scheduled_until or incident.scheduled_until
    if starts is not None and ends is not None and ends <= starts:
        raise Invalid("scheduled_until must be after scheduled_for")
    if data.scheduled_for is not None and data.scheduled_for != incident.scheduled_for:
        # A moved window deserves a fresh reminder.
        incident.scheduled_reminded_at = None
        if incident.status is IncidentStatus.SCHEDULED:
            incident.started_at = data.scheduled_for
    incident.scheduled_for, incident.scheduled_until = starts, ends
    _set_flags(incident, data)


def _set_flags(incident: Incident, data: IncidentEdit) -> None:
    for name in ("auto_start", "auto_end", "auto_components"):
        value = getattr(data, name)
        if value is not None:
            setattr(incident, name, value)
    if data.remind_prior is not None:
        incident.scheduled_remind_prior = data.remind_prior


def schedule_maintenance(
    session: Session,
    *,
    page: Page,
    data: MaintenanceCreate,
    actor: Actor,
    now: datetime | None = None,
) -> Incident:
    """Schedule a maintenance, or record one already under way when `data.status` says so."""
    at = now or utcnow()
    _check_status(IncidentKind.MAINTENANCE, data.status)
    maintenance = Incident(
        page_id=page.id,
        kind=IncidentKind.MAINTENANCE,
        name=data.name,
        status=IncidentStatus.SCHEDULED,
        impact_override=data.impact_override,
        started_at=data.scheduled_for,
        scheduled_for=data.scheduled_for,
        scheduled_until=data.scheduled_until,
        auto_start=data.auto_start,
        auto_end=data.auto_end,
        auto_components=data.auto_components,
        scheduled_remind_prior=data.remind_prior,
        metadata_=data.metadata,
        created_at=at,
        updated_at=at,
    )
    session.add(maintenance)
    session.flush()
    _attach(session, maintenance, data.component_ids)
    targets = dict(data.components)
    if data.status in _RUNNING:
        targets = {**_start_targets(session, maintenance), **data.components}
    _apply(
        session,
        maintenance,
        _Post(
            status=data.status,
            body=data.body,
            at=at,
            components=targets,
            component_ids=data.component_ids,
            deliver_notifications=data.deliver_notifications,
            cause=StatusCause.MAINTENANCE,
        ),
    )
    _audit(session, actor, "maintenance.create", maintenance, data.model_dump(mode="json"))
    return maintenance


def start_maintenance(
    session: Session, *, maintenance: Incident, actor: Actor, now: datetime | None = None
) -> IncidentUpdate:
    """Begin a maintenance now, putting its operational components under maintenance."""
    at = now or utcnow()
    targets = _start_targets(session, maintenance)
    maintenance.started_at = at
    update = _apply(
        session,
        maintenance,
        _Post(
            status=IncidentStatus.IN_PROGRESS,
            body=None,
            at=at,
            components=targets,
            cause=StatusCause.MAINTENANCE,
        ),
    )
    _audit(session, actor, "maintenance.start", maintenance, {})
    return update


def _start_targets(session: Session, maintenance: Incident) -> dict[str, ComponentStatus]:
    """The attached components a starting maintenance puts under maintenance.

    Components already degraded keep their status: maintenance must not hide an outage.
    """
    if not maintenance.auto_components:
        return {}
    attached = components.get_leaves(
        session,
        page_id=maintenance.page_id,
        ids=[c.component_id for c in maintenance.components],
    )
    return {
        c.id: ComponentStatus.UNDER_MAINTENANCE
        for c in attached
        if c.status is ComponentStatus.OPERATIONAL
    }


def complete_maintenance(
    session: Session, *, maintenance: Incident, actor: Actor, now: datetime | None = None
) -> IncidentUpdate:
    update = _apply(
        session,
        maintenance,
        _Post(
            status=IncidentStatus.COMPLETED,
            body=None,
            at=now or utcnow(),
            cause=StatusCause.MAINTENANCE,
        ),
    )
    _audit(session, actor, "maintenance.complete", maintenance, {})
    return update


def advance_maintenances(session: Session, *, now: datetime | None = None) -> int:
    """Start and complete every maintenance whose window says so; return how many moved."""
    at = now or utcnow()
    moved = 0
    due_start = select(Incident).where(
        Incident.kind == IncidentKind.MAINTENANCE,
        Incident.status == IncidentStatus.SCHEDULED,
        Incident.auto_start.is_(True),
        Incident.scheduled_for <= at,
    )
    for maintenance in session.scalars(due_start):
        start_maintenance(session, maintenance=maintenance, actor=audit.SYSTEM, now=at)
        moved += 1
    due_end = select(Incident).where(
        Incident.kind == IncidentKind.MAINTENANCE,
        Incident.status.in_([IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING]),
        Incident.auto_end.is_(True),
        Incident.scheduled_until <= at,
    )
    for maintenance in session.scalars(due_end):
        complete_maintenance(session, maintenance=maintenance, actor=audit.SYSTEM, now=at)
        moved += 1
    return moved


REMINDER_LEAD = timedelta(hours=1)


def send_maintenance_reminders(session: Session, *, now: datetime | None = None) -> int:
    """Tell subscribers about maintenances starting within the hour; return how many."""
    at = now or utcnow()
    due = select(Incident).where(
        Incident.kind == IncidentKind.MAINTENANCE,
        Incident.status == IncidentStatus.SCHEDULED,
        Incident.scheduled_remind_prior.is_(True),
        Incident.scheduled_reminded_at.is_(None),
        Incident.scheduled_for > at,
        Incident.scheduled_for <= at + REMINDER_LEAD,
    )
    reminded = 0
    for maintenance in session.scalars(due):
        maintenance.scheduled_reminded_at = at
        outbox.notify_update(
            session,
            page=pages.get_page(session, maintenance.page_id),
            incident=maintenance,
            update=None,
            kind=NotificationKind.MAINTENANCE_REMINDER,
            now=at,
        )
        reminded += 1
    return reminded


def publish_writeup(
    session: Session,
    *,
    incident: Incident,
    data: WriteupPublish,
    actor: Actor,
    now: datetime | None = None,
) -> Incident:
    """Publish a write-up (a link or a Markdown post-mortem); the incident moves to `postmortem`."""
    if incident.kind is IncidentKind.MAINTENANCE:
        raise Invalid("maintenances have no write-up")
    at = data.published_at or now or utcnow()
    incident.writeup_url = data.url
    incident.postmortem_body = data.body
    incident.postmortem_published_at = at
    if incident.status is IncidentStatus.RESOLVED:
        incident.status = IncidentStatus.POSTMORTEM
    incident.updated_at = now or utcnow()
    session.flush()
    pages.touch(session, incident.page_id, incident_id=incident.id)
    if data.notify_subscribers:
        outbox.notify_update(
            session,
            page=pages.get_page(session, incident.page_id),
            incident=incident,
            update=None,
            kind=NotificationKind.WRITEUP_PUBLISHED,
            now=now,
        )
    _audit(session, actor, "incident.writeup_publish", incident, data.model_dump(mode="json"))
    return incident


def save_postmortem_draft(
    session: Session, *, incident: Incident, body: str, actor: Actor
) -> Incident:
    if incident.kind is IncidentKind.MAINTENANCE:
        raise Invalid("maintenances have no write-up")
    incident.postmortem_body_draft = body
    incident.postmortem_draft_updated_at = utcnow()
    session.flush()
    _audit(session, actor, "incident.postmortem_draft", incident, {"length": len(body)})
    return incident


def publish_postmortem(
    session: Session, *, incident: Incident, actor: Actor, now: datetime | None = None
) -> Incident:
    """Publish the saved draft as the incident's Markdown write-up; the draft stays for edits."""
    draft = incident.postmortem_body_draft
    if not draft:
        raise Invalid("there is no postmortem draft to publish; save one first")
    return publish_writeup(
        session, incident=incident, data=WriteupPublish(body=draft), actor=actor, now=now
    )


def retract_writeup(session: Session, *, incident: Incident, actor: Actor) -> Incident:
    """Unpublish the write-up; a published post-mortem with no draft becomes the draft."""
    if incident.postmortem_body and not incident.postmortem_body_draft:
        incident.postmortem_body_draft = incident.postmortem_body
        incident.postmortem_draft_updated_at = incident.postmortem_published_at
    incident.writeup_url = None
    incident.postmortem_body = None
    incident.postmortem_published_at = None
    if incident.status is IncidentStatus.POSTMORTEM:
        incident.status = IncidentStatus.RESOLVED
    session.flush()
    pages.touch(session, incident.page_id, incident_id=incident.id)
    _audit(session, actor, "incident.writeup_retract", incident, {})
    return incident


def delete_postmortem(session: Session, *, incident: Incident, actor: Actor) -> None:
    """Unpublish the write-up and throw its draft away."""
    retract_writeup(session, incident=incident, actor=actor)
    incident.postmortem_body_draft = None
    incident.postmortem_draft_updated_at = None
    session.flush()
    _audit(session, actor, "incident.postmortem_delete", incident, {})


def publish_draft(
    session: Session, *, incident: Incident, actor: Actor, now: datetime | None = None
) -> Incident:
    """Make a draft incident public and announce it, unless it is already over or its
    latest update was posted without notifications."""
    if not incident.draft:
        raise Invalid("the incident is not a draft")
    incident.draft = False
    incident.updated_at = now or utcnow()
    session.flush()
    pages.touch(session, incident.page_id, incident_id=incident.id)
    latest = max(incident.updates, key=lambda u: (u.display_at, u.created_at), default=None)
    if (
        latest is not None
        and latest.deliver_notifications
        and incident.status not in CLOSED_STATUSES
    ):
        outbox.notify_update(
            session,
            page=pages.get_page(session, incident.page_id),
            incident=incident,
            update=latest,
            kind=NotificationKind.INCIDENT_CREATED,
            now=now,
        )
    _audit(session, actor, "incident.publish", incident, {})
    return incident


def delete_incident(session: Session, *, incident: Incident, actor: Actor) -> None:
    _audit(session, actor, "incident.delete", incident, {"name": incident.name})
    page_id, incident_id = incident.page_id, incident.id
    session.delete(incident)
    session.flush()
    pages.touch(session, page_id, incident_id=incident_id)


def _check_status(kind: IncidentKind, status: IncidentStatus) -> None:
    allowed = statuses_for(kind)
    if status not in allowed:
        names = ", ".join(s.value for s in allowed)
        raise Invalid(
            f"status {status.value!r} is not valid for a {kind.value}; use one of {names}"
        )


def _apply(session: Session, incident: Incident, post: _Post) -> IncidentUpdate:
    update = IncidentUpdate(
        status=post.status,
        body=post.body if post.body else DEFAULT_BODIES[post.status],
        display_at=post.display_at or post.at,
        deliver_notifications=post.deliver_notifications,
        created_at=post.at,
        updated_at=post.at,
    )
    incident.updates.append(update)
    _attach(session, incident, post.component_ids)
    targets = dict(post.components or {})
    if post.status in CLOSED_STATUSES and post.components is None:
        targets.update(_restorable(session, incident))
    _change_components(session, incident, update, targets, post)
    _set_status(incident, post.status, update.display_at)
    _refresh_impact(incident)
    incident.updated_at = post.at
    session.flush()
    pages.touch(session, incident.page_id, incident_id=incident.id)
    if post.deliver_notifications and not incident.draft:
        kind = outbox.kind_of_update(incident, update, first=len(incident.updates) == 1)
        outbox.notify_update(
            session,
            page=pages.get_page(session, incident.page_id),
            incident=incident,
            update=update,
            kind=kind,
            now=post.at,
        )
    return update


def _attach(
    session: Session, incident: Incident, component_ids: list[str]
) -> dict[str, IncidentComponent]:
    links = {link.component_id: link for link in incident.components}
    for component in components.get_leaves(session, page_id=incident.page_id, ids=component_ids):
        if component.id not in links:
            links[component.id] = IncidentComponent(component_id=component.id)
            incident.components.append(links[component.id])
    return links


def _change_components(
    session: Session,
    incident: Incident,
    update: IncidentUpdate,
    targets: dict[str, ComponentStatus],
    post: _Post,
) -> None:
    links = _attach(session, incident, list(targets))
    for component in components.get_leaves(session, page_id=incident.page_id, ids=targets):
        new_status = targets[component.id]
        update.changes.append(
            UpdateComponentChange(
                component_id=component.id, old_status=component.status, new_status=new_status
            )
        )
        links[component.id].status = new_status
        components.set_status(
            session,
            component=component,
            status=new_status,
            cause=post.cause,
            incident_id=incident.id,
            now=post.at,
        )


def _restorable(session: Session, incident: Incident) -> dict[str, ComponentStatus]:
    """Components this incident degraded and that nothing else has moved or holds since.

    Closing an incident without naming components gives those back as operational,
    which is what an on-call engineer expects from "Resolved".
    """
    held = {
        link.component_id: link.status
        for link in incident.components
        if link.status not in (None, ComponentStatus.OPERATIONAL)
    }
    if not held:
        return {}
    others = (
        select(IncidentComponent.component_id)
        .join(Incident)
        .where(
            Incident.id != incident.id,
            Incident.page_id == incident.page_id,
            Incident.status.not_in(list(CLOSED_STATUSES)),
            IncidentComponent.component_id.in_(list(held)),
            IncidentComponent.status.is_not(None),
            IncidentComponent.status != ComponentStatus.OPERATIONAL,
        )
    )
    busy = set(session.scalars(others))
    current = components.get_leaves(session, page_id=incident.page_id, ids=list(held))
    return {
        c.id: ComponentStatus.OPERATIONAL
        for c in current
        if c.id not in busy and c.status == held[c.id]
    }


def _set_status(incident: Incident, status: IncidentStatus, at: datetime) -> None:
    incident.status = status
    if status in MONITORING_LIKE and incident.monitoring_at is None:
        incident.monitoring_at = at
    if status in CLOSED_STATUSES:
        if incident.resolved_at is None:
            incident.resolved_at = at
    else:
        incident.resolved_at = None


def _refresh_impact(incident: Incident) -> None:
    if incident.impact_override is not None:
        incident.impact = incident.impact_override
    elif incident.kind is IncidentKind.MAINTENANCE:
        incident.impact = Impact.MAINTENANCE
    else:
        incident.impact = impact_from_components(
            change.new_status for update in incident.updates for change in update.changes
        )


def _audit(
    session: Session, actor: Actor, action: str, incident: Incident, changes: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        page_id=incident.page_id,
        object_type=incident.kind.value,
        object_id=incident.id,
        changes=changes,
    )
