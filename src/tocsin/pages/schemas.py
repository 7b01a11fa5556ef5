from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.pages.i18n import LANGUAGES

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
    language: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    @field_validator("domain")
    @classmethod
    def _labels(cls, value: str | None) -> str | None:
        if value is not None and any(len(label) > 63 for label in value.split(".")):
            raise ValueError("each part of a host name has at most 63 characters")
        return value

    @field_validator("url", "logo_url")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        # The public page links only to web addresses with a host (`render.web_url`).
        if value is not None and not urlsplit(value).hostname:
            raise ValueError("the address needs a host name, as in https://example.com/")
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and value not in LANGUAGES:
            raise ValueError(f"unknown language {value!r}; use one of {', '.join(LANGUAGES)}")
        return value
