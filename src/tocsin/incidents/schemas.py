from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from tocsin.components.status import ComponentStatus
from tocsin.incidents.status import Impact, IncidentStatus

BODY_MAX = 25_000
POSTMORTEM_MAX = 100_000
METADATA_MAX = 16_000
ComponentMap = dict[str, ComponentStatus]


def _small(value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if len(json.dumps(value)) > METADATA_MAX:
        raise ValueError(f"metadata must serialise to at most {METADATA_MAX} characters")
    return value


# Statuspage's rule: "All top-level values in the object must also be objects."
Metadata = Annotated[dict[str, dict[str, Any]], AfterValidator(_small)]


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
    metadata: Metadata = Field(default_factory=dict)

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
    """A maintenance window; a `status` past `scheduled` records one already under way."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    status: IncidentStatus = IncidentStatus.SCHEDULED
    body: str = Field(default="", max_length=BODY_MAX)
    scheduled_for: AwareDatetime
    scheduled_until: AwareDatetime
    component_ids: list[str] = Field(default_factory=list, max_length=1000)
    components: ComponentMap = Field(default_factory=dict, max_length=1000)
    auto_start: bool = True
    auto_end: bool = True
    auto_components: bool = True
    remind_prior: bool = True
    deliver_notifications: bool = True
    impact_override: Impact | None = None
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _window(self) -> MaintenanceCreate:
        if self.scheduled_until <= self.scheduled_for:
            raise ValueError("scheduled_until must be after scheduled_for")
        return self


class IncidentEdit(BaseModel):
    """What an incident is called and how it is scheduled; changing these posts no update."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    impact_override: Impact | None = None
    metadata: Metadata | None = None
    component_ids: list[str] | None = Field(default=None, max_length=1000)
    scheduled_for: AwareDatetime | None = None
    scheduled_until: AwareDatetime | None = None
    auto_start: bool | None = None
    auto_end: bool | None = None
    auto_components: bool | None = None
    remind_prior: bool | None = None


class WriteupPublish(BaseModel):
    """A write-up is either a link to an external post or a Markdown post-mortem, not both."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    body: str | None = Field(default=None, min_length=1, max_length=POSTMORTEM_MAX)
    published_at: AwareDatetime | None = None
    notify_subscribers: bool = True

    @model_validator(mode="after")
    def _one_of(self) -> WriteupPublish:
        if (self.url is None) == (self.body is None):
            raise ValueError("give either a write-up URL or a Markdown body")
        return self


class TemplateCreate(BaseModel):
    """An incident template: text an editor starts from, stored and shown verbatim."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    title: str = Field(min_length=1, max_length=255)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    update_status: IncidentStatus = IncidentStatus.INVESTIGATING
    should_send_notifications: bool = True
    component_ids: list[str] = Field(default_factory=list, max_length=1000)


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    title: str | None = Field(default=None, min_length=1, max_length=255)
    body: str | None = Field(default=None, min_length=1, max_length=BODY_MAX)
    update_status: IncidentStatus | None = None
    should_send_notifications: bool | None = None
    component_ids: list[str] | None = Field(default=None, max_length=1000)
