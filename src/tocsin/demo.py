"""The "Acme Cloud" demo: a page with components, 90 days of incidents and maintenance.

Everything is written through the services with `now=` set in the past, so the
history looks as if it had been recorded live. The content is fixed data; only
the placement of the recent history depends on the `now` given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.components.schemas import ComponentCreate, GroupCreate
from tocsin.components.status import ComponentStatus
from tocsin.components.uptime import DEFAULT_DAYS
from tocsin.errors import Invalid
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import (
    IncidentCreate,
    MaintenanceCreate,
    UpdateCreate,
    WriteupPublish,
)
from tocsin.incidents.status import IncidentStatus
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.schemas import PageUpdate

_COMPONENTS_CREATED_AT = datetime(2025, 12, 1, tzinfo=UTC)

_DEGRADED = ComponentStatus.DEGRADED_PERFORMANCE
_PARTIAL = ComponentStatus.PARTIAL_OUTAGE
_MAJOR = ComponentStatus.MAJOR_OUTAGE
_IDENTIFIED = IncidentStatus.IDENTIFIED
_MONITORING = IncidentStatus.MONITORING
_RESOLVED = IncidentStatus.RESOLVED


@dataclass(frozen=True)
class _Leaf:
    name: str
    description: str
    showcase: bool = True
    only_show_if_degraded: bool = False


@dataclass(frozen=True)
class _Group:
    name: str
    description: str
    members: tuple[_Leaf, ...]


_LAYOUT: tuple[_Group | _Leaf, ...] = (
    _Group(
        "Core platform",
        "The web app and the public APIs.",
        (
            _Leaf("Website", "acme.example and the documentation."),
            _Leaf("Dashboard", "The web console at app.acme.example."),
            _Leaf("REST API", "api.acme.example/v2."),
            _Leaf("GraphQL API", "api.acme.example/graphql."),
            # Customers see the database through the APIs; a bar of its own adds noise.
            _Leaf("Database", "The managed PostgreSQL cluster behind the APIs.", showcase=False),
        ),
    ),
    _Group(
        "Payments",
        "Charging cards and telling your systems about it.",
        (
            _Leaf("Payments API", "Charges, refunds and payouts."),
            _Leaf("Webhooks", "Event delivery to your endpoints."),
            _Leaf("Billing portal", "Invoices and payment methods for your customers."),
        ),
    ),
    _Group(
        "Messaging",
        "Outbound notifications to your users.",
        (
            _Leaf("Email delivery", "Transactional email."),
            _Leaf("SMS delivery", "Text messages through our carrier partners."),
            _Leaf("Push notifications", "APNs and FCM delivery."),
        ),
    ),
    _Leaf("Authentication", "Sign-in, SSO and API keys."),
    _Leaf("CDN", "Static assets and file downloads."),
    _Leaf(
        "Legacy FTP",
        "The deprecated FTP upload endpoint.",
        only_show_if_degraded=True,
    ),
)


@dataclass(frozen=True)
class _Step:
    minutes: int
    """After the incident started."""
    status: IncidentStatus
    body: str
    components: dict[str, ComponentStatus] | None = None
    """By component name; None keeps them (and on resolving, restores them)."""


@dataclass(frozen=True)
class _Writeup:
    after: timedelta
    """After the incident started."""
    url: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class _Story:
    name: str
    components: dict[str, ComponentStatus]
    body: str
    steps: tuple[_Step, ...]
    writeup: _Writeup | None = None

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=self.steps[-1].minutes)


@dataclass(frozen=True)
class _Maintenance:
    name: str
    body: str
    components: tuple[str, ...]
    window: timedelta
    verifying_body: str = ""
    verifying_after: timedelta = timedelta(0)
    completed_after: timedelta = timedelta(0)

    @property
    def length(self) -> timedelta:
        return self.window


_Event = _Story | _Maintenance

_OUTAGE_START = datetime(2026, 3, 2, 15, 12, tzinfo=UTC)
_OUTAGE_WRITEUP_AT = datetime(2026, 3, 5, 10, 2, tzinfo=UTC)

# The example of incident-page.md, word for word and minute for minute.
_OUTAGE = _Story(
    "Payments API returning errors",
    {"Payments API": _PARTIAL, "Webhooks": _DEGRADED},
    "We are seeing elevated error rates on the Payments API.",
    (
        _Step(
            38,
            _IDENTIFIED,
            "A bad configuration push to `payments-edge` is the cause. Rolling back.",
        ),
        _Step(83, _MONITORING, "A fix has been deployed; we are watching error rates."),
        _Step(88, _RESOLVED, "Error rates are back to normal. We will publish a write-up."),
    ),
    _Writeup(
        _OUTAGE_WRITEUP_AT - _OUTAGE_START, url="https://acme.example/blog/payments-postmortem"
    ),
)

_DASHBOARD_POSTMORTEM = """\
# Dashboard fails to load

