from __future__ import annotations

import ipaddress
import random
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, selectinload

from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.db import utcnow
from tocsin.errors import Invalid, NotFound
from tocsin.incidents import templates
from tocsin.lib.netpolicy import IPAddress, Policy
from tocsin.monitors import automation, rules
from tocsin.monitors.models import (
    CheckResult,
    Monitor,
    MonitorComponent,
    MonitorKind,
    MonitorState,
)
from tocsin.monitors.probes import ProbeConfigError, ProbeResult, validate_config
from tocsin.monitors.probes.base import split_host_port
from tocsin.monitors.schemas import MonitorCreate, MonitorUpdate
from tocsin.pages.models import Page

# A heartbeat's interval is how often it expects a ping (perhaps daily); judging it only that
# often would find a missed ping a day late, so it is judged at least this often.
HEARTBEAT_EVERY = timedelta(seconds=60)
# Longer than any timeout: a claim older than this belongs to a worker that died.
CLAIM_LEASE = timedelta(seconds=150)
# Pings closer together than this are acknowledged but not written: a cheap limit on how
# much database work one token can cause.
PING_SPACING = timedelta(seconds=1)
ERROR_MAX = 500
# Probe configs may carry credentials (an Authorization header); the audit log never does.
_SECRET = {"config"}


def list_monitors(session: Session, *, page_id: str) -> list[Monitor]:
    query = (
        select(Monitor)
        .where(Monitor.page_id == page_id)
        .options(selectinload(Monitor.components))
        .order_by(Monitor.name, Monitor.id)
    )
    return list(session.scalars(query))


def get_monitor(session: Session, *, page_id: str, monitor_id: str) -> Monitor:
    monitor = session.get(Monitor, monitor_id)
    if monitor is None or monitor.page_id != page_id:
        raise NotFound(f"monitor {monitor_id} not found")
    return monitor


def create_monitor(
    session: Session,
    *,
    page: Page,
    data: MonitorCreate,
    actor: Actor,
    allow_private: bool,
    now: datetime | None = None,
) -> Monitor:
    """Save a monitor; Invalid if its target, config, components or template are not usable.

    The first check is spread over the first interval (at most a minute), so monitors
    created together do not all run in the same second.
    """
    at = now or utcnow()
    target = _checked(session, page.id, data, allow_private)
    spread = random.uniform(0, min(data.interval_seconds, 60))  # noqa: S311 - not a secret
    monitor = Monitor(
        page_id=page.id,
        created_at=at,
        updated_at=at,
        next_run_at=at + timedelta(seconds=spread),
        heartbeat_token=_token() if data.kind is MonitorKind.HEARTBEAT else None,
        **_columns(data, target),
    )
    monitor.components = _links(data.component_ids)
    session.add(monitor)
    session.flush()
    _audit(session, actor, "monitor.create", monitor, data.model_dump(mode="json", exclude=_SECRET))
    return monitor


def update_monitor(
    session: Session,
    *,
    monitor: Monitor,
    data: MonitorUpdate,
    actor: Actor,
    allow_private: bool,
    now: datetime | None = None,
) -> Monitor:
    at = now or utcnow()
    changes = data.model_dump(exclude_unset=True)
    merged = _merged(monitor, changes)
    target = _checked(session, monitor.page_id, merged, allow_private)
    was_paused = monitor.paused
    for key, value in _columns(merged, target).items():
        setattr(monitor, key, value)
    if "component_ids" in changes:
        monitor.components = _links(merged.component_ids)
    if merged.kind is MonitorKind.HEARTBEAT and monitor.heartbeat_token is None:
        monitor.heartbeat_token = _token()
    soonest = at + timedelta(seconds=monitor.interval_seconds)
    monitor.next_run_at = (
        at if was_paused and not monitor.paused else min(monitor.next_run_at, soonest)
    )
    monitor.updated_at = at
    session.flush()
    audited = data.model_dump(mode="json", exclude_unset=True, exclude=_SECRET)
    _audit(session, actor, "monitor.update", monitor, audited)
    return monitor


def delete_monitor(
    session: Session, *, monitor: Monitor, actor: Actor, now: datetime | None = None
) -> None:
    """Delete the monitor, first giving back the components it holds down."""
    automation.release(session, monitor=monitor, at=now or utcnow())
    _audit(session, actor, "monitor.delete", monitor, {"name": monitor.name})
    session.delete(monitor)
    session.flush()


def run_now(
    session: Session, *, monitor: Monitor, actor: Actor, now: datetime | None = None
) -> None:
    """Make the monitor due now; a worker runs it within about a second."""
    monitor.next_run_at = now or utcnow()
    _audit(session, actor, "monitor.run", monitor, {})


