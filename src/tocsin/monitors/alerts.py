"""Alert ingestion: Prometheus Alertmanager, Grafana alerting and a generic JSON shape.

An alert source has a secret token (only its SHA-256 is stored) and rules mapping alert
labels to components. Each rule owns a monitor of kind `alert`; every notification that
matches a rule becomes one outcome of that monitor through `service.observe`, so the
N-of-M / K-recovery rules and the automation apply exactly as for probed checks.

A rule's monitor remembers which matching alerts are firing (by fingerprint, in its
`config`): an outcome is a failure while any of them fires and a success once all are
resolved, so one group's "resolved" does not hide another group's alert.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.components import service as components
from tocsin.components.status import ComponentStatus
from tocsin.errors import Invalid, NotFound
from tocsin.incidents import templates
from tocsin.monitors import automation
from tocsin.monitors import service as monitors
from tocsin.monitors.models import (
    AlertSource,
    AlertSourceKind,
    Monitor,
    MonitorComponent,
    MonitorKind,
)
from tocsin.monitors.probes import ProbeResult
from tocsin.monitors.rules import MAX_WINDOW
from tocsin.monitors.schemas import MAX_QUIET, ComponentIds
from tocsin.pages.models import Page

MAX_RULES = 50
MAX_ALERTS = 1_000
# A rule remembers at most this many firing alerts; past it the oldest are forgotten.
MAX_FIRING = 500
LABEL_MAX = 1_000

Label = Annotated[str, Field(max_length=LABEL_MAX)]
Labels = Annotated[dict[Annotated[str, Field(max_length=200)], Label], Field(max_length=100)]


# --- management --------------------------------------------------------------------------


class AlertRule(BaseModel):
    """Alerts whose labels include every `match` pair drive `component_ids`."""

    model_config = ConfigDict(extra="forbid")

    match: Labels = Field(default_factory=dict, description="Empty matches every alert")
    component_ids: ComponentIds = Field(min_length=1, max_length=100)
    failure_status: ComponentStatus = ComponentStatus.MAJOR_OUTAGE
    failure_threshold: int = Field(default=1, ge=1, le=MAX_WINDOW)
    window: int = Field(default=1, ge=1, le=MAX_WINDOW)
    recovery_threshold: int = Field(default=1, ge=1, le=MAX_WINDOW)
    auto_incident: bool = False
    incident_template_id: str | None = Field(default=None, max_length=64)
    draft: bool = False
    quiet_period_seconds: int = Field(default=300, ge=0, le=MAX_QUIET)

    @model_validator(mode="after")
    def _consistent(self) -> AlertRule:
        if self.failure_status in (ComponentStatus.OPERATIONAL, ComponentStatus.UNDER_MAINTENANCE):
            raise ValueError("failure_status must be an outage or degraded_performance")
        if self.failure_threshold > self.window:
            raise ValueError("failure_threshold cannot exceed window")
        if self.draft and not self.auto_incident:
            raise ValueError("draft needs auto_incident")
        return self


class AlertSourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    kind: AlertSourceKind
    rules: list[AlertRule] = Field(min_length=1, max_length=MAX_RULES)


@dataclass(frozen=True)
class Created:
    source: AlertSource
    token: str
    """The secret for the hook URL; it is not stored and cannot be shown again."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hook_path(kind: AlertSourceKind, token: str) -> str:
    return f"/hooks/{kind.value}/{token}"


def list_sources(session: Session, *, page_id: str) -> list[AlertSource]:
    query = select(AlertSource).where(AlertSource.page_id == page_id)
    return list(session.scalars(query.order_by(AlertSource.name, AlertSource.id)))


def get_source(session: Session, *, page_id: str, source_id: str) -> AlertSource:
    source = session.get(AlertSource, source_id)
    if source is None or source.page_id != page_id:
        raise NotFound(f"alert source {source_id} not found")
    return source


def create_source(
    session: Session, *, page: Page, data: AlertSourceCreate, actor: Actor, now: datetime
) -> Created:
    """Save the source and one `alert` monitor per rule; Invalid/NotFound if a rule names
    a component or template the page does not have."""
    for rule in data.rules:
        _check_rule(session, page.id, rule)
    token = secrets.token_urlsafe(32)
    source = AlertSource(
        page_id=page.id,
        name=data.name,
        kind=data.kind,
        token_digest=digest(token),
        created_at=now,
        updated_at=now,
    )
    session.add(source)
    session.flush()
    stored = []
    for position, rule in enumerate(data.rules, start=1):
        monitor = _rule_monitor(source, rule, position, now)
        session.add(monitor)
        session.flush()
        stored.append({**rule.model_dump(mode="json"), "monitor_id": monitor.id})
    source.rules = stored
    session.flush()
    _audit(session, actor, "alert_source.create", source, data.model_dump(mode="json"))
    return Created(source=source, token=token)


def delete_source(session: Session, *, source: AlertSource, actor: Actor, now: datetime) -> None:
    """Delete the source and its monitors, first giving back the components they hold."""
    for monitor in _monitors(session, source):
        automation.release(session, monitor=monitor, at=now)
        session.delete(monitor)
    _audit(session, actor, "alert_source.delete", source, {"name": source.name})
    session.delete(source)
    session.flush()


