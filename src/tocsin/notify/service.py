"""Subscribers: who hears about a page, and the query that finds them when something happens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased, selectinload

from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.db import utcnow
from tocsin.errors import Invalid, NotFound
from tocsin.incidents.models import Incident
from tocsin.incidents.status import CLOSED_STATUSES
from tocsin.lib import netpolicy
from tocsin.notify.models import Subscriber, SubscriberComponent, SubscriberMode, SubscriberState
from tocsin.notify.schemas import (
    BulkAction,
    ModeFilter,
    StateFilter,
    SubscriberCreate,
    SubscriberListing,
)
from tocsin.pages.models import Page

# Personal data of people who left (or whose address keeps failing) is kept this long,
# so a mistaken unsubscribe can be looked into, then purged.
PURGE_AFTER = timedelta(days=30)
STREAM_BATCH = 1000

COUNTED_MODES = ("email", "sms", "webhook", "integration_partner", "slack", "teams", "discord")


@dataclass(frozen=True)
class NewSubscriber:
    subscriber: Subscriber
    token: str | None
    """The subscriber's own token, shown this once. None when the address was already
    subscribed: handing out the existing subscription's token would let anyone who knows
    an address manage it (security.md D.22)."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def subscription_key(
    *, page_id: str, incident_id: str | None, mode: SubscriberMode, address: str
) -> str:
    """One key per destination and scope, so the database refuses duplicates."""
    parts = (page_id, incident_id or "", mode.value, address)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def create_subscriber(
    session: Session,
    *,
    page: Page,
    data: SubscriberCreate,
    actor: Actor,
    incident: Incident | None = None,
    now: datetime | None = None,
) -> NewSubscriber:
    """Subscribe an address, or return the live subscription it already has, unchanged.

    An address that unsubscribed before gets its row back as a new subscription.
    `skip_confirmation_notification` confirms at once; otherwise a confirmation is requested.
    """
    if incident is not None and incident.status in CLOSED_STATUSES:
        raise Invalid("the incident must be unresolved to subscribe to it")
    component_ids = _check_components(session, page.id, data.component_ids)
    mode = SubscriberMode(data.mode)
    key = subscription_key(
        page_id=page.id,
        incident_id=incident.id if incident else None,
        mode=mode,
        address=_address_of(data),
    )
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.subscription_key == key)
    ).first()
    if subscriber is not None and subscriber.unsubscribed_at is None:
        return NewSubscriber(subscriber=subscriber, token=None)
    if subscriber is None:
        # A concurrent insert of the same key fails on the unique constraint and that
        # request rolls back; no duplicate can be written.
        subscriber = Subscriber(
            page_id=page.id, incident_id=incident.id if incident else None, subscription_key=key
        )
        session.add(subscriber)
    token = secrets.token_urlsafe(32)
    _start(subscriber, data, mode=mode, token=token, at=now or utcnow())
    _set_components(subscriber, component_ids)
    session.flush()
    _audit(session, actor, "subscriber.create", subscriber, {"mode": mode.value})
    return NewSubscriber(subscriber=subscriber, token=token)


def _address_of(data: SubscriberCreate) -> str:
    if data.mode == "sms":
        return data.phone_number or ""
    if data.mode == "email":
        return data.email or ""
    return data.endpoint or ""


def _start(
    subscriber: Subscriber,
    data: SubscriberCreate,
    *,
    mode: SubscriberMode,
    token: str,
    at: datetime,
) -> None:
    skip = data.skip_confirmation_notification
    subscriber.mode = mode
    subscriber.email = data.email
    subscriber.endpoint = data.endpoint
    subscriber.phone_number = data.phone_number
    subscriber.phone_country = data.phone_country
    subscriber.token_hash = digest(token)
    subscriber.skip_confirmation = skip
    subscriber.confirmed_at = at if skip else None
    subscriber.confirmation_requested_at = None if skip else at
    subscriber.quarantined_at = subscriber.unsubscribed_at = subscriber.purge_at = None
    subscriber.failure_count = 0
    subscriber.disabled_reason = None
    subscriber.created_at = subscriber.updated_at = at


