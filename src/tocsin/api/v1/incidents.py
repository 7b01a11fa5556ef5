"""Incidents, their updates and post-mortems in the management API v1 (statuspage-api.md §2).

Routes translate Statuspage's wire fields into the incidents service's own schemas; the
service decides what each change means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from tocsin.accounts.models import Role
from tocsin.api.auth import PrincipalDep, page_for
from tocsin.api.body import openapi_body, parse, unwrap
from tocsin.api.v1.common import MAX_PER_PAGE, BodyDep, error_responses
from tocsin.api.v1.serialize import component
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import Invalid, NotFound
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident, IncidentUpdate
from tocsin.incidents.schemas import (
    BODY_MAX,
    POSTMORTEM_MAX,
    ComponentMap,
    IncidentCreate,
    IncidentEdit,
    MaintenanceCreate,
    Metadata,
    UpdateCreate,
    UpdateEdit,
)
from tocsin.incidents.status import (
    MAINTENANCE_STATUSES,
    Impact,
    IncidentKind,
    IncidentStatus,
)
from tocsin.lib.isotime import iso
from tocsin.pages.models import Page
from tocsin.settings import Settings

router = APIRouter(tags=["incidents"])


# Ids are opaque, but control characters never belong in one (PostgreSQL refuses NUL).
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]


ERRORS = error_responses(401, 403, 404, 422)


# --- wire models: what Statuspage clients send -------------------------------------------


def _utc(value: datetime) -> datetime:
    # Python clients send naive isoformat(); Statuspage reads those as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _listed(value: object) -> object:
    # `incident[component_ids]=a` sent once arrives as a plain string.
    return [value] if isinstance(value, str) else value


When = Annotated[datetime, AfterValidator(_utc)]
Ids = Annotated[list[Annotated[str, Field(max_length=64)]], BeforeValidator(_listed)]


class WireModel(BaseModel):
    """A v1 request object: unknown keys are ignored and a blank form value means null."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {key: None if value == "" else value for key, value in data.items()}


