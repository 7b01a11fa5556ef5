from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tocsin.components.status import ComponentStatus
from tocsin.monitors.models import MonitorKind
from tocsin.monitors.rules import MAX_WINDOW

MIN_INTERVAL = 10
MAX_INTERVAL = 86_400
MAX_TIMEOUT = 60.0
MAX_QUIET = 7 * 86_400

ComponentIds = list[Annotated[str, Field(min_length=1, max_length=64)]]


class MonitorCreate(BaseModel):
    """A monitor as the API and CLI send it; `config` is checked by the kind's probe."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    kind: MonitorKind
    target: str = Field(default="", max_length=2048)
    interval_seconds: int = Field(default=60, ge=MIN_INTERVAL, le=MAX_INTERVAL)
    timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_TIMEOUT)
    component_ids: ComponentIds = Field(default_factory=list, max_length=100)
    failure_status: ComponentStatus = ComponentStatus.MAJOR_OUTAGE
    failure_threshold: int = Field(default=3, ge=1, le=MAX_WINDOW)
    window: int = Field(default=5, ge=1, le=MAX_WINDOW, description="M: the last M checks")
    recovery_threshold: int = Field(default=2, ge=1, le=MAX_WINDOW)
    auto_incident: bool = False
    incident_template_id: str | None = Field(default=None, max_length=64)
    draft: bool = Field(default=False, description="Open incidents as drafts to publish by hand")
    quiet_period_seconds: int = Field(default=300, ge=0, le=MAX_QUIET)
    paused: bool = False
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _not_alert(cls, value: MonitorKind) -> MonitorKind:
        if value is MonitorKind.ALERT:
            raise ValueError("alert monitors are created by alert sources")
        return value

    @field_validator("failure_status")
    @classmethod
    def _not_operational(cls, value: ComponentStatus) -> ComponentStatus:
        if value in (ComponentStatus.OPERATIONAL, ComponentStatus.UNDER_MAINTENANCE):
            raise ValueError("failure_status must be an outage or degraded_performance")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MonitorCreate:
        if self.failure_threshold > self.window:
            raise ValueError("failure_threshold cannot exceed window")
        if self.timeout_seconds >= self.interval_seconds:
            raise ValueError("timeout_seconds must be shorter than interval_seconds")
        if self.draft and not self.auto_incident:
            raise ValueError("draft needs auto_incident")
        return self


class MonitorUpdate(BaseModel):
    """Fields to change; the result is checked again as a whole (see `MonitorCreate`)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    target: str | None = Field(default=None, max_length=2048)
    interval_seconds: int | None = None
    timeout_seconds: float | None = None
    component_ids: ComponentIds | None = Field(default=None, max_length=100)
    failure_status: ComponentStatus | None = None
    failure_threshold: int | None = None
    window: int | None = None
    recovery_threshold: int | None = None
    auto_incident: bool | None = None
    incident_template_id: str | None = Field(default=None, max_length=64)
    draft: bool | None = None
    quiet_period_seconds: int | None = None
    paused: bool | None = None
    config: dict[str, Any] | None = None
