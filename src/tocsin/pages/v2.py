"""The public Status API v2 bodies (statuspage-api.md §1), built from a `PageState`.

Every function returns plain dicts whose keys come in the order Statuspage
sends them, since some clients compare bodies key for key. Decisions the spec
leaves open:

* `affected_components` is a list only when an incident update changed
  components; otherwise, and on every maintenance update, it is `null`.
* Backfilled incidents are listed like any other.
* Components that only show while degraded are listed, as in the captures.
* Maintenance lists keep the page's order: latest window first.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from tocsin.components.status import ComponentStatus, Indicator
from tocsin.incidents.status import Impact, IncidentKind, IncidentStatus
from tocsin.lib.isotime import iso, iso_date
from tocsin.pages.view import ComponentChange, ComponentView, IncidentView, PageState, UpdateView

JSONDict = dict[str, Any]

MAX_LISTED = 50

_PLANNED_OR_ACTIVE = frozenset(
    {IncidentStatus.SCHEDULED, IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING}
)


def encode(body: JSONDict) -> bytes:
    """Compact UTF-8 JSON, non-ASCII text left as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def incident_url(state: PageState, incident_id: str) -> str:
    """The absolute address of an incident's public page."""
    return f"{state.page.url.rstrip('/')}/incidents/{incident_id}"


def page(state: PageState) -> JSONDict:
    view = state.page
    return {
        "id": view.id,
        "name": view.name,
        "url": view.url,
        "time_zone": view.time_zone,
        "updated_at": iso(view.updated_at, view.zone),
    }


def component(state: PageState, view: ComponentView) -> JSONDict:
    zone = state.page.zone
    body: JSONDict = {
        "id": view.id,
        "name": view.name,
        "status": view.status.value,
        "created_at": iso(view.created_at, zone),
        "updated_at": iso(view.updated_at, zone),
        "position": view.position,
        "description": view.description,
        "showcase": view.showcase,
        "start_date": iso_date(view.start_date),
        "group_id": view.group_id,
        "page_id": state.page.id,
        "group": view.is_group,
        "only_show_if_degraded": view.only_show_if_degraded,
    }
    if view.is_group:
        body["components"] = [child.id for child in view.children]
    return body


def flat_components(state: PageState) -> tuple[ComponentView, ...]:
    """Groups and their members in one list, ordered by (per-level) position, then age."""
    rows = [row for top in state.components for row in (top, *top.children)]
    return tuple(sorted(rows, key=lambda row: (row.position, row.created_at)))


def _affected(change: ComponentChange) -> JSONDict:
    name = f"{change.group_name} - {change.name}" if change.group_name else change.name
    return {
        "code": change.id,
        "name": name,
        "old_status": change.old_status.value,
        "new_status": change.new_status.value,
    }


def incident_update(state: PageState, incident: IncidentView, update: UpdateView) -> JSONDict:
    zone = state.page.zone
    affected = None
    if incident.kind is IncidentKind.INCIDENT and update.changes:
        affected = [_affected(change) for change in update.changes]
    return {
        "id": update.id,
        "status": update.status.value,
        "body": update.body,
        "incident_id": incident.id,
        "created_at": iso(update.created_at, zone),
        "updated_at": iso(update.updated_at, zone),
        "display_at": iso(update.display_at, zone),
        "affected_components": affected,
        "deliver_notifications": update.deliver_notifications,
        "custom_tweet": None,
        "tweet_id": None,
    }


def _component_bodies(
    state: PageState, views: tuple[IncidentView, ...] | None = None
) -> dict[str, JSONDict]:
    """Every component's v2 object or, given `views`, those of the components they name."""
    named = {cid for view in views for cid in view.component_ids} if views is not None else None
    return {
        row.id: component(state, row)
        for row in flat_components(state)
        if named is None or row.id in named
    }


def incident(state: PageState, view: IncidentView, bodies: dict[str, JSONDict]) -> JSONDict:
    """An incident, or a maintenance with its window (`scheduled_for`/`scheduled_until`).

    `bodies` maps component ids to their v2 objects, built once per response.
    """
    zone = state.page.zone
    body: JSONDict = {
        "id": view.id,
        "name": view.name,
        "status": view.status.value,
        "created_at": iso(view.created_at, zone),
        "updated_at": iso(view.updated_at, zone),
        "monitoring_at": iso(view.monitoring_at, zone),
        "resolved_at": iso(view.resolved_at, zone),
        "impact": view.impact.value,
        "shortlink": incident_url(state, view.id),
        "started_at": iso(view.started_at, zone),
        "page_id": state.page.id,
        "incident_updates": [incident_update(state, view, update) for update in view.updates],
        "components": [bodies[cid] for cid in view.component_ids if cid in bodies],
    }
    if view.kind is IncidentKind.MAINTENANCE:
        body["scheduled_for"] = iso(view.scheduled_for, zone)
        body["scheduled_until"] = iso(view.scheduled_until, zone)
    return body


def _incidents(state: PageState, views: tuple[IncidentView, ...], key: str) -> JSONDict:
    bodies = _component_bodies(state, views)
    return {"page": page(state), key: [incident(state, view, bodies) for view in views]}


def _status(state: PageState) -> JSONDict:
    return {"indicator": state.indicator.value, "description": state.description}


def summary(state: PageState) -> JSONDict:
    """Components, unresolved incidents and maintenance not yet completed, with the rollup."""
    planned = tuple(m for m in state.maintenances if m.status in _PLANNED_OR_ACTIVE)
    bodies = _component_bodies(state)
    return {
        "page": page(state),
        "components": list(bodies.values()),
        "incidents": [incident(state, view, bodies) for view in state.unresolved],
        "scheduled_maintenances": [incident(state, view, bodies) for view in planned],
        "status": _status(state),
    }