class IncidentBody(WireModel):
    """`PATCH`/`PUT` incident fields; every one is optional."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    status: IncidentStatus | None = None
    impact_override: Impact | None = None
    body: str | None = Field(default=None, max_length=BODY_MAX)
    component_ids: Ids | None = Field(default=None, max_length=1000)
    components: ComponentMap | None = Field(default=None, max_length=1000)
    deliver_notifications: bool = True
    scheduled_for: When | None = None
    scheduled_until: When | None = None
    scheduled_remind_prior: bool | None = None
    scheduled_auto_in_progress: bool | None = None
    scheduled_auto_completed: bool | None = None
    scheduled_auto_transition: bool | None = None
    auto_transition_to_maintenance_state: bool | None = None
    auto_transition_to_operational_state: bool | None = None
    auto_transition_deliver_notifications_at_start: bool | None = Field(
        default=None, description="Accepted; automatic transitions always notify."
    )
    auto_transition_deliver_notifications_at_end: bool | None = Field(
        default=None, description="Accepted; automatic transitions always notify."
    )
    auto_tweet_at_beginning: bool | None = Field(default=None, description="Ignored.")
    auto_tweet_on_completion: bool | None = Field(default=None, description="Ignored.")
    auto_tweet_on_creation: bool | None = Field(default=None, description="Ignored.")
    auto_tweet_one_hour_before: bool | None = Field(default=None, description="Ignored.")
    reminder_intervals: str | None = Field(
        default=None, max_length=200, description="Accepted; reminders are not sent."
    )
    metadata: Metadata | None = None
    backfilled: bool = False
    backfill_date: When | None = None

    @model_validator(mode="before")
    @classmethod
    def _components_as_list(cls, data: Any) -> Any:
        # The Statuspage docs' own form example sends `incident[components][]=ID`: a list of ids.
        if isinstance(data, dict) and isinstance(data.get("components"), list | str):
            ids = _listed(data["components"])
            assert isinstance(ids, list)
            return {
                **data,
                "components": None,
                "component_ids": [*data.get("component_ids", []), *ids],
            }
        return data


class IncidentCreateBody(IncidentBody):
    name: str = Field(min_length=1, max_length=255)


class UpdateEditBody(WireModel):
    body: str | None = Field(default=None, max_length=BODY_MAX)
    display_at: When | None = None
    deliver_notifications: bool | None = None
    wants_twitter_update: bool | None = Field(default=None, description="Ignored.")


class PostmortemDraftBody(WireModel):
    body_draft: str = Field(max_length=POSTMORTEM_MAX)


class PostmortemPublishBody(WireModel):
    notify_subscribers: bool | None = Field(
        default=None, description="Accepted; publishing a post-mortem notifies nobody."
    )
    notify_twitter: bool | None = Field(default=None, description="Ignored.")
    custom_tweet: str | None = Field(default=None, max_length=280, description="Ignored.")


# --- translation into the service's schemas ------------------------------------------------


def _first(*values: bool | None) -> bool | None:
    return next((value for value in values if value is not None), None)


def _set(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _is_maintenance(wire: IncidentBody) -> bool:
    return wire.status in MAINTENANCE_STATUSES or wire.scheduled_for is not None


def _maintenance_create(wire: IncidentBody) -> MaintenanceCreate:
    fields = _set(
        {
            "name": wire.name,
            "status": wire.status,
            "body": wire.body,
            "scheduled_for": wire.scheduled_for,
            "scheduled_until": wire.scheduled_until,
            "component_ids": wire.component_ids,
            "components": wire.components,
            "auto_start": _first(wire.scheduled_auto_in_progress, wire.scheduled_auto_transition),
            "auto_end": wire.scheduled_auto_completed,
            "auto_components": _first(
                wire.auto_transition_to_maintenance_state,
                wire.auto_transition_to_operational_state,
            ),
            "remind_prior": wire.scheduled_remind_prior,
            "deliver_notifications": wire.deliver_notifications,
            "impact_override": wire.impact_override,
            "metadata": wire.metadata,
        }
    )
    return parse(MaintenanceCreate, fields, where="incident")


def _incident_create(wire: IncidentBody) -> IncidentCreate:
    if wire.scheduled_until is not None:
        raise Invalid("incident.scheduled_until: a maintenance also needs scheduled_for")
    fields = _set(
        {
            "name": wire.name,
            "status": wire.status,
            "body": wire.body,
            "impact_override": wire.impact_override,
            "components": wire.components,
            "component_ids": wire.component_ids,
            "deliver_notifications": wire.deliver_notifications,
            "backfilled": wire.backfilled,
            "started_at": wire.backfill_date if wire.backfilled else None,
            "metadata": wire.metadata,
        }
    )
    return parse(IncidentCreate, fields, where="incident")


def _edit(wire: IncidentBody) -> IncidentEdit:
    fields = _set(
        {
            "name": wire.name,
            "metadata": wire.metadata,
            "component_ids": wire.component_ids,
            "scheduled_for": wire.scheduled_for,
            "scheduled_until": wire.scheduled_until,
            "auto_start": _first(wire.scheduled_auto_in_progress, wire.scheduled_auto_transition),
            "auto_end": wire.scheduled_auto_completed,
            "auto_components": _first(
                wire.auto_transition_to_maintenance_state,
                wire.auto_transition_to_operational_state,
            ),
            "remind_prior": wire.scheduled_remind_prior,
        }
    )
    if "impact_override" in wire.model_fields_set:
        fields["impact_override"] = wire.impact_override
    return parse(IncidentEdit, fields, where="incident")


def _update(wire: IncidentBody) -> UpdateCreate:
    fields = _set(
        {
            "status": wire.status,
            "body": wire.body,
            "components": wire.components,
            "deliver_notifications": wire.deliver_notifications,
        }
    )
    return parse(UpdateCreate, fields, where="incident")


# --- serialisation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every object of one page needs to be written out."""

    zone: ZoneInfo
    base_url: str
    rows: dict[str, Component]


def context(session: Session, page: Page, settings: Settings) -> Context:
    rows = {row.id: row for row in components.list_components(session, page.id)}
    base_url = (page.url or settings.base_url).rstrip("/")
    return Context(zone=ZoneInfo(page.time_zone), base_url=base_url, rows=rows)


def _name(row: Component, ctx: Context) -> str:
    group = ctx.rows.get(row.group_id) if row.group_id else None
    return f"{group.name} - {row.name}" if group else row.name