## What happened

Release `web@4.13.0` referenced a JavaScript chunk that the build had not uploaded to the CDN.
Browsers without a cached copy of the previous release got a blank page.

## Timeline (UTC)

- **03:05** Synthetic checks for the Dashboard start failing.
- **03:23** The missing chunk is identified; rollback to `web@4.12.3` begins.
- **03:46** Rollback complete; error rates back to baseline.

## What we are changing

1. The deploy pipeline now checks that every chunk in the manifest exists before switching traffic.
2. Releases go to 5% of sessions for ten minutes before the rest.
"""

_SSO_POSTMORTEM = """\
# Sign-in failures for SSO users

## Summary

For 45 minutes, users signing in through SAML single sign-on saw
`Invalid signature` errors. Password and API-key sign-in were not affected.

## Root cause

The certificate we use to sign SAML requests expired. Its renewal reminder went to a
mailbox nobody reads any more.

## Follow-up

- Certificate expiry is now a monitored metric with alerts 30, 14 and 3 days ahead.
- Renewal is automated for every certificate we control.
"""

_DATABASE_POSTMORTEM = """\
# API outage after a database failover

## Impact

From 02:40 to 04:30 UTC the REST API, the GraphQL API and the Dashboard returned errors
for most requests. No data was lost; 0.4% of writes made during the outage were rejected
and had to be retried by clients.

## Root cause

The primary database host `pg-primary-2` lost its storage volume. The automatic failover
promoted a replica within a minute, but the API connection pools kept connecting to the
old primary's address until their DNS cache expired.

## Timeline (UTC)

- **02:40** Error rates rise sharply; on-call is paged.
- **03:05** Storage failure on `pg-primary-2` confirmed; failover already complete.
- **03:38** Connection pools restarted; APIs recover to degraded performance.
- **04:30** Caches warm again; latency back to normal.

## Action items

1. Connection pools resolve the database address on every reconnect.
2. Failover drills now run monthly, in production, during business hours.
3. The status page is updated by on-call within 10 minutes of a page.
"""

_AUTH_POSTMORTEM = """\
# Authentication outage

## What happened

A schema migration on the sessions table took an exclusive lock for longer than expected.
Sign-ins queued behind it and timed out; existing sessions kept working.

## What we are changing