def _check_rule(session: Session, page_id: str, rule: AlertRule) -> None:
    components.get_leaves(session, page_id=page_id, ids=rule.component_ids)
    if rule.incident_template_id is not None:
        templates.get_template(session, page_id=page_id, template_id=rule.incident_template_id)


def _rule_monitor(source: AlertSource, rule: AlertRule, position: int, now: datetime) -> Monitor:
    monitor = Monitor(
        page_id=source.page_id,
        name=f"{source.name} #{position}"[:255],
        kind=MonitorKind.ALERT,
        target=f"alert-source:{source.id}",
        config={"firing": {}},
        interval_seconds=60,
        timeout_seconds=10.0,
        created_at=now,
        updated_at=now,
        next_run_at=now,
        **rule.model_dump(exclude={"match", "component_ids"}),
    )
    monitor.components = [
        MonitorComponent(component_id=cid, position=at)
        for at, cid in enumerate(dict.fromkeys(rule.component_ids), start=1)
    ]
    return monitor


def _monitors(session: Session, source: AlertSource) -> list[Monitor]:
    ids = [rule["monitor_id"] for rule in source.rules]
    query = select(Monitor).where(Monitor.id.in_(ids), Monitor.kind == MonitorKind.ALERT)
    return list(session.scalars(query.with_for_update()))


def _audit(
    session: Session, actor: Actor, action: str, source: AlertSource, changes: dict[str, Any]
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        page_id=source.page_id,
        object_type="alert_source",
        object_id=source.id,
        changes=changes,
    )


# --- payloads ----------------------------------------------------------------------------


class _Alert(BaseModel):
    """One alert as Alertmanager (webhook v4) and Grafana unified alerting send it."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    fingerprint: str = Field(default="", max_length=200)


class _Grouped(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"] | None = None
    alerts: list[_Alert] = Field(max_length=MAX_ALERTS)


class _Generic(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved", "ok"]
    labels: Labels = Field(default_factory=dict)
    message: str = Field(default="", max_length=2_000)
    fingerprint: str = Field(default="", max_length=200)


@dataclass(frozen=True)
class Alert:
    firing: bool
    labels: dict[str, str]
    fingerprint: str
    summary: str


def parse_payload(kind: AlertSourceKind, raw: bytes) -> list[Alert]:
    """The alerts in a webhook body; Invalid if it is not the kind's JSON shape."""
    try:
        if kind is AlertSourceKind.GENERIC:
            one = _Generic.model_validate_json(raw)
            return [_alert(one.status == "firing", one.labels, one.fingerprint, one.message)]
        grouped = _Grouped.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise Invalid(f"{where}: {first['msg']}") from None
    return [
        _alert(a.status == "firing", a.labels, a.fingerprint, _summary(a)) for a in grouped.alerts
    ]


def _alert(firing: bool, labels: dict[str, str], fingerprint: str, summary: str) -> Alert:
    if not fingerprint:
        fingerprint = digest(json.dumps(labels, sort_keys=True))[:16]
    return Alert(firing=firing, labels=labels, fingerprint=fingerprint, summary=summary)


def _summary(alert: _Alert) -> str:
    name = alert.labels.get("alertname", "alert")
    text = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    return f"{name}: {text}" if text else name


# --- ingestion ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingested:
    alerts: int
    matched_rules: int


def find_source(session: Session, *, kind: AlertSourceKind, token: str) -> AlertSource:
    """The source whose token this is, of this kind; NotFound otherwise."""
    query = select(AlertSource).where(AlertSource.token_digest == digest(token))
    source = session.scalar(query)
    if source is None or source.kind is not kind:
        raise NotFound("not found")
    return source


def ingest(
    session: Session, *, source: AlertSource, alerts: list[Alert], now: datetime
) -> Ingested:
    """Feed each rule that matches at least one alert one outcome: a failure while any of
    its alerts is firing, a success once all have resolved."""
    by_id = {m.id: m for m in _monitors(session, source)}
    matched = 0
    for rule in source.rules:
        monitor = by_id.get(rule["monitor_id"])
        relevant = [a for a in alerts if _matches(rule["match"], a.labels)]
        if monitor is None or not relevant:
            continue
        matched += 1
        monitors.observe(
            session, monitor=monitor, result=_outcome(monitor, relevant), checked_at=now
        )
    session.flush()
    return Ingested(alerts=len(alerts), matched_rules=matched)


def _matches(match: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in match.items())


def _outcome(monitor: Monitor, alerts: list[Alert]) -> ProbeResult:
    """Update the monitor's set of firing alerts and judge it."""
    firing: dict[str, str] = dict(monitor.config.get("firing", {}))
    for alert in alerts:
        firing.pop(alert.fingerprint, None)
        if alert.firing:
            firing[alert.fingerprint] = alert.summary[:200]
    while len(firing) > MAX_FIRING:
        firing.pop(next(iter(firing)))
    monitor.config = {**monitor.config, "firing": firing}
    details = {"firing": len(firing)}
    if not firing:
        return ProbeResult(ok=True, latency_ms=None, details=details)
    return ProbeResult(
        ok=False, latency_ms=None, error=next(reversed(firing.values())), details=details
    )
