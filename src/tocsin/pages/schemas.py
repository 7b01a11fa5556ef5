from __future__ import annotations

from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ZONES = frozenset(available_timezones())


def check_time_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin")
    return value


class PageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    domain: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
    )
    time_zone: str | None = None
    logo_url: str | None = Field(default=None, max_length=2048, pattern=r"^https://\S+$")
    accent_color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    partial_outage_weight: float | None = Field(default=None, ge=0.0, le=1.0)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)