- Migrations on hot tables run with `lock_timeout` set and retry in small batches.
- Sign-in latency now pages on-call at 2 seconds, not 10.
"""

# Placed relative to the day of `now`: (days ago, start time in UTC, story).
_RECENT: tuple[tuple[int, time, _Event], ...] = (
    (
        86,
        time(9, 14),
        _Story(
            "Elevated latency on the REST API",
            {"REST API": _DEGRADED},
            "Some REST API requests are taking several seconds. We are investigating.",
            (
                _Step(
                    22,
                    _IDENTIFIED,
                    "A noisy neighbour on database host `db-07` is slowing queries. "
                    "We are moving the affected tenants.",
                ),
                _Step(61, _RESOLVED, "Latency is back to normal."),
            ),
        ),
    ),
    (
        79,
        time(18, 40),
        _Story(
            "SMS delivery delays in North America",
            {"SMS delivery": _PARTIAL},
            "Text messages to US and Canadian numbers are delayed by up to 30 minutes.",
            (
                _Step(
                    35,
                    _IDENTIFIED,
                    "Our upstream carrier is having an outage. We are rerouting traffic "
                    "to our secondary carrier.",
                ),
                _Step(
                    130,
                    _MONITORING,
                    "Messages are flowing through the secondary carrier. Queued messages are "
                    "being sent now.",
                ),
                _Step(185, _RESOLVED, "All queued messages have been delivered."),
            ),
        ),
    ),
    (
        71,
        time(3, 5),
        _Story(
            "Dashboard fails to load for some users",
            {"Dashboard": _PARTIAL, "Website": _DEGRADED},
            "Some users see a blank page when opening the Dashboard.",
            (
                _Step(
                    18,
                    _IDENTIFIED,
                    "Today's frontend release is missing a file. Rolling back to `web@4.12.3`.",
                ),
                _Step(
                    41,
                    _RESOLVED,
                    "The rollback is complete. If the Dashboard is still blank, reload the page.",
                ),
            ),
            _Writeup(timedelta(days=1, hours=7), body=_DASHBOARD_POSTMORTEM),
        ),
    ),
    (
        64,
        time(13, 30),
        _Story(
            "Webhook deliveries delayed",
            {"Webhooks": _DEGRADED},
            "Webhook events are arriving up to 15 minutes late. No events have been lost.",
            (
                _Step(
                    50,
                    _MONITORING,
                    "We added capacity to the delivery workers and the backlog is shrinking.",
                ),
                _Step(95, _RESOLVED, "The backlog is cleared and deliveries are on time."),
            ),
        ),
    ),
    (
        57,
        time(7, 48),
        _Story(
            "Sign-in failures for SSO users",
            {"Authentication": _MAJOR},
            "Users signing in with single sign-on see `Invalid signature` errors.",
            (
                _Step(
                    12,
                    _IDENTIFIED,
                    "Our SAML signing certificate has expired. We are rolling out a new one.",
                ),
                _Step(
                    27,
                    _MONITORING,
                    "The new certificate is live. If your identity provider pins certificates, "
                    "download the new metadata from **Settings → SSO**.",
                ),
                _Step(45, _RESOLVED, "SSO sign-ins are working again."),
            ),
            _Writeup(timedelta(days=2, hours=3), body=_SSO_POSTMORTEM),
        ),
    ),
    (
        49,
        time(21, 10),
        _Story(
            "Push notifications not delivered to iOS devices",
            {"Push notifications": _PARTIAL},
            "Push notifications to iOS devices are failing. Android is not affected.",
            (
                _Step(
                    60,
                    _IDENTIFIED,
                    "APNs is rejecting our connections after a certificate rotation. "
                    "We are reverting it.",
                ),
                _Step(
                    260,
                    _RESOLVED,
                    "iOS notifications are being delivered again. Notifications sent during "
                    "the incident were not retried.",
                ),
            ),
        ),
    ),
    (
        42,
        time(11, 2),
        _Story(
            "Increased error rates on the GraphQL API",
            {"GraphQL API": _PARTIAL},
            "About 8% of GraphQL requests are failing with `502 Bad Gateway`.",
            (
                _Step(
                    19, _RESOLVED, "A failed load balancer node was replaced. Errors have stopped."
                ),
            ),
        ),
    ),
    (
        35,
        time(16, 25),
        _Story(
            "Slow asset loading in Asia-Pacific",
            {"CDN": _DEGRADED},
            "Pages and downloads load slowly for users in Asia-Pacific.",
            (
                _Step(
                    40,
                    _IDENTIFIED,
                    "Our CDN provider has a degraded point of presence in Singapore.",
                ),
                _Step(
                    90,
                    _MONITORING,
                    "Traffic has been moved to the Tokyo and Sydney points of presence.",
                ),
                _Step(135, _RESOLVED, "The Singapore point of presence is healthy again."),
            ),
        ),
    ),
    (
        31,
        time(1, 0),
        _Maintenance(
            "Database upgrade to PostgreSQL 17",
            "We are upgrading our database cluster to PostgreSQL 17.\n\n"
            "- The REST API will be **read-only** for up to 15 minutes.\n"
            "- Webhooks are queued and delivered afterwards.",
            ("Database", "REST API"),
            timedelta(hours=2),
            "The upgrade is done. We are checking query performance before closing.",
            timedelta(minutes=70),
            timedelta(minutes=95),
        ),
    ),
    (
        27,
        time(2, 40),
        _Story(
            "REST API, GraphQL API and Dashboard unavailable",
            {"REST API": _MAJOR, "GraphQL API": _MAJOR, "Dashboard": _MAJOR},
            "Most requests to the APIs and the Dashboard are failing. We are investigating.",
            (
                _Step(
                    25,
                    _IDENTIFIED,
                    "The primary database host `pg-primary-2` failed. A replica has been "
                    "promoted and we are reconnecting the APIs to it.",
                ),
                _Step(
                    58,
                    _MONITORING,
                    "The APIs are reconnected and serving requests. Responses are slower "
                    "than usual while caches warm up.",
                    {"REST API": _DEGRADED, "GraphQL API": _DEGRADED, "Dashboard": _DEGRADED},
                ),
                _Step(
                    110,
                    _RESOLVED,
                    "Latency is back to normal. We will publish a post-mortem.",
                ),
            ),
            _Writeup(timedelta(days=3), body=_DATABASE_POSTMORTEM),
        ),
    ),
    (
        20,
        time(10, 15),
        _Story(
            "Email delivery delayed",
            {"Email delivery": _DEGRADED},
            "Transactional emails are delayed by up to 20 minutes.",
            (
                _Step(
                    45,
                    _IDENTIFIED,
                    "One of our sending IP ranges was temporarily rate-limited by a large "
                    "mailbox provider. We are shifting traffic to other ranges.",
                ),
                _Step(160, _RESOLVED, "Delivery times are back to normal."),
            ),
        ),
    ),
    (
        13,
        time(14, 55),
        _Story(
            "Billing portal unavailable",
            {"Billing portal": _MAJOR},
            "The billing portal returns an error page. Payments themselves are not affected.",
            (
                _Step(
                    15,
                    _IDENTIFIED,
                    "An expired TLS certificate on `billing.acme.example`. Renewing it now.",
                ),
                _Step(33, _RESOLVED, "The certificate is renewed and the portal is back."),
            ),
        ),
    ),
    (
        6,
        time(8, 20),
        _Story(
            "Intermittent API timeouts",
            {"REST API": _DEGRADED, "Payments API": _DEGRADED},
            "Some API requests are timing out after 30 seconds.",
            (
                _Step(
                    44,
                    _MONITORING,
                    "We restarted a stuck cache node. Timeouts have stopped; we are watching.",
                ),
                _Step(72, _RESOLVED, "No timeouts for the last half hour."),
            ),
        ),
    ),
    (
        3,
        time(19, 5),
        _Story(
            "Legacy FTP uploads failing",
            {"Legacy FTP": _MAJOR},
            "Uploads to `ftp.acme.example` are failing. Please use the REST API's "
            "[upload endpoint](https://acme.example/docs/uploads) if you can.",
            (_Step(180, _RESOLVED, "The FTP server's disk was full. Uploads work again."),),
        ),
    ),
)

# Older history, shown only where it ends before the 90-day window.
_ARCHIVE: tuple[tuple[datetime, _Story], ...] = (
    (
        datetime(2026, 3, 19, 11, 20, tzinfo=UTC),
        _Story(
            "Elevated latency on the GraphQL API",
            {"GraphQL API": _DEGRADED},
            "GraphQL queries are slower than usual.",
            (_Step(48, _RESOLVED, "An inefficient query plan was fixed. Latency is normal."),),
        ),
    ),
    (
        datetime(2026, 4, 22, 6, 45, tzinfo=UTC),
        _Story(
            "CDN cache purges delayed",
            {"CDN": _DEGRADED},
            "Cache purges are taking up to an hour to apply.",
            (
                _Step(30, _IDENTIFIED, "Our CDN provider is working through a purge backlog."),
                _Step(120, _RESOLVED, "Purges apply within seconds again."),
            ),
        ),
    ),
    (
        datetime(2026, 6, 9, 17, 5, tzinfo=UTC),
        _Story(
            "Authentication outage",
            {"Authentication": _MAJOR, "Dashboard": _PARTIAL},
            "Users cannot sign in. Existing sessions are not affected.",
            (
                _Step(20, _IDENTIFIED, "A database migration is holding a lock on sessions."),
                _Step(52, _RESOLVED, "The migration was stopped and sign-ins work again."),
            ),
            _Writeup(timedelta(days=1, hours=20), body=_AUTH_POSTMORTEM),
        ),
    ),
    (
        datetime(2026, 7, 28, 22, 30, tzinfo=UTC),
        _Story(
            "SMS delivery failures to UK numbers",
            {"SMS delivery": _PARTIAL},
            "Text messages to `+44` numbers are failing.",
            (
                _Step(90, _MONITORING, "Traffic to the UK now goes through our backup carrier."),
                _Step(300, _RESOLVED, "Our primary carrier has recovered."),
            ),
        ),
    ),
    (
        datetime(2026, 8, 18, 13, 10, tzinfo=UTC),
        _Story(
            "Webhook signature verification errors",
            {"Webhooks": _PARTIAL},
            "Some webhook deliveries carry an invalid `Acme-Signature` header.",
            (
                _Step(25, _IDENTIFIED, "A worker was signing with a rotated secret."),
                _Step(
                    65, _RESOLVED, "All workers use the current secret. Failed events were resent."
                ),
            ),
        ),
    ),
)

_UPCOMING = _Maintenance(
    "Scheduled database maintenance",
    "We are moving our database cluster to new hardware.\n\n"
    "- The REST API may return `503` for up to **5 minutes** during the switch-over.\n"
    "- No data will be lost; retry failed requests.",
    ("Database", "REST API"),
    timedelta(hours=2),
)
_UPCOMING_IN = timedelta(days=4, hours=2)
"""From the start of `now`'s day (UTC)."""


