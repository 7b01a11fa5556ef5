from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from tocsin.components.status import ComponentStatus

NAME = Field(min_length=1, max_length=255)


class ComponentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = NAME
    description: str | None = Field(default=None, max_length=2000)
    status: ComponentStatus = ComponentStatus.OPERATIONAL
    group_id: str | None = Field(default=None, max_length=12)
    showcase: bool = True
    only_show_if_degraded: bool = False
    show_response_times: bool = False
    start_date: date | None = None


class ComponentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    status: ComponentStatus | None = None
    group_id: str | None = Field(default=None, max_length=12)
    showcase: bool | None = None
    only_show_if_degraded: bool | None = None
    show_response_times: bool | None = None
    start_date: date | None = None
    position: int | None = Field(default=None, ge=1, le=10_000)


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = NAME
    description: str | None = Field(default=None, max_length=2000)
    component_ids: list[str] = Field(default_factory=list, max_length=1000)
