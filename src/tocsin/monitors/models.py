from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tocsin.components.models import status_type
from tocsin.components.status import ComponentStatus
from tocsin.db import Base, IdMixin, TimestampMixin, UTCDateTime, enum_type, utcnow


class MonitorKind(StrEnum):
    HTTP = "http"
    TCP = "tcp"
    DNS = "dns"
    TLS = "tls"
    HEARTBEAT = "heartbeat"
    # Fed by alert ingestion (Alertmanager, Grafana, generic JSON) through
    # service.observe(); never scheduled or probed.
    ALERT = "alert"


class MonitorState(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class RollupPeriod(StrEnum):
    HOUR = "hour"
    DAY = "day"


class Monitor(IdMixin, TimestampMixin, Base):
    """A check and the rules that turn its results into component statuses and incidents."""

    __tablename__ = "monitors"
    __table_args__ = (
        Index("ix_monitors_next_run_at", "next_run_at"),
        Index("ix_monitors_page_id_name", "page_id", "name"),
    )

    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[MonitorKind] = mapped_column(enum_type(MonitorKind, "kind"))
    target: Mapped[str] = mapped_column(String(2048), default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=60)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=10.0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)

    failure_status: Mapped[ComponentStatus] = mapped_column(
        status_type("failure_status"), default=ComponentStatus.MAJOR_OUTAGE
    )
    failure_threshold: Mapped[int] = mapped_column(Integer, default=3)
    window: Mapped[int] = mapped_column(Integer, default=5)
    recovery_threshold: Mapped[int] = mapped_column(Integer, default=2)
    auto_incident: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_template_id: Mapped[str | None] = mapped_column(
        ForeignKey("incident_templates.id", ondelete="SET NULL")
    )
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_period_seconds: Mapped[int] = mapped_column(Integer, default=300)

    state: Mapped[MonitorState] = mapped_column(
        enum_type(MonitorState, "state"), default=MonitorState.UNKNOWN
    )
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    history: Mapped[str] = mapped_column(String(64), default="")
    """Outcomes since the last move into or out of `down`, oldest first: "1" ok, "0" failed."""
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    """The incident this monitor opened and has not resolved yet."""
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When checks last recovered (or failed once since); the incident resolves a quiet
    period after this."""

    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_latency_ms: Mapped[float | None] = mapped_column(Float)

    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    heartbeat_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rolled_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Hourly rollups exist for every closed hour before this."""

    components: Mapped[list[MonitorComponent]] = relationship(
        cascade="all, delete-orphan", order_by="MonitorComponent.position"
    )

    @property
    def component_ids(self) -> list[str]:
        return [link.component_id for link in self.components]


class MonitorComponent(Base):
    __tablename__ = "monitor_components"

    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[str] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=1)


class CheckResult(Base):
    """One raw check outcome, kept for the retention window, then only in rollups."""

    __tablename__ = "monitor_results"
    __table_args__ = (
        Index("ix_monitor_results_monitor_id_checked_at", "monitor_id", "checked_at"),
        Index("ix_monitor_results_checked_at", "checked_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MonitorRollup(Base):
    """Availability and latency percentiles of one monitor over one closed hour or day."""

    __tablename__ = "monitor_rollups"

    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[RollupPeriod] = mapped_column(
        enum_type(RollupPeriod, "period"), primary_key=True
    )
    start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    checks: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    availability: Mapped[float] = mapped_column(Float)
    """Percent of checks that passed."""
    latency_p50: Mapped[float | None] = mapped_column(Float)
    latency_p95: Mapped[float | None] = mapped_column(Float)
    latency_p99: Mapped[float | None] = mapped_column(Float)


class AlertSourceKind(StrEnum):
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    GENERIC = "generic"


class AlertSource(IdMixin, TimestampMixin, Base):
    """A webhook that alerting systems post to; its rules map alert labels to components.

    Each rule owns one monitor of kind `alert`, which the rules and automation judge like
    any other monitor.
    """

    __tablename__ = "alert_sources"

    page_id: Mapped[str] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[AlertSourceKind] = mapped_column(enum_type(AlertSourceKind, "kind"))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 (hex) of the secret in the hook URL; the secret itself is shown once."""
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Validated `AlertRule`s, each with the id of the monitor it owns."""