def recent_results(session: Session, *, monitor: Monitor, limit: int = 100) -> list[CheckResult]:
    query = (
        select(CheckResult)
        .where(CheckResult.monitor_id == monitor.id)
        .order_by(CheckResult.checked_at.desc(), CheckResult.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def record_ping(session: Session, *, token: str, now: datetime | None = None) -> bool:
    """Note a heartbeat ping; return False if no heartbeat monitor has this token.

    One conditional UPDATE: pings closer than PING_SPACING are not written again.
    A monitor that is down is made due at once, so recovery does not wait for its turn.
    """
    at = now or utcnow()
    statement = (
        update(Monitor)
        .where(
            Monitor.heartbeat_token == token,
            or_(Monitor.last_ping_at.is_(None), Monitor.last_ping_at <= at - PING_SPACING),
        )
        .values(last_ping_at=at)
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    if result.rowcount:
        session.execute(
            update(Monitor)
            .where(Monitor.heartbeat_token == token, Monitor.state == MonitorState.DOWN)
            .values(next_run_at=at)
            .execution_options(synchronize_session=False)
        )
        return True
    known = select(Monitor.id).where(Monitor.heartbeat_token == token)
    return session.scalar(known) is not None


def ping_path(monitor: Monitor) -> str | None:
    return f"/ping/{monitor.heartbeat_token}" if monitor.heartbeat_token else None


# --- results: the one entry point for probes, heartbeats and alerts ------------------------


def observe(
    session: Session,
    *,
    monitor: Monitor,
    result: ProbeResult,
    checked_at: datetime,
    scheduled_at: datetime | None = None,
) -> rules.Step:
    """Record one outcome, apply the monitor's rules and, on a move, its automation.

    Alert ingestion calls this with a synthetic ProbeResult (ok=False while an alert fires).
    """
    error = result.error[:ERROR_MAX] if result.error else None
    session.add(
        CheckResult(
            monitor_id=monitor.id,
            scheduled_at=scheduled_at or checked_at,
            checked_at=checked_at,
            ok=result.ok,
            latency_ms=result.latency_ms,
            error=error,
            details=result.details,
        )
    )
    rule = rules.Rule(monitor.failure_threshold, monitor.window, monitor.recovery_threshold)
    was = monitor.state
    step = rules.step(was, monitor.history, result.ok, rule)
    monitor.history = step.history
    monitor.state = step.state
    if step.changed:
        monitor.state_changed_at = checked_at
    monitor.last_checked_at = checked_at
    monitor.last_ok = result.ok
    monitor.last_error = error
    monitor.last_latency_ms = result.latency_ms
    automation.react(session, monitor=monitor, was=was, ok=result.ok, error=error, at=checked_at)
    return step


# --- the scheduler's side: claim due monitors, record their outcomes ------------------------


@dataclass(frozen=True)
class Due:
    """A claimed check: everything needed to run it without the database."""

    id: str
    kind: MonitorKind
    target: str
    config: dict[str, Any]
    timeout: float
    interval: int
    scheduled_at: datetime
    last_ping_at: datetime | None
    since: datetime


@dataclass(frozen=True)
class Outcome:
    due: Due
    result: ProbeResult
    started_at: datetime

    @property
    def lateness(self) -> float:
        """Seconds between when the check was due and when it started."""
        return (self.started_at - self.due.scheduled_at).total_seconds()


def claim_due(
    session: Session,
    *,
    worker_id: str,
    limit: int,
    now: datetime,
    ids: Sequence[str] | None = None,
) -> list[Due]:
    """Claim up to `limit` due monitors (or, given `ids`, those monitors whether due or not)
    and move each one's next run an interval on; the caller commits before probing.

    On PostgreSQL, SKIP LOCKED lets several workers claim at once; a monitor whose claim is
    still live is never claimed twice.
    """
    wanted = select(Monitor.id).where(
        Monitor.kind != MonitorKind.ALERT,
        or_(Monitor.claimed_until.is_(None), Monitor.claimed_until < now),
    )
    if ids is None:
        wanted = wanted.where(Monitor.paused.is_(False), Monitor.next_run_at <= now)
    else:
        wanted = wanted.where(Monitor.id.in_(list(ids)))
    wanted = wanted.order_by(Monitor.next_run_at).limit(limit).with_for_update(skip_locked=True)
    statement = (
        update(Monitor)
        .where(Monitor.id.in_(wanted.scalar_subquery()))
        .values(claimed_by=worker_id, claimed_until=now + CLAIM_LEASE)
        .returning(
            Monitor.id,
            Monitor.kind,
            Monitor.target,
            Monitor.config,
            Monitor.timeout_seconds,
            Monitor.interval_seconds,
            Monitor.next_run_at,
            Monitor.last_ping_at,
            Monitor.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = [Due(*row) for row in session.execute(statement)]
    if claimed:
        moves = [{"id": d.id, "next_run_at": next_run(d, now)} for d in claimed]
        session.execute(update(Monitor), moves)
    return claimed


def next_run(due: Due, now: datetime) -> datetime:
    """Keep to the schedule (no drift) with a little jitter; after a gap, start afresh."""
    every = timedelta(seconds=due.interval)
    if due.kind is MonitorKind.HEARTBEAT:
        every = min(every, HEARTBEAT_EVERY)
    jitter = random.uniform(0, min(1.0, every.total_seconds() * 0.02))  # noqa: S311
    following = due.scheduled_at + every
    if following <= now:
        following = now + every
    return following + timedelta(seconds=jitter)


def record_outcomes(session: Session, outcomes: Sequence[Outcome], *, worker_id: str) -> int:
    """Record outcomes and apply rules and automation, in the caller's transaction; release
    the claims. Return how many monitors moved up or down."""
    by_id = {
        m.id: m
        for m in session.scalars(
            select(Monitor).where(Monitor.id.in_([o.due.id for o in outcomes]))
        )
    }
    moved = 0
    for outcome in outcomes:
        monitor = by_id.get(outcome.due.id)
        if monitor is None:
            continue  # deleted while its check ran
        step = observe(
            session,
            monitor=monitor,
            result=outcome.result,
            checked_at=outcome.started_at,
            scheduled_at=outcome.due.scheduled_at,
        )
        moved += step.changed
        if monitor.claimed_by == worker_id:
            monitor.claimed_by = None
            monitor.claimed_until = None
    session.flush()
    return moved


# --- validation ------------------------------------------------------------------------------


def _checked(session: Session, page_id: str, data: MonitorCreate, allow_private: bool) -> str:
    """The normalised target, after checking the config, components and template."""
    try:
        target, _config = validate_config(data.kind.value, data.target, data.config)
    except ProbeConfigError as exc:
        raise Invalid(f"monitor: {exc.message}") from None
    except httpx.InvalidURL as exc:
        # httpx refuses some URLs (`http://0177.0.0.1/`) while parsing them.
        raise Invalid(f"monitor.target: {exc}") from None
    for host in _hosts(data.kind, target, data.config):
        reason = _refused(host, allow_private)
        if reason is not None:
            raise Invalid(f"monitor.target: {host} is {reason}")
    components.get_leaves(session, page_id=page_id, ids=data.component_ids)
    if data.incident_template_id is not None:
        templates.get_template(session, page_id=page_id, template_id=data.incident_template_id)
    return target


def _hosts(kind: MonitorKind, target: str, config: dict[str, Any]) -> list[str]:
    """The hosts a monitor will connect to, as written (names are checked at connect time)."""
    if kind is MonitorKind.HTTP:
        return [httpx.URL(target).host]
    if kind in (MonitorKind.TCP, MonitorKind.TLS):
        return [split_host_port(target, default_port=443)[0]]
    if kind is MonitorKind.DNS:
        servers = [*config.get("resolvers", []), *config.get("nameservers", [])]
        return [split_host_port(s, default_port=53)[0] for s in servers if isinstance(s, str)]
    return []


def _refused(host: str, allow_private: bool) -> str | None:
    """Why the probe would refuse `host` if it is a literal address, or a local name."""
    ip = literal_ip(host)
    if ip is not None:
        return Policy(allow_private=allow_private).check(ip)
    name = host.lower().rstrip(".")
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        return "a loopback name"
    return None


def literal_ip(host: str) -> IPAddress | None:
    """The address `host` spells, in any form a resolver accepts (`127.1`, `0x7f000001`)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _merged(monitor: Monitor, changes: dict[str, Any]) -> MonitorCreate:
    current = {
        name: getattr(monitor, name)
        for name in MonitorCreate.model_fields
        if name != "component_ids"
    }
    current["component_ids"] = monitor.component_ids
    try:
        return MonitorCreate.model_validate({**current, **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in ("monitor", *first["loc"]))
        raise Invalid(f"{field}: {first['msg']}") from None


def _columns(data: MonitorCreate, target: str) -> dict[str, Any]:
    columns = data.model_dump(exclude={"component_ids"})
    columns["target"] = target
    return columns


def _links(component_ids: list[str]) -> list[MonitorComponent]:
    return [
        MonitorComponent(component_id=cid, position=position)
        for position, cid in enumerate(dict.fromkeys(component_ids), start=1)
    ]


def _token() -> str:
    return secrets.token_urlsafe(32)


def _audit(
    session: Session, actor: Actor, action: str, monitor: Monitor, changes: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        page_id=monitor.page_id,
        object_type="monitor",
        object_id=monitor.id,
        changes=changes,
    )
