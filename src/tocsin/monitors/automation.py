"""What a monitor does when its state moves: component statuses and its own incident.

Going down opens an incident (from the monitor's template, or a default) that puts the
linked components in the monitor's failure status; without auto_incident the components
are moved directly. Coming back up posts "Monitoring" and gives the components back, and a
quiet period with no failure then posts "Resolved". Everything runs in the caller's
transaction, through the components and incidents services.

Templates are filled by plain placeholder substitution from a fixed set of names, in one
pass: inserted values are data and are never expanded again (security.md B.10, B.11).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.status import ComponentStatus, StatusCause
from tocsin.errors import NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents import templates
from tocsin.incidents.models import Incident, IncidentTemplate
from tocsin.incidents.schemas import BODY_MAX, IncidentCreate, UpdateCreate
from tocsin.incidents.status import CLOSED_STATUSES, IncidentStatus
from tocsin.monitors.models import Monitor, MonitorComponent, MonitorState
from tocsin.pages import service as pages

PLACEHOLDERS = ("monitor.name", "component.name", "error")
_PLACEHOLDER = re.compile(r"\{\{\s*(" + "|".join(map(re.escape, PLACEHOLDERS)) + r")\s*\}\}")

DEFAULT_TITLE = "{{component.name}} unavailable"
# The probe's error stays out of the default text: it can name internal hosts, and the
# incident is public (security.md C.17). A template may still ask for {{error}}.
DEFAULT_BODY = "Automated checks of {{component.name}} are failing. We are investigating."
FAILING_AGAIN_BODY = (
    "Automated checks of {{component.name}} are failing again. We are investigating."
)
MONITORING_BODY = (
    "Automated checks of {{component.name}} are passing again. We are monitoring the results."
)
RESOLVED_BODY = (
    "Automated checks of {{component.name}} have stayed healthy. This incident is resolved."
)
ERROR_IN_TEXT_MAX = 200
_OPENING = (IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED)


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace `{{name}}` for the fixed PLACEHOLDERS; anything else stays literal."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), text)


def actor_for(monitor: Monitor) -> Actor:
    return Actor(f"monitor:{monitor.name}")


def react(
    session: Session,
    *,
    monitor: Monitor,
    was: MonitorState,
    ok: bool,
    error: str | None,
    at: datetime,
) -> None:
    """Act on one outcome the rules have judged; `monitor.state` is already the new state."""
    if monitor.state is MonitorState.DOWN and was is not MonitorState.DOWN:
        _went_down(session, monitor, error, at)
    elif was is MonitorState.DOWN and monitor.state is not MonitorState.DOWN:
        _came_back(session, monitor, at)
    else:
        _wait_quietly(session, monitor, ok, at)


def release(session: Session, *, monitor: Monitor, at: datetime) -> None:
    """Give back the components a monitor holds down (it is being deleted)."""
    if monitor.state is MonitorState.DOWN:
        for component in _releasable(session, monitor):
            components.set_status(
                session,
                component=component,
                status=ComponentStatus.OPERATIONAL,
                cause=StatusCause.MONITOR,
                now=at,
            )


def _went_down(session: Session, monitor: Monitor, error: str | None, at: datetime) -> None:
    linked = _components(session, monitor)
    failing = {c.id: monitor.failure_status for c in linked}
    monitor.recovered_at = None
    incident = _open_incident(session, monitor) if monitor.auto_incident else None
    if monitor.auto_incident and incident is None:
        _open(session, monitor, linked, error, at)
    elif incident is not None:
        status = incident.status if incident.status in _OPENING else IncidentStatus.INVESTIGATING
        body = substitute(FAILING_AGAIN_BODY, _values(monitor, linked, error))
        _post(session, monitor, incident, status, body, failing, at)
    for component in linked:
        components.set_status(
            session,
            component=component,
            status=monitor.failure_status,
            cause=StatusCause.MONITOR,
            now=at,
        )


def _came_back(session: Session, monitor: Monitor, at: datetime) -> None:
    back = {c.id: ComponentStatus.OPERATIONAL for c in _releasable(session, monitor)}
    incident = _open_incident(session, monitor)
    if incident is not None:
        body = substitute(MONITORING_BODY, _values(monitor, _components(session, monitor), None))
        _post(session, monitor, incident, IncidentStatus.MONITORING, body, back, at)
        monitor.recovered_at = at
        return
    for component in components.get_leaves(session, page_id=monitor.page_id, ids=back):
        components.set_status(
            session,
            component=component,
            status=ComponentStatus.OPERATIONAL,
            cause=StatusCause.MONITOR,
            now=at,
        )


def _wait_quietly(session: Session, monitor: Monitor, ok: bool, at: datetime) -> None:
    """Resolve the monitor's incident once checks have passed for the quiet period.

    A failure too short to take the monitor down still restarts the wait.
    """
    if monitor.recovered_at is None or monitor.incident_id is None:
        return
    if not ok:
        monitor.recovered_at = at
        return
    if at - monitor.recovered_at < timedelta(seconds=monitor.quiet_period_seconds):
        return
    incident = _open_incident(session, monitor)
    if incident is not None:
        body = substitute(RESOLVED_BODY, _values(monitor, _components(session, monitor), None))
        _post(session, monitor, incident, IncidentStatus.RESOLVED, body, {}, at)
    monitor.incident_id = None
    monitor.recovered_at = None


def _open(
    session: Session,
    monitor: Monitor,
    linked: list[Component],
    error: str | None,
    at: datetime,
) -> None:
    template = _template(session, monitor)
    values = _values(monitor, linked, error)
    title = template.title if template else DEFAULT_TITLE
    body = template.body if template else DEFAULT_BODY
    status = IncidentStatus.INVESTIGATING
    if template is not None and template.update_status in _OPENING:
        status = template.update_status
    data = IncidentCreate(
        name=_fit(substitute(title, values), 255),
        status=status,
        body=_fit(substitute(body, values), BODY_MAX),
        components={c.id: monitor.failure_status for c in linked},
        component_ids=list(template.component_ids) if template else [],
        deliver_notifications=_notifies(template),
    )
    incident = incidents.create_incident(
        session,
        page=pages.get_page(session, monitor.page_id),
        data=data,
        actor=actor_for(monitor),
        now=at,
        draft=monitor.draft,
    )
    monitor.incident_id = incident.id


def _post(
    session: Session,
    monitor: Monitor,
    incident: Incident,
    status: IncidentStatus,
    body: str,
    targets: dict[str, ComponentStatus],
    at: datetime,
) -> None:
    incidents.post_update(
        session,
        incident=incident,
        data=UpdateCreate(
            status=status,
            body=_fit(body, BODY_MAX),
            components=targets,
            deliver_notifications=_notifies(_template(session, monitor)),
        ),
        actor=actor_for(monitor),
        now=at,
    )


def _open_incident(session: Session, monitor: Monitor) -> Incident | None:
    """The monitor's incident if it is still open; one closed or deleted by a human is let go."""
    if monitor.incident_id is None:
        return None
    incident = session.get(Incident, monitor.incident_id)
    if incident is None or incident.status in CLOSED_STATUSES:
        monitor.incident_id = None
        monitor.recovered_at = None
        return None
    return incident