def load_demo(session: Session, *, page: Page, now: datetime, actor: Actor) -> None:
    """Fill `page` with the Acme Cloud demo, as it would look at `now`.

    Writes the page settings, a dozen components in groups, resolved incidents over the
    90 days before `now` plus the payments outage of incident-page.md, one completed and
    one upcoming maintenance. Every component ends operational. Flushes, never commits.
    Raises Invalid if `now` is before that outage's write-up was published.
    """
    if now < _OUTAGE_WRITEUP_AT:
        raise Invalid(f"the demo needs a time after {_OUTAGE_WRITEUP_AT.isoformat()}")
    pages.update_page(
        session,
        page=page,
        data=PageUpdate(name="Acme Cloud", time_zone="Etc/UTC", accent_color="#4f46e5"),
        actor=actor,
    )
    ids = _create_components(session, page, actor)
    for start, event in _timeline(now):
        if isinstance(event, _Story):
            _tell(session, page, actor, ids, start, event)
        else:
            _carry_out(session, page, actor, ids, start, event)
    day = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    _schedule(session, page, actor, ids, day + _UPCOMING_IN, _UPCOMING, announced_at=now)


def _create_components(session: Session, page: Page, actor: Actor) -> dict[str, str]:
    """Create the layout; return component ids by name."""
    ids: dict[str, str] = {}
    for item in _LAYOUT:
        if isinstance(item, _Leaf):
            ids[item.name] = _create_leaf(session, page, actor, item, None)
            continue
        group = components.create_group(
            session,
            page=page,
            data=GroupCreate(name=item.name, description=item.description),
            actor=actor,
            now=_COMPONENTS_CREATED_AT,
        )
        for leaf in item.members:
            ids[leaf.name] = _create_leaf(session, page, actor, leaf, group.id)
    return ids


