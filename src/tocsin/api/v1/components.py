"""Management API v1: components, component groups and their uptime (statuspage-api.md §2.2-2.4).

Groups are component rows with `group: true`, so the components list shows them too,
and a group can be read, renamed or deleted through either path.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import fmean
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tocsin.accounts.models import Role
from tocsin.api.auth import Principal, PrincipalDep, page_for
from tocsin.api.body import openapi_body, parse, unwrap
from tocsin.api.v1 import serialize
from tocsin.api.v1.common import MAX_PER_PAGE, BodyDep, DateTimeText, error_responses
from tocsin.components import service as components
from tocsin.components.models import Component
from tocsin.components.schemas import ComponentCreate, ComponentUpdate, GroupCreate
from tocsin.components.status import ComponentStatus, worst
from tocsin.components.uptime import DEFAULT_DAYS, local_midnight
from tocsin.db import utcnow
from tocsin.deps import SessionDep
from tocsin.errors import Invalid, NotFound
from tocsin.lib.isotime import iso
from tocsin.pages.models import Page

router = APIRouter(tags=["components"])

T = TypeVar("T")

EARLIEST_DAY = date(1970, 1, 1)
MAX_RANGE_MONTHS = 6
END_ADJUSTED = "End date was adjusted to today. See range_end field in response for end date used."
START_TOO_EARLY = (
    "The maximum supported date range is six calendar months; the start date was adjusted. "
    "See range_start field in response for start date used."
)
START_AFTER_END = (
    "Start date was after the end date and was adjusted to it. "
    "See range_start field in response for start date used."
)

_ERRORS = error_responses(401, 403, 404, 422)

# Our ids are 12 lowercase letters and digits; anything else cannot name a row.
ID_PATTERN = r"^[a-z0-9]{1,12}$"
ComponentId = Annotated[str, Field(pattern=ID_PATTERN)]

PageNumber = Annotated[int, Query(alias="page", ge=1, description="1-based page number")]
PerPage = Annotated[int, Query(ge=1, description="Items per page; at most 100 are returned")]


class ComponentOut(BaseModel):
    id: str
    page_id: str
    group_id: str | None
    created_at: DateTimeText
    updated_at: DateTimeText
    group: bool
    name: str
    description: str | None
    position: int
    status: ComponentStatus
    showcase: bool
    only_show_if_degraded: bool
    automation_email: str | None
    start_date: date | None


class GroupOut(BaseModel):
    id: str
    page_id: str
    name: str
    description: str | None
    components: list[str]
    position: int
    created_at: DateTimeText
    updated_at: DateTimeText


class RelatedIncident(BaseModel):
    id: str


class ComponentEvents(BaseModel):
    component_id: str
    incidents: list[RelatedIncident]


class UptimeOut(BaseModel):
    id: str
    name: str
    range_start: DateTimeText
    range_end: DateTimeText
    uptime_percentage: float | None = Field(
        description="Null when the component has no recorded status in the range"
    )
    major_outage: int = Field(description="Seconds of major outage")
    partial_outage: int = Field(description="Seconds of partial outage")
    warnings: str | None = Field(description="A JSON-encoded array of messages, as Statuspage")
    related_events: list[RelatedIncident] | None


class GroupUptimeOut(UptimeOut):
    related_events: list[ComponentEvents] | None  # type: ignore[assignment]


# Keys whose columns are NOT NULL: a JSON null there means "leave as is".
_NOT_NULL = ("name", "status", "showcase", "only_show_if_degraded", "show_response_times")


class ComponentBody(BaseModel):
    """`component` in POST/PATCH/PUT; unknown keys (automation_email...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    status: ComponentStatus | None = None
    only_show_if_degraded: bool | None = None
    group_id: str | None = Field(
        default=None,
        pattern=r"^([a-z0-9]{1,12}|null)?$",
        description='A group id; null or "null" takes the component out of its group',
    )
    showcase: bool | None = None
    show_response_times: bool | None = Field(
        default=None,
        description="Our extension: show response times and uptime from checks on the page",
    )
    start_date: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if not (k in _NOT_NULL and v in (None, ""))}
        if data.get("group_id") in ("", "null"):
            data["group_id"] = None
        if data.get("start_date") == "":
            data["start_date"] = None
        return data


class NewComponentBody(ComponentBody):
    name: str = Field(min_length=1, max_length=255)