def refused_endpoint(endpoint: str, *, allow_private: bool) -> str | None:
    """Why deliveries to this endpoint would be refused ("10.0.0.5 is a private address"),
    or None. Only a literal address or a loopback name can be judged here; a name's
    addresses are checked when sending, on every connection."""
    host = (urlsplit(endpoint).hostname or "").rstrip(".")
    reason = netpolicy.refused_host(host, allow_private=allow_private)
    return None if reason is None else f"{host} is {reason}"


def _check_components(session: Session, page_id: str, ids: list[str] | None) -> list[str] | None:
    """The ids, deduplicated, if each is a component or group of the page; None stays None."""
    if ids is None:
        return None
    wanted = list(dict.fromkeys(ids))
    known = {c.id for c in components.list_components(session, page_id)}
    missing = [i for i in wanted if i not in known]
    if missing:
        raise NotFound(f"component {missing[0]} not found")
    return wanted


def _set_components(subscriber: Subscriber, component_ids: list[str] | None) -> None:
    subscriber.all_components = component_ids is None
    subscriber.components = [SubscriberComponent(component_id=i) for i in component_ids or []]


def get_subscriber(
    session: Session, *, page_id: str, subscriber_id: str, incident_id: str | None = None
) -> Subscriber:
    """A page subscriber, or with `incident_id` one of that incident's subscribers."""
    # Ids are alphanumeric, so anything else cannot exist (and PostgreSQL refuses NUL).
    subscriber = session.get(Subscriber, subscriber_id) if subscriber_id.isalnum() else None
    if subscriber is None or subscriber.page_id != page_id or subscriber.incident_id != incident_id:
        raise NotFound(f"subscriber {subscriber_id} not found")
    return subscriber


def update_components(
    session: Session, *, subscriber: Subscriber, component_ids: list[str] | None, actor: Actor
) -> Subscriber:
    """Subscribe to exactly these components and groups; None means the whole page."""
    if subscriber.incident_id is not None:
        raise Invalid("an incident subscriber follows one incident, not components")
    checked = _check_components(session, subscriber.page_id, component_ids)
    _set_components(subscriber, checked)
    subscriber.updated_at = utcnow()
    session.flush()
    _audit(session, actor, "subscriber.update", subscriber, {"component_ids": checked})
    return subscriber


def unsubscribe(
    session: Session,
    *,
    subscriber: Subscriber,
    actor: Actor,
    notify: bool = True,
    now: datetime | None = None,
) -> Subscriber:
    """Stop notifying; the row stays until `purge_at`. `notify` records whether the person
    should be told (the sending comes with deliveries)."""
    if subscriber.unsubscribed_at is None:
        at = now or utcnow()
        subscriber.unsubscribed_at = at
        subscriber.purge_at = at + PURGE_AFTER
        session.flush()
        _audit(session, actor, "subscriber.unsubscribe", subscriber, {"notify": notify})
    return subscriber


def quarantine(
    session: Session, *, subscriber: Subscriber, reason: str, now: datetime | None = None
) -> Subscriber:
    """Stop sending to an address that keeps failing, until an admin reactivates it."""
    at = now or utcnow()
    subscriber.quarantined_at = at
    subscriber.purge_at = at + PURGE_AFTER
    subscriber.disabled_reason = reason[:255]
    session.flush()
    return subscriber


def resend_confirmation(
    session: Session, *, subscriber: Subscriber, actor: Actor, now: datetime | None = None
) -> None:
    """Ask for another confirmation message; only an unconfirmed subscriber can have one."""
    if subscriber.state is not SubscriberState.UNCONFIRMED:
        raise Invalid(f"the subscriber is {subscriber.state.value}, not unconfirmed")
    subscriber.confirmation_requested_at = now or utcnow()
    session.flush()
    _audit(session, actor, "subscriber.resend_confirmation", subscriber, {})


