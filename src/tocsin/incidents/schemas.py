from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from tocsin.components.status import ComponentStatus
from tocsin.incidents.status import Impact, IncidentStatus

BODY_MAX = 25_000
ComponentMap = dict[str, ComponentStatus]


class IncidentCreate(BaseModel):
    """A realtime incident; `components` maps component ids to the status it gives them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    status: IncidentStatus = IncidentStatus.INVESTIGATING
    body: str = Field(default="", max_length=BODY_MAX)
    impact_override: Impact | None = None
    components: ComponentMap = Field(default_factory=dict, max_length=1000)
    component_ids: list[str] = Field(default_factory=list, max_length=1000)
    deliver_notifications: bool = True
    backfilled: bool = False
    started_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _backfill_rules(self) -> IncidentCreate:
        if self.backfilled and (self.components or self.component_ids):
            raise ValueError("a backfilled incident cannot change components")
        if self.resolved_at and self.started_at and self.resolved_at < self.started_at:
            raise ValueError("resolved_at is before started_at")
        return self


class UpdateCreate(BaseModel):
    """A follow-up on an incident or maintenance: any field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    status: IncidentStatus | None = None
    body: str | None = Field(default=None, max_length=BODY_MAX)
    impact_override: Impact | None = None
    components: ComponentMap | None = Field(default=None, max_length=1000)
    component_ids: list[str] | None = Field(default=None, max_length=1000)
    deliver_notifications: bool = True
    display_at: AwareDatetime | None = None


class UpdateEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str | None = Field(default=None, max_length=BODY_MAX)
    display_at: AwareDatetime | None = None
    deliver_notifications: bool | None = None


class MaintenanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    body: str = Field(default="", max_length=BODY_MAX)
    scheduled_for: AwareDatetime
    scheduled_until: AwareDatetime
    component_ids: list[str] = Field(default_factory=list, max_length=1000)
    auto_start: bool = True
    auto_end: bool = True
    auto_components: bool = True
    deliver_notifications: bool = True
    impact_override: Impact | None = None

    @model_validator(mode="after")
    def _window(self) -> MaintenanceCreate:
        if self.scheduled_until <= self.scheduled_for:
            raise ValueError("scheduled_until must be after scheduled_for")
        return self


class WriteupPublish(BaseModel):
    """A write-up is either a link to an external post or a Markdown post-mortem, not both."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    body: str | None = Field(default=None, min_length=1, max_length=100_000)
    published_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_of(self) -> WriteupPublish:
        if (self.url is None) == (self.body is None):
            raise ValueError("give either a write-up URL or a Markdown body")
        return self