def _template(session: Session, monitor: Monitor) -> IncidentTemplate | None:
    if monitor.incident_template_id is None:
        return None
    try:
        return templates.get_template(
            session, page_id=monitor.page_id, template_id=monitor.incident_template_id
        )
    except NotFound:
        return None


def _notifies(template: IncidentTemplate | None) -> bool:
    return template.should_send_notifications if template is not None else True


def _components(session: Session, monitor: Monitor) -> list[Component]:
    return components.get_leaves(session, page_id=monitor.page_id, ids=monitor.component_ids)


def _releasable(session: Session, monitor: Monitor) -> list[Component]:
    """Linked components still in this monitor's failure status and held down by no other
    monitor: a status a human has set since, or another outage, is left alone."""
    held = select(MonitorComponent.component_id).join(
        Monitor, Monitor.id == MonitorComponent.monitor_id
    )
    held = held.where(
        Monitor.id != monitor.id,
        Monitor.state == MonitorState.DOWN,
        MonitorComponent.component_id.in_(monitor.component_ids),
    )
    busy = set(session.scalars(held))
    return [
        c
        for c in _components(session, monitor)
        if c.status == monitor.failure_status and c.id not in busy
    ]


def _values(monitor: Monitor, linked: list[Component], error: str | None) -> dict[str, str]:
    names = ", ".join(c.name for c in linked) or monitor.name
    return {
        "monitor.name": monitor.name,
        "component.name": names,
        "error": _fit(error or "", ERROR_IN_TEXT_MAX),
    }


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