def confirm(
    session: Session, *, subscriber: Subscriber, actor: Actor, now: datetime | None = None
) -> Subscriber:
    """Record the double opt-in; confirming again changes nothing. Someone who has
    unsubscribed since must subscribe again: an old confirmation link cannot undo that."""
    if subscriber.unsubscribed_at is not None:
        raise Invalid("the subscription has ended")
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = now or utcnow()
        session.flush()
        _audit(session, actor, "subscriber.confirm", subscriber, {})
    return subscriber


def find_subscriber(session: Session, subscriber_id: str) -> Subscriber | None:
    """Any subscriber (page or incident) by id, for links that carry their own proof."""
    return session.get(Subscriber, subscriber_id) if subscriber_id.isalnum() else None


def _audit(
    session: Session, actor: Actor, action: str, subscriber: Subscriber, changes: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        page_id=subscriber.page_id,
        object_type="subscriber",
        object_id=subscriber.id,
        changes=changes,
    )


# --- listing and counting -----------------------------------------------------------------

_ADDRESS = case(
    (Subscriber.mode == SubscriberMode.SMS, Subscriber.phone_number),
    (Subscriber.mode == SubscriberMode.EMAIL, Subscriber.email),
    else_=Subscriber.endpoint,
)
_LIVE = and_(Subscriber.quarantined_at.is_(None), Subscriber.unsubscribed_at.is_(None))
_STATES: dict[str, ColumnElement[bool]] = {
    "active": and_(_LIVE, Subscriber.confirmed_at.is_not(None)),
    "unconfirmed": and_(_LIVE, Subscriber.confirmed_at.is_(None)),
    "quarantined": and_(
        Subscriber.quarantined_at.is_not(None), Subscriber.unsubscribed_at.is_(None)
    ),
    "unsubscribed": Subscriber.unsubscribed_at.is_not(None),
    "all": Subscriber.unsubscribed_at.is_(None),
    "current": _LIVE,
}


def _in_scope(page_id: str, incident_id: str | None) -> ColumnElement[bool]:
    incident = (
        Subscriber.incident_id.is_(None)
        if incident_id is None
        else Subscriber.incident_id == incident_id
    )
    return and_(Subscriber.page_id == page_id, incident)


def _mode_is(mode: ModeFilter) -> ColumnElement[bool]:
    if mode == "integration_partner":
        return false()
    return Subscriber.mode == SubscriberMode(mode)


def address_contains(q: str) -> ColumnElement[bool]:
    """Subscribers whose email, endpoint or phone number contains `q`, ignoring case."""
    needle = q.strip().lower()
    columns = (Subscriber.email, Subscriber.endpoint, Subscriber.phone_number)
    return or_(*(func.lower(c).contains(needle, autoescape=True) for c in columns))


def _order(listing: SubscriberListing) -> list[Any]:
    if listing.sort_field == "created_at":
        keys: list[Any] = [Subscriber.created_at]
    elif listing.sort_field == "quarantined_at":
        keys = [Subscriber.quarantined_at]
    elif listing.sort_field == "relevance" and listing.q:
        needle = listing.q.strip().lower()
        address = func.lower(_ADDRESS)
        rank = case(
            (address == needle, 0), (address.startswith(needle, autoescape=True), 1), else_=2
        )
        keys = [rank, _ADDRESS]
    else:
        keys = [_ADDRESS]
    keys.append(Subscriber.id)
    if listing.sort_direction == "desc":
        return [key.desc().nulls_last() for key in keys]
    return [key.asc().nulls_last() for key in keys]


def list_subscribers(
    session: Session, *, page_id: str, listing: SubscriberListing, incident_id: str | None = None
) -> list[Subscriber]:
    """Page subscribers (or one incident's) matching the listing, one page of them."""
    query = select(Subscriber).where(_in_scope(page_id, incident_id), _STATES[listing.state])
    if listing.mode is not None:
        query = query.where(_mode_is(listing.mode))
    if listing.q:
        query = query.where(address_contains(listing.q))
    query = (
        query.order_by(*_order(listing))
        .offset(listing.offset)
        .limit(listing.limit)
        .options(selectinload(Subscriber.components))
    )
    return list(session.scalars(query))