def incident_update(update: IncidentUpdate, ctx: Context) -> dict[str, Any]:
    affected = [
        {
            "code": change.component_id,
            "name": _name(ctx.rows[change.component_id], ctx),
            "old_status": change.old_status.value,
            "new_status": change.new_status.value,
        }
        for change in update.changes
        if change.component_id in ctx.rows
    ]
    return {
        "id": update.id,
        "incident_id": update.incident_id,
        "affected_components": affected or None,
        "body": update.body,
        "created_at": iso(update.created_at, ctx.zone),
        "custom_tweet": None,
        "deliver_notifications": update.deliver_notifications,
        "display_at": iso(update.display_at, ctx.zone),
        "status": update.status.value,
        "tweet_id": None,
        "twitter_updated_at": None,
        "updated_at": iso(update.updated_at, ctx.zone),
        "wants_twitter_update": False,
    }


def _schedule(incident: Incident, ctx: Context) -> dict[str, Any]:
    planned = incident.kind is IncidentKind.MAINTENANCE
    return {
        "scheduled_auto_completed": planned and incident.auto_end,
        "scheduled_auto_in_progress": planned and incident.auto_start,
        "scheduled_for": iso(incident.scheduled_for, ctx.zone),
        # Automatic transitions always notify subscribers.
        "auto_transition_deliver_notifications_at_end": planned,
        "auto_transition_deliver_notifications_at_start": planned,
        "auto_transition_to_maintenance_state": planned and incident.auto_components,
        "auto_transition_to_operational_state": planned and incident.auto_components,
        "scheduled_remind_prior": incident.scheduled_remind_prior,
        "scheduled_reminded_at": iso(incident.scheduled_reminded_at, ctx.zone),
        "scheduled_until": iso(incident.scheduled_until, ctx.zone),
    }


def incident_object(incident: Incident, ctx: Context) -> dict[str, Any]:
    """A v1 Incident, keys in the spec's order; updates newest first."""
    linked = {link.component_id for link in incident.components}
    updates = sorted(incident.updates, key=lambda u: (u.display_at, u.created_at), reverse=True)
    return {
        "id": incident.id,
        "components": [component(row, ctx.zone) for row in ctx.rows.values() if row.id in linked],
        "created_at": iso(incident.created_at, ctx.zone),
        "impact": incident.impact.value,
        "impact_override": incident.impact_override.value if incident.impact_override else None,
        "incident_updates": [incident_update(update, ctx) for update in updates],
        "metadata": incident.metadata_ or {},
        "monitoring_at": iso(incident.monitoring_at, ctx.zone),
        "name": incident.name,
        "page_id": incident.page_id,
        "postmortem_body": incident.postmortem_body,
        "postmortem_body_last_updated_at": iso(incident.postmortem_draft_updated_at, ctx.zone),
        "postmortem_ignored": False,
        "postmortem_notified_subscribers": False,
        "postmortem_notified_twitter": False,
        "postmortem_published_at": iso(incident.postmortem_published_at, ctx.zone),
        "resolved_at": iso(incident.resolved_at, ctx.zone),
        **_schedule(incident, ctx),
        "shortlink": f"{ctx.base_url}/incidents/{incident.id}",
        "status": incident.status.value,
        "updated_at": iso(incident.updated_at, ctx.zone),
        "reminder_intervals": None,
        "started_at": iso(incident.started_at, ctx.zone),
        "backfilled": incident.backfilled,
        "draft": incident.draft,
    }


def _postmortem(incident: Incident, ctx: Context) -> dict[str, Any]:
    stamps = [
        at for at in (incident.postmortem_draft_updated_at, incident.postmortem_published_at) if at
    ]
    return {
        "preview_key": None,
        "body": incident.postmortem_body,
        "body_updated_at": iso(incident.postmortem_published_at, ctx.zone),
        "body_draft": incident.postmortem_body_draft,
        "body_draft_updated_at": iso(incident.postmortem_draft_updated_at, ctx.zone),
        "published_at": iso(incident.postmortem_published_at, ctx.zone),
        "notify_subscribers": False,
        "notify_twitter": False,
        "custom_tweet": None,
        "created_at": iso(min(stamps), ctx.zone) if stamps else None,
        "updated_at": iso(max(stamps), ctx.zone) if stamps else None,
    }


