"""Management API v1: page and incident subscribers (statuspage-api.md §2.2-§2.4, §6.4).

Subscriber lists are personal data (addresses, phone numbers), so reading them needs the
admin role just as changing them does; editors and viewers get 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from tocsin.accounts.models import Role
from tocsin.api.auth import Principal, PrincipalDep, page_for
from tocsin.api.body import openapi_body, parse, unwrap
from tocsin.api.v1.common import MAX_PER_PAGE, BodyDep, error_responses
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import Invalid
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.lib.isotime import iso
from tocsin.notify import service as subscribers
from tocsin.notify.models import Subscriber
from tocsin.notify.schemas import (
    NO_NUL,
    BulkAction,
    IncidentSubscriberCreate,
    Mode,
    ModeFilter,
    SortDirection,
    SortField,
    StateFilter,
    SubscriberCreate,
    SubscriberListing,
    SubscriberUpdate,
    display_phone,
)
from tocsin.pages.models import Page

router = APIRouter(tags=["subscribers"])

# Read in a dependency so that handlers can stay synchronous and run off the event loop.
DateTimeText = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]

# Far past any real list; keeps page * limit inside what every database accepts as OFFSET.
MAX_PAGE = 10_000_000


_READ = error_responses(401, 403, 404, 422)
_EMPTY_201: dict[int | str, dict[str, Any]] = {
    201: {"description": "Done; the response has no body.", "content": None},
    **_READ,
}


class SubscriberOut(BaseModel):
    id: str
    skip_confirmation_notification: bool
    mode: Mode
    email: str | None
    endpoint: str | None
    phone_number: str | None = Field(description="E.164, as stored")
    phone_country: str | None
    display_phone_number: str | None = Field(examples=["+1 (202) 555-0105"])
    obfuscated_channel_name: str | None
    workspace_name: str | None
    quarantined_at: DateTimeText
    purge_at: DateTimeText
    components: list[str] = Field(
        description="Component and group ids; empty for a whole-page or incident subscription"
    )
    page_access_user_id: str | None
    created_at: DateTimeText


class StateCounts(BaseModel):
    active: int
    unconfirmed: int
    quarantined: int
    total: int


class SubscriberCountByType(BaseModel):
    email: int
    sms: int
    webhook: int
    integration_partner: int
    slack: int
    teams: int
    discord: int


class SubscriberCountByTypeAndState(BaseModel):
    email: StateCounts
    sms: StateCounts
    webhook: StateCounts
    integration_partner: StateCounts
    slack: StateCounts
    teams: StateCounts
    discord: StateCounts


def subscriber_out(row: Subscriber) -> SubscriberOut:
    return SubscriberOut(
        id=row.id,
        skip_confirmation_notification=row.skip_confirmation,
        mode=row.mode.value,
        email=row.email,
        endpoint=row.endpoint,
        phone_number=row.phone_number,
        phone_country=row.phone_country,
        display_phone_number=(
            display_phone(row.phone_number, row.phone_country) if row.phone_number else None
        ),
        obfuscated_channel_name=None,
        workspace_name=None,
        quarantined_at=iso(row.quarantined_at),
        purge_at=iso(row.purge_at),
        components=[link.component_id for link in row.components],
        page_access_user_id=None,
        created_at=iso(row.created_at),
    )


def _admin_page(session: Session, principal: Principal, page_id: str) -> Page:
    return page_for(session, principal, page_id, needs=Role.ADMIN)


def _incident(
    session: Session, principal: Principal, page_id: str, incident_id: str
) -> tuple[Page, Incident]:
    page = _admin_page(session, principal, page_id)
    return page, incidents.get_incident(session, page_id=page_id, incident_id=incident_id)


def _one_based(page: int, per_page: int) -> tuple[int, int]:
    limit = min(per_page, MAX_PER_PAGE)
    return (min(max(page, 1), MAX_PAGE) - 1) * limit, limit


PerPage = Annotated[int, Query(ge=1, description="At most 100 are returned")]
OneBasedPage = Annotated[int, Query(ge=0, description="1-based page number")]


# --- page subscribers ----------------------------------------------------------------------


@router.get("/pages/{page_id}/subscribers", responses=_READ)
def list_subscribers(
    page_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(max_length=254, pattern=NO_NUL)] = None,
    type: ModeFilter | None = None,
    state: StateFilter = "active",
    limit: Annotated[int, Query(ge=1, description="At most 100 are returned")] = 100,
    page: Annotated[int, Query(ge=0, description="0-based: page * limit rows are skipped")] = 0,
    sort_field: SortField = "primary",
    sort_direction: SortDirection = "asc",
) -> list[SubscriberOut]:
    _admin_page(session, principal, page_id)
    limit = min(limit, MAX_PER_PAGE)
    listing = SubscriberListing(
        mode=type,
        state=state,
        q=q,
        sort_field=sort_field,
        sort_direction=sort_direction,
        offset=min(page, MAX_PAGE) * limit,
        limit=limit,
    )
    rows = subscribers.list_subscribers(session, page_id=page_id, listing=listing)
    return [subscriber_out(row) for row in rows]


@router.post(
    "/pages/{page_id}/subscribers",
    status_code=201,
    responses=_READ,
    openapi_extra=openapi_body(SubscriberCreate, "subscriber"),
)
def create_subscriber(
    page_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    raw: BodyDep,
    settings: SettingsDep,
) -> SubscriberOut:
    """Subscribe an address. An address already subscribed gets its subscription back
    unchanged (idempotent), so retries and imports do not fail or duplicate.

    An endpoint at a private or loopback address is refused here, as in the admin,
    unless TOCSIN_WEBHOOKS_ALLOW_PRIVATE: the worker would refuse every send to it."""
    page = _admin_page(session, principal, page_id)
    data = parse(SubscriberCreate, unwrap(raw, "subscriber"), where="subscriber")
    if data.endpoint is not None:
        refused = subscribers.refused_endpoint(
            data.endpoint, allow_private=settings.webhooks_allow_private
        )
        if refused is not None:
            raise Invalid(f"subscriber.endpoint: {refused}")
    created = subscribers.create_subscriber(session, page=page, data=data, actor=principal.actor)
    return subscriber_out(created.subscriber)


@router.get("/pages/{page_id}/subscribers/count", responses=_READ)
def count_subscribers(
    page_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    type: ModeFilter | None = None,
    state: StateFilter = "active",
) -> SubscriberCountByType:
    _admin_page(session, principal, page_id)
    counts = subscribers.count_by_mode(session, page_id=page_id, state=state, mode=type)
    return SubscriberCountByType.model_validate(counts)


@router.get("/pages/{page_id}/subscribers/histogram_by_state", responses=_READ)
def subscriber_histogram(
    page_id: str, session: SessionDep, principal: PrincipalDep
) -> SubscriberCountByTypeAndState:
    _admin_page(session, principal, page_id)
    histogram = subscribers.count_by_mode_and_state(session, page_id=page_id)
    return SubscriberCountByTypeAndState.model_validate(histogram)


@router.get("/pages/{page_id}/subscribers/unsubscribed", responses=_READ)
def list_unsubscribed(
    page_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    per_page: PerPage = 100,
    page: OneBasedPage = 1,
) -> list[SubscriberOut]:
    _admin_page(session, principal, page_id)
    offset, limit = _one_based(page, per_page)
    listing = SubscriberListing(state="unsubscribed", offset=offset, limit=limit)
    rows = subscribers.list_subscribers(session, page_id=page_id, listing=listing)
    return [subscriber_out(row) for row in rows]


def _bulk_body(raw: dict[str, Any]) -> BulkAction:
    return parse(BulkAction, raw, where="body")


_BULK_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": BulkAction.model_json_schema()}},
    }
}


@router.post(
    "/pages/{page_id}/subscribers/resend_confirmation",
    status_code=201,
    response_class=Response,
    responses=_EMPTY_201,
    openapi_extra=_BULK_DOC,
)
def bulk_resend_confirmation(
    page_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> Response:
    _admin_page(session, principal, page_id)
    subscribers.bulk_resend_confirmation(
        session, page_id=page_id, action=_bulk_body(raw), actor=principal.actor
    )
    return Response(status_code=201)


@router.post(
    "/pages/{page_id}/subscribers/unsubscribe",
    status_code=201,
    response_class=Response,
    responses=_EMPTY_201,
    openapi_extra=_BULK_DOC,
)
def bulk_unsubscribe(
    page_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> Response:
    _admin_page(session, principal, page_id)
    subscribers.bulk_unsubscribe(
        session, page_id=page_id, action=_bulk_body(raw), actor=principal.actor
    )
    return Response(status_code=201)


@router.post(
    "/pages/{page_id}/subscribers/reactivate",
    status_code=201,
    response_class=Response,
    responses=_EMPTY_201,
    openapi_extra=_BULK_DOC,
)
def bulk_reactivate(
    page_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> Response:
    _admin_page(session, principal, page_id)
    subscribers.bulk_reactivate(
        session, page_id=page_id, action=_bulk_body(raw), actor=principal.actor
    )
    return Response(status_code=201)


@router.get("/pages/{page_id}/subscribers/{subscriber_id}", responses=_READ)
def get_subscriber(
    page_id: str, subscriber_id: str, session: SessionDep, principal: PrincipalDep
) -> SubscriberOut:
    _admin_page(session, principal, page_id)
    return subscriber_out(
        subscribers.get_subscriber(session, page_id=page_id, subscriber_id=subscriber_id)
    )


@router.patch(
    "/pages/{page_id}/subscribers/{subscriber_id}",
    responses=_READ,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SubscriberUpdate.model_json_schema()}},
        }
    },
)
def update_subscriber(
    page_id: str, subscriber_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> SubscriberOut:
    """Set the components (top-level `component_ids`, no wrapper key, as in Statuspage)."""
    _admin_page(session, principal, page_id)
    row = subscribers.get_subscriber(session, page_id=page_id, subscriber_id=subscriber_id)
    data = parse(SubscriberUpdate, raw, where="body")
    subscribers.update_components(
        session, subscriber=row, component_ids=data.component_ids, actor=principal.actor
    )
    return subscriber_out(row)


@router.delete("/pages/{page_id}/subscribers/{subscriber_id}", responses=_READ)
def unsubscribe(
    page_id: str,
    subscriber_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    skip_unsubscription_notification: bool = False,
) -> SubscriberOut:
    """Unsubscribe (the row is kept until `purge_at`) and return the subscriber."""
    _admin_page(session, principal, page_id)
    row = subscribers.get_subscriber(session, page_id=page_id, subscriber_id=subscriber_id)
    subscribers.unsubscribe(
        session, subscriber=row, actor=principal.actor, notify=not skip_unsubscription_notification
    )
    return subscriber_out(row)


@router.post(
    "/pages/{page_id}/subscribers/{subscriber_id}/resend_confirmation",
    status_code=201,
    response_class=Response,
    responses=_EMPTY_201,
)
def resend_confirmation(
    page_id: str, subscriber_id: str, session: SessionDep, principal: PrincipalDep
) -> Response:
    _admin_page(session, principal, page_id)
    row = subscribers.get_subscriber(session, page_id=page_id, subscriber_id=subscriber_id)
    subscribers.resend_confirmation(session, subscriber=row, actor=principal.actor)
    return Response(status_code=201)


# --- incident subscribers ------------------------------------------------------------------


@router.get("/pages/{page_id}/incidents/{incident_id}/subscribers", responses=_READ)
def list_incident_subscribers(
    page_id: str,
    incident_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    per_page: PerPage = 100,
    page: OneBasedPage = 1,
) -> list[SubscriberOut]:
    _page, incident = _incident(session, principal, page_id, incident_id)
    offset, limit = _one_based(page, per_page)
    listing = SubscriberListing(state="current", offset=offset, limit=limit)
    rows = subscribers.list_subscribers(
        session, page_id=page_id, listing=listing, incident_id=incident.id
    )
    return [subscriber_out(row) for row in rows]


@router.post(
    "/pages/{page_id}/incidents/{incident_id}/subscribers",
    status_code=201,
    responses=_READ,
    openapi_extra=openapi_body(IncidentSubscriberCreate, "subscriber"),
)
def create_incident_subscriber(
    page_id: str, incident_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> SubscriberOut:
    """Subscribe an email address or phone number to one unresolved incident."""
    page, incident = _incident(session, principal, page_id, incident_id)
    given = parse(IncidentSubscriberCreate, unwrap(raw, "subscriber"), where="subscriber")
    # Without an endpoint the mode can only come out as email or sms.
    data = parse(SubscriberCreate, given.model_dump(exclude_none=True), where="subscriber")
    created = subscribers.create_subscriber(
        session, page=page, data=data, actor=principal.actor, incident=incident
    )
    return subscriber_out(created.subscriber)


@router.get("/pages/{page_id}/incidents/{incident_id}/subscribers/{subscriber_id}", responses=_READ)
def get_incident_subscriber(
    page_id: str, incident_id: str, subscriber_id: str, session: SessionDep, principal: PrincipalDep
) -> SubscriberOut:
    _page, incident = _incident(session, principal, page_id, incident_id)
    return subscriber_out(
        subscribers.get_subscriber(
            session, page_id=page_id, subscriber_id=subscriber_id, incident_id=incident.id
        )
    )


@router.delete(
    "/pages/{page_id}/incidents/{incident_id}/subscribers/{subscriber_id}", responses=_READ
)
def unsubscribe_incident_subscriber(
    page_id: str, incident_id: str, subscriber_id: str, session: SessionDep, principal: PrincipalDep
) -> SubscriberOut:
    _page, incident = _incident(session, principal, page_id, incident_id)
    row = subscribers.get_subscriber(
        session, page_id=page_id, subscriber_id=subscriber_id, incident_id=incident.id
    )
    subscribers.unsubscribe(session, subscriber=row, actor=principal.actor)
    return subscriber_out(row)


@router.post(
    "/pages/{page_id}/incidents/{incident_id}/subscribers/{subscriber_id}/resend_confirmation",
    status_code=201,
    response_class=Response,
    responses=_EMPTY_201,
)
def resend_incident_confirmation(
    page_id: str, incident_id: str, subscriber_id: str, session: SessionDep, principal: PrincipalDep
) -> Response:
    _page, incident = _incident(session, principal, page_id, incident_id)
    row = subscribers.get_subscriber(
        session, page_id=page_id, subscriber_id=subscriber_id, incident_id=incident.id
    )
    subscribers.resend_confirmation(session, subscriber=row, actor=principal.actor)
    return Response(status_code=201)