class GroupBody(BaseModel):
    """`component_group` in POST/PATCH/PUT; `description` may also sit beside it."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    components: list[ComponentId] | None = Field(
        default=None, min_length=1, max_length=1000, description="Ids of the member components"
    )

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if not (k == "name" and v is None)}
        if isinstance(data.get("components"), str):
            data["components"] = [data["components"]]
        return data


class NewGroupBody(GroupBody):
    name: str = Field(min_length=1, max_length=255)
    components: list[ComponentId] = Field(
        min_length=1, max_length=1000, description="Ids of the member components"
    )


def _group_body_doc(model: type[GroupBody]) -> dict[str, Any]:
    extra = openapi_body(model, "component_group")
    schema = extra["requestBody"]["content"]["application/json"]["schema"]
    schema["properties"]["description"] = {"type": "string", "maxLength": 2000}
    return extra


def _paginate(items: Sequence[T], page_number: int, per_page: int) -> list[T]:
    size = min(per_page, MAX_PER_PAGE)
    offset = (page_number - 1) * size
    return list(items[offset : offset + size])


def _zone(page: Page) -> ZoneInfo:
    return ZoneInfo(page.time_zone)


def component_out(row: Component, zone: ZoneInfo) -> ComponentOut:
    status = worst(child.status for child in row.children) if row.children else None
    return ComponentOut.model_validate(serialize.component(row, zone, status=status))


def group_out(row: Component, zone: ZoneInfo) -> GroupOut:
    return GroupOut(
        id=row.id,
        page_id=row.page_id,
        name=row.name,
        description=row.description,
        components=[child.id for child in row.children],
        position=row.position,
        created_at=iso(row.created_at, zone),
        updated_at=iso(row.updated_at, zone),
    )


def _display_order(rows: list[Component]) -> list[Component]:
    """Top-level rows by position, each group followed by its members."""
    members: dict[str, list[Component]] = {}
    for row in rows:
        if row.group_id is not None:
            members.setdefault(row.group_id, []).append(row)
    ordered: list[Component] = []
    for row in rows:
        if row.group_id is None:
            ordered.append(row)
            ordered.extend(members.get(row.id, ()))
    return ordered


def _find(session: SessionDep, page: Page, component_id: str) -> Component:
    if re.fullmatch(ID_PATTERN, component_id) is None:
        raise NotFound(f"component {component_id!r} not found")
    return components.get_component(session, page_id=page.id, component_id=component_id)


def _get_group(session: SessionDep, page: Page, group_id: str) -> Component:
    row = _find(session, page, group_id)
    if not row.is_group:
        raise NotFound(f"component group {group_id} not found")
    return row


# --- components ------------------------------------------------------------------------


@router.get("/pages/{page_id}/components", responses=_ERRORS)
def list_components(
    page_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    page_number: PageNumber = 1,
    per_page: PerPage = MAX_PER_PAGE,
) -> list[ComponentOut]:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    rows = _display_order(components.list_components(session, page.id))
    zone = _zone(page)
    return [component_out(row, zone) for row in _paginate(rows, page_number, per_page)]


@router.post(
    "/pages/{page_id}/components",
    status_code=201,
    responses=_ERRORS,
    openapi_extra=openapi_body(NewComponentBody, "component"),
)
def create_component(
    page_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> ComponentOut:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    body = parse(NewComponentBody, unwrap(raw, "component"), where="component")
    data = parse(ComponentCreate, body.model_dump(exclude_unset=True), where="component")
    row = components.create_component(session, page=page, data=data, actor=principal.actor)
    return component_out(row, _zone(page))


@router.get("/pages/{page_id}/components/{component_id}", responses=_ERRORS)
def get_component(
    page_id: str, component_id: str, session: SessionDep, principal: PrincipalDep
) -> ComponentOut:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    row = _find(session, page, component_id)
    return component_out(row, _zone(page))


_COMPONENT_BODY = openapi_body(ComponentBody, "component")


@router.patch(
    "/pages/{page_id}/components/{component_id}",
    responses=_ERRORS,
    openapi_extra=_COMPONENT_BODY,
)
@router.put(
    "/pages/{page_id}/components/{component_id}",
    responses=_ERRORS,
    openapi_extra=_COMPONENT_BODY,
)
def update_component(
    page_id: str, component_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> ComponentOut:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    row = _find(session, page, component_id)
    body = parse(ComponentBody, unwrap(raw, "component"), where="component")
    data = parse(ComponentUpdate, body.model_dump(exclude_unset=True), where="component")
    components.update_component(session, component=row, data=data, actor=principal.actor)
    return component_out(row, _zone(page))


@router.delete(
    "/pages/{page_id}/components/{component_id}",
    status_code=204,
    response_class=Response,
    responses=_ERRORS,
)
def delete_component(
    page_id: str, component_id: str, session: SessionDep, principal: PrincipalDep
) -> Response:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    row = _find(session, page, component_id)
    components.delete_component(session, component=row, actor=principal.actor)
    return Response(status_code=204)


# --- component groups ------------------------------------------------------------------


G = TypeVar("G", bound=GroupBody)


def _group_fields(model: type[G], raw: dict[str, Any]) -> G:
    inner = unwrap(raw, "component_group", required=model is NewGroupBody)
    if "description" in raw and "description" not in inner:
        inner = {**inner, "description": raw["description"]}
    return parse(model, inner, where="component_group")


@router.get("/pages/{page_id}/component-groups", responses=_ERRORS)
def list_groups(
    page_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    page_number: PageNumber = 1,
    per_page: PerPage = MAX_PER_PAGE,
) -> list[GroupOut]:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    groups = [row for row in components.list_components(session, page.id) if row.is_group]
    zone = _zone(page)
    return [group_out(row, zone) for row in _paginate(groups, page_number, per_page)]


@router.post(
    "/pages/{page_id}/component-groups",
    status_code=201,
    responses=_ERRORS,
    openapi_extra=_group_body_doc(NewGroupBody),
)
def create_group(
    page_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> GroupOut:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    body = _group_fields(NewGroupBody, raw)
    fields = body.model_dump(exclude_unset=True, exclude={"components"})
    data = parse(GroupCreate, {**fields, "component_ids": body.components}, where="component_group")
    row = components.create_group(session, page=page, data=data, actor=principal.actor)
    return group_out(row, _zone(page))


@router.get("/pages/{page_id}/component-groups/{group_id}", responses=_ERRORS)
def get_group(
    page_id: str, group_id: str, session: SessionDep, principal: PrincipalDep
) -> GroupOut:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    return group_out(_get_group(session, page, group_id), _zone(page))


_GROUP_BODY = _group_body_doc(GroupBody)


@router.patch(
    "/pages/{page_id}/component-groups/{group_id}",
    responses=_ERRORS,
    openapi_extra=_GROUP_BODY,
)
@router.put(
    "/pages/{page_id}/component-groups/{group_id}",
    responses=_ERRORS,
    openapi_extra=_GROUP_BODY,
)
def update_group(
    page_id: str, group_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> GroupOut:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    row = _get_group(session, page, group_id)
    body = _group_fields(GroupBody, raw)
    _apply_group(session, row, body, principal)
    return group_out(row, _zone(page))


def _apply_group(
    session: SessionDep, row: Component, body: GroupBody, principal: Principal
) -> None:
    fields = body.model_dump(exclude_unset=True, exclude={"components"})
    if fields:
        data = parse(ComponentUpdate, fields, where="component_group")
        components.update_component(session, component=row, data=data, actor=principal.actor)
    if body.components is not None:
        components.set_group_members(session, group=row, component_ids=body.components)


@router.delete("/pages/{page_id}/component-groups/{group_id}", responses=_ERRORS)
def delete_group(
    page_id: str, group_id: str, session: SessionDep, principal: PrincipalDep
) -> GroupOut:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    row = _get_group(session, page, group_id)
    deleted = group_out(row, _zone(page))
    components.delete_component(session, component=row, actor=principal.actor)
    return deleted


# --- uptime ----------------------------------------------------------------------------

# Years from 1970, months 01-12, days 01-31; a day past the month's end means its last day.
_DAY_PATTERN = r"^(19[7-9][0-9]|[2-9][0-9]{3})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"

StartDay = Annotated[
    str | None,
    Query(
        pattern=_DAY_PATTERN,
        description="YYYY-MM-DD, YYYY-MM or YYYY; defaults to 90 days before the end "
        "or the component's start_date, whichever is later",
    ),
]
EndDay = Annotated[
    str | None,
    Query(pattern=_DAY_PATTERN, description="YYYY-MM-DD, YYYY-MM or YYYY; defaults to today"),
]


@dataclass(frozen=True)
class _Range:
    start: datetime
    end: datetime
    warnings: tuple[str, ...]


def _parse_day(text: str, *, last: bool) -> date:
    """A full or partial date (already matched by the query pattern); a partial one means
    the first day it covers, or the last with `last`."""
    year, _, rest = text.partition("-")
    month, _, day = rest.partition("-")
    if not month:
        return date(int(year), 12, 31) if last else date(int(year), 1, 1)
    days = calendar.monthrange(int(year), int(month))[1]
    wanted = int(day) if day else (days if last else 1)
    return date(int(year), int(month), min(wanted, days))


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _start_day(start: str | None, end_day: date, rows: Sequence[Component]) -> date:
    if start:
        return _parse_day(start, last=False)
    began = [row.start_date for row in rows if row.start_date is not None]
    default = end_day - timedelta(days=DEFAULT_DAYS - 1)
    return min(max(default, min(began)), end_day) if began else default


def _uptime_range(
    page: Page, rows: Sequence[Component], start: str | None, end: str | None
) -> _Range:
    """The instants to measure between; out-of-bounds dates are moved, with a warning each,
    as Statuspage does."""
    zone = _zone(page)
    now = utcnow()
    today = now.astimezone(zone).date()
    warnings: list[str] = []
    end_day = _parse_day(end, last=True) if end else today
    if end_day > today:
        end_day = today
        warnings.append(END_ADJUSTED)
    start_day = _start_day(start, end_day, rows)
    earliest = max(_months_before(end_day, MAX_RANGE_MONTHS), EARLIEST_DAY)
    if start_day < earliest:
        start_day = earliest
        warnings.append(START_TOO_EARLY)
    if start_day > end_day:
        start_day = end_day
        warnings.append(START_AFTER_END)
    return _Range(
        start=local_midnight(start_day, zone),
        end=min(local_midnight(end_day + timedelta(days=1), zone), now),
        warnings=tuple(warnings),
    )


def _outage(session: SessionDep, row: Component, span: _Range, zone: ZoneInfo) -> components.Outage:
    start = span.start
    if row.start_date is not None:
        start = max(start, local_midnight(row.start_date, zone))
    return components.outage_between(session, component_id=row.id, start=start, end=span.end)


def _uptime_fields(
    row: Component,
    span: _Range,
    zone: ZoneInfo,
    percent: float | None,
    major: float,
    partial: float,
) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "range_start": iso(span.start, zone),
        "range_end": iso(span.end, zone),
        "uptime_percentage": None if percent is None else round(percent, 2),
        "major_outage": round(major),
        "partial_outage": round(partial),
        "warnings": json.dumps(list(span.warnings)) if span.warnings else None,
    }


@router.get("/pages/{page_id}/components/{component_id}/uptime", responses=_ERRORS)
def component_uptime(
    page_id: str,
    component_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    start: StartDay = None,
    end: EndDay = None,
    skip_related_events: bool = False,
) -> UptimeOut:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    row = _find(session, page, component_id)
    if row.is_group:
        raise Invalid(f"{row.name!r} is a group; ask /component-groups/{row.id}/uptime")
    zone = _zone(page)
    span = _uptime_range(page, [row], start, end)
    outage = _outage(session, row, span, zone)
    percent = outage.uptime_percent(page.partial_outage_weight)
    events = None if skip_related_events else [{"id": i} for i in outage.incident_ids]
    return UptimeOut.model_validate(
        {
            **_uptime_fields(row, span, zone, percent, outage.major, outage.partial),
            "related_events": events,
        }
    )


@router.get("/pages/{page_id}/component-groups/{group_id}/uptime", responses=_ERRORS)
def group_uptime(
    page_id: str,
    group_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    start: StartDay = None,
    end: EndDay = None,
    skip_related_events: bool = False,
) -> GroupUptimeOut:
    """The mean over the members that have data in the range, as the status page shows it."""
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    row = _get_group(session, page, group_id)
    zone = _zone(page)
    span = _uptime_range(page, row.children, start, end)
    outages = {child.id: _outage(session, child, span, zone) for child in row.children}
    measured = [o for o in outages.values() if o.covered]
    percents = [
        percent
        for o in measured
        if (percent := o.uptime_percent(page.partial_outage_weight)) is not None
    ]
    fields = _uptime_fields(
        row,
        span,
        zone,
        fmean(percents) if percents else None,
        fmean(o.major for o in measured) if measured else 0.0,
        fmean(o.partial for o in measured) if measured else 0.0,
    )
    events = [
        {"component_id": child_id, "incidents": [{"id": i} for i in outage.incident_ids]}
        for child_id, outage in outages.items()
        if outage.incident_ids
    ]
    return GroupUptimeOut.model_validate(
        {**fields, "related_events": None if skip_related_events else events}
    )