# --- routes ------------------------------------------------------------------------------


def _window(page: int, per_page: int) -> tuple[int, int]:
    limit = min(per_page, MAX_PER_PAGE)
    return limit, (page - 1) * limit


PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")]
PerPage = Annotated[
    int, Query(ge=1, le=1_000_000, description="Items per page; more than 100 counts as 100")
]
Search = Annotated[
    str | None,
    Query(max_length=255, pattern=r"^[^\x00]*$", description="Search name, status and text"),
]
Incidents = list[dict[str, Any]]
_PAGE = "/pages/{page_id}/incidents"
_ONE = _PAGE + "/{incident_id}"


def _found(session: Session, page: Page, incident_id: str) -> Incident:
    return incidents.get_incident(session, page_id=page.id, incident_id=incident_id)


def _listing(session: Session, page: Page, settings: Settings, **filters: Any) -> Incidents:
    ctx = context(session, page, settings)
    rows = incidents.list_incidents(session, page_id=page.id, **filters)
    return [incident_object(row, ctx) for row in rows]


@router.get(_PAGE, responses=ERRORS)
def list_incidents(
    page_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    q: Search = None,
    limit: PerPage = MAX_PER_PAGE,
    page: PageNumber = 1,
) -> Incidents:
    """Incidents and maintenances, newest first; `q` searches names, statuses and texts."""
    found = page_for(session, principal, page_id, needs=Role.VIEWER)
    size, offset = _window(page, limit)
    return _listing(session, found, settings, q=q, limit=size, offset=offset)


def _filtered(
    kind: IncidentKind, statuses: tuple[IncidentStatus, ...] | None, summary: str
) -> None:
    @router.get(f"{_PAGE}/{summary}", responses=ERRORS, name=f"list_{summary}_incidents")
    def listing(
        page_id: IdPath,
        principal: PrincipalDep,
        session: SessionDep,
        settings: SettingsDep,
        per_page: PerPage = MAX_PER_PAGE,
        page: PageNumber = 1,
    ) -> Incidents:
        found = page_for(session, principal, page_id, needs=Role.VIEWER)
        size, offset = _window(page, per_page)
        return _listing(
            session, found, settings, kind=kind, statuses=statuses, limit=size, offset=offset
        )


_filtered(
    IncidentKind.INCIDENT,
    (IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED, IncidentStatus.MONITORING),
    "unresolved",
)
_filtered(IncidentKind.MAINTENANCE, (IncidentStatus.SCHEDULED,), "upcoming")
_filtered(
    IncidentKind.MAINTENANCE,
    (IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING),
    "active_maintenance",
)
_filtered(IncidentKind.MAINTENANCE, None, "scheduled")