def _create_leaf(
    session: Session, page: Page, actor: Actor, leaf: _Leaf, group_id: str | None
) -> str:
    data = ComponentCreate(
        name=leaf.name,
        description=leaf.description,
        group_id=group_id,
        showcase=leaf.showcase,
        only_show_if_degraded=leaf.only_show_if_degraded,
    )
    component = components.create_component(
        session, page=page, data=data, actor=actor, now=_COMPONENTS_CREATED_AT
    )
    return component.id


def _timeline(now: datetime) -> list[tuple[datetime, _Event]]:
    """Every past event to write, oldest first, none overlapping another in time.

    Writing them in order keeps each status change's `previous_status` true, and
    without overlaps every incident's "Resolved" restores all it degraded.
    """
    window_start = now - timedelta(days=DEFAULT_DAYS)
    fixed: list[tuple[datetime, _Event]] = [(_OUTAGE_START, _OUTAGE)]
    fixed += [(s, story) for s, story in _ARCHIVE if s + story.length < window_start]
    today = now.astimezone(UTC).date()
    recent: list[tuple[datetime, _Event]] = [
        (datetime.combine(today - timedelta(days=days), at, UTC), event)
        for days, at, event in _RECENT
    ]
    # With `now` soon after the fixed outage, the recent history could collide with it.
    recent = [r for r in recent if not any(_overlaps(r, f) for f in fixed)]
    return sorted([*fixed, *recent], key=lambda item: item[0])


