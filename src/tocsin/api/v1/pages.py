"""Management API v1: pages (statuspage-api.md §2.2, §2.3 Page)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from tocsin.accounts.models import Role
from tocsin.api.auth import PrincipalDep, page_for, pages_of
from tocsin.api.body import openapi_body, parse, unwrap
from tocsin.api.v1.common import BodyDep, DateTimeText, error_responses
from tocsin.deps import SessionDep
from tocsin.lib.isotime import iso
from tocsin.pages import service as pages
from tocsin.pages.models import Page
from tocsin.pages.schemas import PageUpdate

router = APIRouter(tags=["pages"])


class PageOut(BaseModel):
    """The v1 Page; settings Tocsin has no equivalent for are null or their Statuspage default."""

    id: str
    created_at: DateTimeText
    updated_at: DateTimeText
    name: str
    page_description: str | None
    headline: str | None
    branding: str
    subdomain: str | None
    domain: str | None
    url: str | None
    support_url: str | None
    hidden_from_search: bool
    allow_page_subscribers: bool
    allow_incident_subscribers: bool
    allow_email_subscribers: bool
    allow_sms_subscribers: bool
    allow_rss_atom_feeds: bool
    allow_webhook_subscribers: bool
    notifications_from_email: str | None
    notifications_email_footer: str | None
    activity_score: float
    twitter_username: str | None
    viewers_must_be_team_members: bool
    ip_restrictions: str | None
    city: str | None
    state: str | None
    country: str | None
    time_zone: str
    css_body_background_color: str | None
    css_font_color: str | None
    css_light_font_color: str | None
    css_greens: str | None
    css_yellows: str | None
    css_oranges: str | None
    css_blues: str | None
    css_reds: str | None
    css_border_color: str | None
    css_graph_color: str | None
    css_link_color: str | None
    css_no_data: str | None
    favicon_logo: str | None
    transactional_logo: str | None
    hero_cover: str | None
    email_logo: str | None
    twitter_logo: str | None


_UNSET_STRINGS = (
    "page_description",
    "headline",
    "subdomain",
    "support_url",
    "notifications_from_email",
    "notifications_email_footer",
    "twitter_username",
    "ip_restrictions",
    "city",
    "state",
    "country",
    "css_body_background_color",
    "css_font_color",
    "css_light_font_color",
    "css_greens",
    "css_yellows",
    "css_oranges",
    "css_blues",
    "css_reds",
    "css_border_color",
    "css_graph_color",
    "css_no_data",
    "favicon_logo",
    "hero_cover",
    "email_logo",
    "twitter_logo",
)


def page_out(page: Page) -> PageOut:
    zone = ZoneInfo(page.time_zone)
    return PageOut.model_validate(
        {
            **dict.fromkeys(_UNSET_STRINGS),
            "id": page.id,
            "created_at": iso(page.created_at, zone),
            "updated_at": iso(page.updated_at, zone),
            "name": page.name,
            "branding": "basic",
            "domain": page.domain,
            "url": page.url,
            "hidden_from_search": False,
            "allow_page_subscribers": True,
            "allow_incident_subscribers": True,
            "allow_email_subscribers": True,
            "allow_sms_subscribers": False,
            "allow_rss_atom_feeds": True,
            "allow_webhook_subscribers": True,
            "activity_score": 0.0,
            "viewers_must_be_team_members": False,
            "time_zone": page.time_zone,
            "css_link_color": page.accent_color,
            "transactional_logo": page.logo_url,
        }
    )


# Statuspage's own examples use these names; our pages store IANA zones only.
_ZONE_ALIASES = {"UTC": "Etc/UTC", "GMT": "Etc/GMT", "Z": "Etc/UTC"}
_ZONE_NAMES: list[JsonValue] = [*sorted({*available_timezones(), *_ZONE_ALIASES})]
_REQUIRED_SETTINGS = ("name", "time_zone", "partial_outage_weight")
_CLEARABLE_SETTINGS = ("url", "domain", "logo_url", "accent_color")
_DOMAIN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"


class PageBody(BaseModel):
    """`page` in PATCH/PUT /pages/{id}: the settings Tocsin has; other keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")
    domain: str | None = Field(default=None, max_length=253, pattern=_DOMAIN)
    time_zone: str | None = Field(
        default=None,
        description="An IANA zone name",
        json_schema_extra={"enum": _ZONE_NAMES},
    )
    logo_url: str | None = Field(default=None, max_length=2048, pattern=r"^https://\S+$")
    accent_color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    partial_outage_weight: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {
            key: value
            for key, value in data.items()
            if not (key in _REQUIRED_SETTINGS and value is None)
        }
        for key in _CLEARABLE_SETTINGS:
            if data.get(key) == "":
                data[key] = None
        zone = data.get("time_zone")
        if isinstance(zone, str):
            data["time_zone"] = _ZONE_ALIASES.get(zone.strip(), zone.strip())
        return data


_READ_ERRORS = error_responses(401, 403, 404, 422)
_WRITE_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.get("/pages", responses=error_responses(401))
def list_pages(session: SessionDep, principal: PrincipalDep) -> list[PageOut]:
    return [page_out(page) for page in pages_of(session, principal)]


@router.get("/pages/{page_id}", responses=_READ_ERRORS)
def get_page(page_id: str, session: SessionDep, principal: PrincipalDep) -> PageOut:
    return page_out(page_for(session, principal, page_id, needs=Role.VIEWER))


@router.patch(
    "/pages/{page_id}", responses=_WRITE_ERRORS, openapi_extra=openapi_body(PageBody, "page")
)
@router.put(
    "/pages/{page_id}", responses=_WRITE_ERRORS, openapi_extra=openapi_body(PageBody, "page")
)
def update_page(
    page_id: str, session: SessionDep, principal: PrincipalDep, raw: BodyDep
) -> PageOut:
    page = page_for(session, principal, page_id, needs=Role.ADMIN)
    body = parse(PageBody, unwrap(raw, "page"), where="page")
    data = parse(PageUpdate, body.model_dump(exclude_unset=True), where="page")
    pages.update_page(session, page=page, data=data, actor=principal.actor)
    return page_out(page)