def count_by_mode(
    session: Session, *, page_id: str, state: StateFilter = "active", mode: ModeFilter | None = None
) -> dict[str, int]:
    """Page subscribers per mode, every mode present (0 when none)."""
    query = (
        select(Subscriber.mode, func.count())
        .where(_in_scope(page_id, None), _STATES[state])
        .group_by(Subscriber.mode)
    )
    if mode is not None:
        query = query.where(_mode_is(mode))
    counts = dict.fromkeys(COUNTED_MODES, 0)
    counts.update({row_mode.value: n for row_mode, n in session.execute(query)})
    return counts


def count_by_mode_and_state(session: Session, *, page_id: str) -> dict[str, dict[str, int]]:
    """Per mode: active, unconfirmed, quarantined and their total (unsubscribed are gone)."""
    states = ("active", "unconfirmed", "quarantined")
    query = (
        select(
            Subscriber.mode,
            *(func.coalesce(func.sum(case((_STATES[s], 1), else_=0)), 0) for s in states),
        )
        .where(_in_scope(page_id, None), _STATES["all"])
        .group_by(Subscriber.mode)
    )
    histogram = {mode: dict.fromkeys((*states, "total"), 0) for mode in COUNTED_MODES}
    for row_mode, *numbers in session.execute(query):
        row = histogram[row_mode.value]
        row.update(zip(states, map(int, numbers), strict=True))
        row["total"] = sum(row[s] for s in states)
    return histogram


# --- bulk actions --------------------------------------------------------------------------


def bulk_unsubscribe(
    session: Session, *, page_id: str, action: BulkAction, actor: Actor, now: datetime | None = None
) -> int:
    """Unsubscribe the selected page subscribers; return how many changed."""
    at = now or utcnow()
    return _bulk(
        session,
        page_id=page_id,
        action=action,
        actor=actor,
        name="unsubscribe",
        eligible=_STATES["all"],
        values={"unsubscribed_at": at, "purge_at": at + PURGE_AFTER},
    )


def bulk_reactivate(session: Session, *, page_id: str, action: BulkAction, actor: Actor) -> int:
    """Lift the quarantine of the selected subscribers. Unsubscribed people stay unsubscribed:
    only they can undo that, by subscribing again."""
    return _bulk(
        session,
        page_id=page_id,
        action=action,
        actor=actor,
        name="reactivate",
        eligible=_STATES["quarantined"],
        values={
            "quarantined_at": None,
            "purge_at": None,
            "failure_count": 0,
            "disabled_reason": None,
        },
    )


def bulk_resend_confirmation(
    session: Session, *, page_id: str, action: BulkAction, actor: Actor, now: datetime | None = None
) -> int:
    """Ask for another confirmation message to each selected unconfirmed subscriber."""
    return _bulk(
        session,
        page_id=page_id,
        action=action,
        actor=actor,
        name="resend_confirmation",
        eligible=_STATES["unconfirmed"],
        values={"confirmation_requested_at": now or utcnow()},
    )