def _overlaps(a: tuple[datetime, _Event], b: tuple[datetime, _Event]) -> bool:
    return a[0] < b[0] + b[1].length and b[0] < a[0] + a[1].length


def _named(ids: dict[str, str], statuses: dict[str, ComponentStatus]) -> dict[str, ComponentStatus]:
    return {ids[name]: status for name, status in statuses.items()}


def _tell(
    session: Session,
    page: Page,
    actor: Actor,
    ids: dict[str, str],
    start: datetime,
    story: _Story,
) -> None:
    # Past events: no subscriber should be told about them, now or when a worker starts.
    data = IncidentCreate(
        name=story.name,
        body=story.body,
        components=_named(ids, story.components),
        deliver_notifications=False,
    )
    incident = incidents.create_incident(session, page=page, data=data, actor=actor, now=start)
    for step in story.steps:
        update = UpdateCreate(
            status=step.status,
            body=step.body,
            components=None if step.components is None else _named(ids, step.components),
            deliver_notifications=False,
        )
        at = start + timedelta(minutes=step.minutes)
        incidents.post_update(session, incident=incident, data=update, actor=actor, now=at)
    if story.writeup is not None:
        _publish(session, incident, actor, start + story.writeup.after, story.writeup)


def _publish(
    session: Session, incident: Incident, actor: Actor, at: datetime, writeup: _Writeup
) -> None:
    data = WriteupPublish(url=writeup.url, body=writeup.body, published_at=at)
    incidents.publish_writeup(session, incident=incident, data=data, actor=actor, now=at)


def _schedule(
    session: Session,
    page: Page,
    actor: Actor,
    ids: dict[str, str],
    start: datetime,
    maintenance: _Maintenance,
    *,
    announced_at: datetime,
) -> Incident:
    data = MaintenanceCreate(
        name=maintenance.name,
        body=maintenance.body,
        scheduled_for=start,
        scheduled_until=start + maintenance.window,
        component_ids=[ids[name] for name in maintenance.components],
        deliver_notifications=False,
    )
    return incidents.schedule_maintenance(
        session, page=page, data=data, actor=actor, now=announced_at
    )


def _carry_out(
    session: Session,
    page: Page,
    actor: Actor,
    ids: dict[str, str],
    start: datetime,
    maintenance: _Maintenance,
) -> None:
    """Announce a past maintenance a week ahead, then run it through to completion."""
    row = _schedule(
        session, page, actor, ids, start, maintenance, announced_at=start - timedelta(days=7)
    )
    incidents.start_maintenance(session, maintenance=row, actor=actor, now=start)
    verifying = UpdateCreate(
        status=IncidentStatus.VERIFYING,
        body=maintenance.verifying_body,
        deliver_notifications=False,
    )
    incidents.post_update(
        session, incident=row, data=verifying, actor=actor, now=start + maintenance.verifying_after
    )
    incidents.complete_maintenance(
        session, maintenance=row, actor=actor, now=start + maintenance.completed_after
    )