def status(state: PageState) -> JSONDict:
    return {"page": page(state), "status": _status(state)}


def components(state: PageState) -> JSONDict:
    return {"page": page(state), "components": list(_component_bodies(state).values())}


def incidents(state: PageState) -> JSONDict:
    """The 50 most recent realtime incidents, newest first."""
    return _incidents(state, state.incidents[:MAX_LISTED], "incidents")


def unresolved_incidents(state: PageState) -> JSONDict:
    return _incidents(state, state.unresolved, "incidents")


def resolved_incidents(state: PageState) -> JSONDict:
    """Resolved and post-mortem incidents, newest first, at most 50 (se-v2.js's filter)."""
    closed = tuple(i for i in state.incidents if not i.is_open)
    return _incidents(state, closed[:MAX_LISTED], "incidents")


def scheduled_maintenances(state: PageState) -> JSONDict:
    """The 50 most recent maintenances in any status."""
    return _incidents(state, state.maintenances[:MAX_LISTED], "scheduled_maintenances")


def upcoming_maintenances(state: PageState) -> JSONDict:
    return _incidents(state, state.upcoming_maintenances, "scheduled_maintenances")


def active_maintenances(state: PageState) -> JSONDict:
    return _incidents(state, state.active_maintenances, "scheduled_maintenances")


# JSON Schemas of the bodies above, for the OpenAPI document. They list every
# key as required and no others, so a schema test catches any drift.
_STRING: JSONDict = {"type": "string"}
_TEXT_OR_NULL: JSONDict = {"type": ["string", "null"]}
_TIME: JSONDict = {"type": "string", "format": "date-time"}
_TIME_OR_NULL: JSONDict = {"type": ["string", "null"], "format": "date-time"}


def _enum(values: type[StrEnum]) -> JSONDict:
    return {"type": "string", "enum": [value.value for value in values]}


def _object(properties: JSONDict, *, optional: tuple[str, ...] = ()) -> JSONDict:
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": False,
    }


def _array(items: JSONDict) -> JSONDict:
    return {"type": "array", "items": items}


PAGE_SCHEMA = _object(
    {"id": _STRING, "name": _STRING, "url": _STRING, "time_zone": _STRING, "updated_at": _TIME}
)
STATUS_SCHEMA = _object({"indicator": _enum(Indicator), "description": _STRING})
COMPONENT_SCHEMA = _object(
    {
        "id": _STRING,
        "name": _STRING,
        "status": _enum(ComponentStatus),
        "created_at": _TIME,
        "updated_at": _TIME,
        "position": {"type": "integer"},
        "description": _TEXT_OR_NULL,
        "showcase": {"type": "boolean"},
        "start_date": {"type": ["string", "null"], "format": "date"},
        "group_id": _TEXT_OR_NULL,
        "page_id": _STRING,
        "group": {"type": "boolean"},
        "only_show_if_degraded": {"type": "boolean"},
        "components": _array(_STRING),
    },
    optional=("components",),
)
_AFFECTED_SCHEMA = _object(
    {
        "code": _STRING,
        "name": _STRING,
        "old_status": _enum(ComponentStatus),
        "new_status": _enum(ComponentStatus),
    }
)
UPDATE_SCHEMA = _object(
    {
        "id": _STRING,
        "status": _enum(IncidentStatus),
        "body": _STRING,
        "incident_id": _STRING,
        "created_at": _TIME,
        "updated_at": _TIME,
        "display_at": _TIME,
        "affected_components": {"anyOf": [_array(_AFFECTED_SCHEMA), {"type": "null"}]},
        "deliver_notifications": {"type": "boolean"},
        "custom_tweet": {"type": "null"},
        "tweet_id": {"type": "null"},
    }
)
_INCIDENT_PROPERTIES: JSONDict = {
    "id": _STRING,
    "name": _STRING,
    "status": _enum(IncidentStatus),
    "created_at": _TIME,
    "updated_at": _TIME,
    "monitoring_at": _TIME_OR_NULL,
    "resolved_at": _TIME_OR_NULL,
    "impact": _enum(Impact),
    "shortlink": _STRING,
    "started_at": _TIME,
    "page_id": _STRING,
    "incident_updates": _array(UPDATE_SCHEMA),
    "components": _array(COMPONENT_SCHEMA),
}
INCIDENT_SCHEMA = _object(_INCIDENT_PROPERTIES)
MAINTENANCE_SCHEMA = _object(
    {**_INCIDENT_PROPERTIES, "scheduled_for": _TIME_OR_NULL, "scheduled_until": _TIME_OR_NULL}
)


def response_schema(**members: JSONDict) -> JSONDict:
    """The schema of a body: `page` first, then `members` in order."""
    return _object({"page": PAGE_SCHEMA, **members})


SCHEMAS: dict[str, JSONDict] = {
    "summary": response_schema(
        components=_array(COMPONENT_SCHEMA),
        incidents=_array(INCIDENT_SCHEMA),
        scheduled_maintenances=_array(MAINTENANCE_SCHEMA),
        status=STATUS_SCHEMA,
    ),
    "status": response_schema(status=STATUS_SCHEMA),
    "components": response_schema(components=_array(COMPONENT_SCHEMA)),
    "incidents": response_schema(incidents=_array(INCIDENT_SCHEMA)),
    "scheduled_maintenances": response_schema(scheduled_maintenances=_array(MAINTENANCE_SCHEMA)),
}
"""Body schemas by shape: each v2 endpoint returns one of these."""