@router.post(
    _PAGE,
    status_code=201,
    responses=ERRORS,
    openapi_extra=openapi_body(IncidentCreateBody, "incident"),
)
def create_incident(
    page_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Open an incident, or schedule a maintenance when the status or `scheduled_for` says so."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    wire = parse(IncidentCreateBody, unwrap(body, "incident"), where="incident")
    if _is_maintenance(wire):
        incident = incidents.schedule_maintenance(
            session, page=page, data=_maintenance_create(wire), actor=principal.actor
        )
    else:
        incident = incidents.create_incident(
            session, page=page, data=_incident_create(wire), actor=principal.actor
        )
    return incident_object(incident, context(session, page, settings))


@router.get(_ONE, responses=ERRORS)
def get_incident(
    page_id: IdPath,
    incident_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    return incident_object(_found(session, page, incident_id), context(session, page, settings))


@router.patch(_ONE, responses=ERRORS, openapi_extra=openapi_body(IncidentBody, "incident"))
@router.put(_ONE, responses=ERRORS, openapi_extra=openapi_body(IncidentBody, "incident"))
def update_incident(
    page_id: IdPath,
    incident_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Edit the incident; a body, a new status or component changes also post an update."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    incident = _found(session, page, incident_id)
    wire = parse(IncidentBody, unwrap(body, "incident", required=False), where="incident")
    incidents.revise_incident(
        session, incident=incident, edit=_edit(wire), update=_update(wire), actor=principal.actor
    )
    return incident_object(incident, context(session, page, settings))


@router.delete(_ONE, responses=ERRORS)
def delete_incident(
    page_id: IdPath,
    incident_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Delete the incident and answer with it as it was."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    incident = _found(session, page, incident_id)
    gone = incident_object(incident, context(session, page, settings))
    incidents.delete_incident(session, incident=incident, actor=principal.actor)
    return gone


@router.post(_ONE + "/publish", responses=ERRORS)
def publish_incident(
    page_id: IdPath,
    incident_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Make a draft incident public and notify subscribers of it (our extension)."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    incident = _found(session, page, incident_id)
    incidents.publish_draft(session, incident=incident, actor=principal.actor)
    return incident_object(incident, context(session, page, settings))


_UPDATE = _ONE + "/incident_updates/{incident_update_id}"


@router.patch(
    _UPDATE, responses=ERRORS, openapi_extra=openapi_body(UpdateEditBody, "incident_update")
)
@router.put(
    _UPDATE, responses=ERRORS, openapi_extra=openapi_body(UpdateEditBody, "incident_update")
)
def edit_incident_update(
    page_id: IdPath,
    incident_id: IdPath,
    incident_update_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Correct an update's text or time; the incident's updates re-sort by `display_at`."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    incident = _found(session, page, incident_id)
    update = incidents.get_update(session, incident=incident, update_id=incident_update_id)
    wire = parse(UpdateEditBody, unwrap(body, "incident_update"), where="incident_update")
    data = parse(
        UpdateEdit,
        _set(wire.model_dump(include={"body", "display_at", "deliver_notifications"})),
        where="incident_update",
    )
    incidents.edit_update(session, update=update, data=data, actor=principal.actor)
    return incident_update(update, context(session, page, settings))


_POSTMORTEM = _ONE + "/postmortem"


def _with_postmortem(session: Session, page: Page, incident_id: str) -> Incident:
    incident = _found(session, page, incident_id)
    if incident.postmortem_body_draft is None and incident.postmortem_published_at is None:
        raise NotFound("this incident has no postmortem")
    return incident


@router.get(_POSTMORTEM, responses=ERRORS)
def get_postmortem(
    page_id: IdPath,
    incident_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    incident = _with_postmortem(session, page, incident_id)
    return _postmortem(incident, context(session, page, settings))


@router.put(
    _POSTMORTEM, responses=ERRORS, openapi_extra=openapi_body(PostmortemDraftBody, "postmortem")
)
def save_postmortem(
    page_id: IdPath,
    incident_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Save the post-mortem draft; readers see nothing until it is published."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    incident = _found(session, page, incident_id)
    wire = parse(PostmortemDraftBody, unwrap(body, "postmortem"), where="postmortem")
    incidents.save_postmortem_draft(
        session, incident=incident, body=wire.body_draft, actor=principal.actor
    )
    return _postmortem(incident, context(session, page, settings))


@router.delete(_POSTMORTEM, status_code=204, response_class=Response, responses=ERRORS)
def delete_postmortem(
    page_id: IdPath, incident_id: IdPath, principal: PrincipalDep, session: SessionDep
) -> Response:
    """Unpublish the post-mortem and delete its draft."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    incident = _with_postmortem(session, page, incident_id)
    incidents.delete_postmortem(session, incident=incident, actor=principal.actor)
    return Response(status_code=204)


@router.put(
    _POSTMORTEM + "/publish",
    responses=ERRORS,
    openapi_extra=openapi_body(PostmortemPublishBody, "postmortem"),
)
def publish_postmortem(
    page_id: IdPath,
    incident_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Publish the saved draft as the incident's write-up."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    incident = _found(session, page, incident_id)
    parse(PostmortemPublishBody, unwrap(body, "postmortem", required=False), where="postmortem")
    incidents.publish_postmortem(session, incident=incident, actor=principal.actor)
    return _postmortem(incident, context(session, page, settings))


@router.put(_POSTMORTEM + "/revert", responses=ERRORS)
def revert_postmortem(
    page_id: IdPath,
    incident_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Unpublish the post-mortem; its text stays as the draft."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    incident = _with_postmortem(session, page, incident_id)
    incidents.retract_writeup(session, incident=incident, actor=principal.actor)
    return _postmortem(incident, context(session, page, settings))