def _bulk(
    session: Session,
    *,
    page_id: str,
    action: BulkAction,
    actor: Actor,
    name: str,
    eligible: ColumnElement[bool],
    values: dict[str, Any],
) -> int:
    selected = _selection(session, page_id, action)
    # One UPDATE however many rows "all" means; loaded objects are expired, not synchronised.
    statement = (
        update(Subscriber)
        .where(selected, eligible)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    changed = cast(CursorResult[Any], session.execute(statement)).rowcount
    session.expire_all()
    audit.record(
        session,
        actor=actor,
        action=f"subscriber.bulk_{name}",
        page_id=page_id,
        object_type="subscriber",
        object_id=None,
        changes={**action.model_dump(mode="json", exclude_unset=True), "changed": changed},
    )
    return changed


def _selection(session: Session, page_id: str, action: BulkAction) -> ColumnElement[bool]:
    clauses = [_in_scope(page_id, None)]
    if action.subscribers != "all":
        ids = set(action.subscribers)
        found = set(
            session.scalars(select(Subscriber.id).where(clauses[0], Subscriber.id.in_(ids)))
        )
        missing = sorted(ids - found)
        if missing:
            raise NotFound(f"subscriber {missing[0]} not found")
        clauses.append(Subscriber.id.in_(ids))
    if action.type is not None:
        clauses.append(_mode_is(action.type))
    if action.state is not None:
        clauses.append(_STATES[action.state])
    return and_(*clauses)


# --- who to notify -------------------------------------------------------------------------


def subscribers_query(
    *, page_id: str, covering_ids: Iterable[str] | None, incident_id: str | None = None
) -> Select[Subscriber]:
    """Active subscribers of the page whose subscription covers any of `covering_ids`.

    `covering_ids` must already include the groups of the components concerned (see
    `subscribers_for`); None means the event concerns the whole page, so every page
    subscriber hears of it. With `incident_id`, that incident's subscribers are added.
    One statement, so a caller may also feed it to INSERT … SELECT.
    """
    audience = _page_audience(Subscriber, page_id, covering_ids)
    if incident_id is not None:
        # Someone subscribed both to the page and to this incident hears of it once,
        # through the page subscription, when that one covers the event too.
        page_twin = aliased(Subscriber)
        covered_by_page = exists().where(
            _page_audience(page_twin, page_id, covering_ids),
            page_twin.mode == Subscriber.mode,
            func.coalesce(page_twin.email, page_twin.endpoint, page_twin.phone_number)
            == func.coalesce(Subscriber.email, Subscriber.endpoint, Subscriber.phone_number),
        )
        audience = or_(audience, and_(_in_scope(page_id, incident_id), ~covered_by_page))
    return select(Subscriber).where(audience, _STATES["active"]).order_by(Subscriber.id)


def _page_audience(
    sub: type[Subscriber], page_id: str, covering_ids: Iterable[str] | None
) -> ColumnElement[bool]:
    """Active page-wide subscribers (of the entity `sub`, which may be an alias) whose
    components cover the event; `covering_ids` None means the whole page."""
    audience = and_(
        sub.page_id == page_id,
        sub.incident_id.is_(None),
        sub.quarantined_at.is_(None),
        sub.unsubscribed_at.is_(None),
        sub.confirmed_at.is_not(None),
    )
    if covering_ids is not None:
        chosen = exists().where(
            SubscriberComponent.subscriber_id == sub.id,
            SubscriberComponent.component_id.in_(list(covering_ids)),
        )
        audience = and_(audience, or_(sub.all_components, chosen))
    return audience


def subscribers_for(
    session: Session,
    *,
    page_id: str,
    component_ids: Iterable[str],
    incident_id: str | None = None,
) -> Iterator[Subscriber]:
    """Stream the active subscribers to notify about a change to these components.

    A subscription covers a component if it is page-wide, names the component, or names
    the component's group. No components means a page-wide event: everyone hears of it.
    Someone subscribed both to the page and to the incident appears twice.
    """
    query = subscribers_query(
        page_id=page_id,
        covering_ids=covering_ids(session, page_id, component_ids),
        incident_id=incident_id,
    )
    yield from session.scalars(query.execution_options(yield_per=STREAM_BATCH))


def covering_ids(session: Session, page_id: str, component_ids: Iterable[str]) -> set[str] | None:
    wanted = set(component_ids)
    if not wanted:
        return None
    groups = {
        c.group_id
        for c in components.list_components(session, page_id)
        if c.id in wanted and c.group_id is not None
    }
    return wanted | groups


def count_subscribers_for(
    session: Session, *, page_id: str, component_ids: Iterable[str], incident_id: str | None = None
) -> int:
    """How many subscribers a notification about these components would reach, counted as
    `outbox.notify_update` fans out (each subscriber once)."""
    query = subscribers_query(
        page_id=page_id,
        covering_ids=covering_ids(session, page_id, component_ids),
        incident_id=incident_id,
    )
    reached = query.with_only_columns(Subscriber.id).order_by(None).distinct().subquery()
    return session.scalar(select(func.count()).select_from(reached)) or 0
