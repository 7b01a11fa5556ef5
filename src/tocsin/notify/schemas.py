"""Subscriber input: addresses are validated and normalised here, once, at the boundary."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

# Literals rather than the model's enums keep the OpenAPI schemas inline (no $defs).
Mode = Literal["email", "sms", "webhook", "slack", "discord", "teams"]
# Statuspage's type filter also names integration partners, which Tocsin has none of.
ModeFilter = Literal["email", "sms", "webhook", "slack", "discord", "teams", "integration_partner"]
StateFilter = Literal["active", "unconfirmed", "quarantined", "unsubscribed", "all"]
SortField = Literal["primary", "created_at", "quarantined_at", "relevance"]
SortDirection = Literal["asc", "desc"]

# Calling codes for national numbers given with `phone_country`; anything else must be
# sent in international form (+...). No phone library is a dependency yet.
CALLING_CODES = {
    **dict.fromkeys(("US", "CA", "PR", "GU", "VI", "AS", "MP", "BS", "BB", "JM", "TT"), "1"),
    "AR": "54", "AT": "43", "AU": "61", "BE": "32", "BR": "55", "CH": "41", "CL": "56",
    "CN": "86", "CO": "57", "CZ": "420", "DE": "49", "DK": "45", "EE": "372", "ES": "34",
    "FI": "358", "FR": "33", "GB": "44", "GR": "30", "HK": "852", "HU": "36", "IE": "353",
    "IL": "972", "IN": "91", "IS": "354", "IT": "39", "JP": "81", "KR": "82", "LT": "370",
    "LU": "352", "LV": "371", "MX": "52", "MY": "60", "NL": "31", "NO": "47", "NZ": "64",
    "PH": "63", "PL": "48", "PT": "351", "RO": "40", "SE": "46", "SG": "65", "SI": "386",
    "SK": "421", "TR": "90", "TW": "886", "UA": "380", "ZA": "27",
}  # fmt: skip
# Countries whose national numbers keep their leading 0 after the calling code.
_KEEPS_TRUNK_ZERO = frozenset({"IT"})

_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")


def normalise_email(value: str) -> str:
    """`Ann@Exämple.com` → `ann@xn--exmple-cua.com`; ValueError if it is not a plain address.

    The local part must be ASCII and unquoted, so the address is safe in SMTP commands
    and headers whatever the mail library does.
    """
    local, at, domain = value.strip().rpartition("@")
    if not at or len(local) > 64 or not _LOCAL_PART.match(local):
        raise ValueError("not a valid email address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("not a valid email address") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or labels[-1].isdigit() or not all(map(_DOMAIN_LABEL.match, labels)):
        raise ValueError("not a valid email address")
    address = f"{local.lower()}@{ascii_domain}"
    if len(address) > 254:
        raise ValueError("an email address has at most 254 characters")
    return address


def check_endpoint(value: str) -> str:
    """An absolute http(s) URL with a host; the address checks happen when sending."""
    value = value.strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("a URL cannot contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError("must be an http:// or https:// URL")
    return value


def normalise_phone(number: str, country: str | None) -> str:
    """The number in E.164 (`+12025550105`), from international or national form."""
    digits = _PHONE_PUNCTUATION.sub("", number)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+"):
        digits = "+" + _national_to_international(digits, country)
    if not digits[1:].isdigit() or not 8 <= len(digits) - 1 <= 15 or digits[1] == "0":
        raise ValueError("not a valid phone number")
    return digits


def _national_to_international(digits: str, country: str | None) -> str:
    code = CALLING_CODES.get(country or "")
    if code is None:
        raise ValueError("give the number in international form (+...) or a known phone_country")
    if code == "1" and len(digits) == 11 and digits.startswith("1"):
        return digits
    if digits.startswith("0") and country not in _KEEPS_TRUNK_ZERO:
        digits = digits[1:]
    return code + digits


def display_phone(e164: str, country: str | None) -> str:
    """`+1 (202) 555-0105` for North American numbers, `+44 2071838750` for the rest."""
    if e164.startswith("+1") and len(e164) == 12:
        return f"+1 ({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    code = CALLING_CODES.get(country or "")
    if code is not None and e164[1:].startswith(code):
        return f"+{code} {e164[1 + len(code) :]}"
    return e164


def _as_list(value: Any) -> Any:
    # A form field sent once without `[]` arrives as a plain string.
    return [value] if isinstance(value, str) else value


# Documented shapes, narrower than what is accepted (national phone numbers, IDNA domains,
# any URL path), so that every request the schema allows is one the validators accept.
_EMAIL_PATTERN = (
    r"^[a-z0-9]{1,20}([._+-][a-z0-9]{1,20}){0,2}@[a-z0-9]{1,20}(-[a-z0-9]{1,20})?"
    r"(\.[a-z0-9]{1,20}){0,3}\.[a-z]{2,10}$"
)
_E164_PATTERN = r"^\+[1-9][0-9]{7,14}$"
_URL_PATTERN = r"^https?://[a-z0-9]{1,30}(\.[a-z0-9]{1,30}){0,4}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]{0,30}){0,5}$"
_NO_VALUE: JsonValue = {"type": "null"}
_SHAPES: list[JsonValue] = [
    {
        "required": ["email"],
        "properties": {
            "mode": {"enum": ["email"]},
            "email": {"type": "string"},
            "endpoint": _NO_VALUE,
            "phone_number": _NO_VALUE,
            "phone_country": _NO_VALUE,
        },
    },
    {
        "required": ["phone_number"],
        "properties": {
            "mode": {"enum": ["sms"]},
            "phone_number": {"type": "string"},
            "email": _NO_VALUE,
            "endpoint": _NO_VALUE,
        },
    },
    {
        "required": ["endpoint"],
        "properties": {
            "mode": {"enum": ["webhook", "slack", "discord", "teams"]},
            "endpoint": {"type": "string"},
            "phone_number": _NO_VALUE,
            "phone_country": _NO_VALUE,
        },
    },
]

NO_NUL = r"^[^\x00]*$"
# Ids are alphanumeric; the pattern also keeps NUL, which PostgreSQL refuses, out of queries.
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]
ComponentIds = Annotated[
    list[Id],
    BeforeValidator(_as_list),
    Field(min_length=1, max_length=1000),
]


class SubscriberCreate(BaseModel):
    """`subscriber` in POST /subscribers. The mode follows from the address given:
    `endpoint` → webhook (or `mode` slack/discord/teams), `phone_number` → sms, else email.
    """

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra={"oneOf": _SHAPES}
    )

    mode: Mode = Field(
        default="email",
        validation_alias=AliasChoices("mode", "type"),
        description="An extension: inferred from the address when absent; "
        "slack, discord or teams for an endpoint of that kind.",
    )
    email: str | None = Field(
        default=None,
        max_length=254,
        examples=["ann@example.com"],
        json_schema_extra={"pattern": _EMAIL_PATTERN},
    )
    endpoint: str | None = Field(
        default=None, max_length=2048, json_schema_extra={"pattern": _URL_PATTERN}
    )
    phone_country: str | None = Field(
        default=None, examples=["US"], json_schema_extra={"pattern": "^[A-Za-z]{2}$"}
    )
    phone_number: str | None = Field(
        default=None,
        max_length=32,
        description="E.164, or national digits with phone_country",
        examples=["+12025550105"],
        json_schema_extra={"pattern": _E164_PATTERN},
    )
    skip_confirmation_notification: bool = False
    # Page access users (audience-specific pages) do not exist in Tocsin; accepted and ignored.
    page_access_user: str | None = Field(default=None, max_length=255)
    component_ids: ComponentIds | None = Field(
        default=None,
        description="Components or groups; absent means the whole page. "
        "A group covers its components.",
    )

    @model_validator(mode="before")
    @classmethod
    def _infer_mode(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("mode") or data.get("type"):
            return data
        if data.get("endpoint"):
            return {**data, "mode": "webhook"}
        return {**data, "mode": "sms" if data.get("phone_number") else "email"}

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return check_endpoint(value) if value else None

    @field_validator("phone_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) != 2 or not value.isascii() or not value.isalpha():
            raise ValueError("must be a two-letter country code")
        return value.upper()

    @model_validator(mode="after")
    def _address_fits_mode(self) -> SubscriberCreate:
        if self.mode == "sms":
            if not self.phone_number:
                raise ValueError("an sms subscriber needs a phone_number")
            if self.email or self.endpoint:
                raise ValueError("an sms subscriber has only a phone_number")
            self.phone_number = normalise_phone(self.phone_number, self.phone_country)
            return self
        if self.phone_number or self.phone_country:
            raise ValueError(f"a {self.mode} subscriber has no phone_number")
        if self.mode == "email":
            if not self.email or self.endpoint:
                raise ValueError("an email subscriber needs an email and no endpoint")
        elif not self.endpoint:
            raise ValueError(f"a {self.mode} subscriber needs an endpoint URL")
        return self


class IncidentSubscriberCreate(BaseModel):
    """`subscriber` in POST /incidents/{id}/subscribers: email or SMS only."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": _SHAPES[:2]})

    email: str | None = Field(
        default=None, max_length=254, json_schema_extra={"pattern": _EMAIL_PATTERN}
    )
    phone_country: str | None = Field(default=None, json_schema_extra={"pattern": "^[A-Za-z]{2}$"})
    phone_number: str | None = Field(
        default=None, max_length=32, json_schema_extra={"pattern": _E164_PATTERN}
    )
    skip_confirmation_notification: bool = False


class SubscriberUpdate(BaseModel):
    """PATCH /subscribers/{id}, unwrapped; `null` (an extension) means the whole page again."""

    model_config = ConfigDict(extra="forbid")

    component_ids: ComponentIds | None


class BulkAction(BaseModel):
    """Bulk resend/unsubscribe/reactivate: named subscribers or "all", narrowed by type/state."""

    model_config = ConfigDict(extra="forbid")

    subscribers: (
        Literal["all"]
        | Annotated[
            list[Id],
            BeforeValidator(_as_list),
            Field(min_length=1, max_length=1000),
        ]
    )
    type: ModeFilter | None = None
    state: StateFilter | None = None
    skip_unsubscription_notification: bool = False


class SubscriberListing(BaseModel):
    """Filters and order for a subscriber list; `offset` and `limit` are already resolved."""

    mode: ModeFilter | None = None
    # "current" (active or unconfirmed) is for incident subscriber lists, which take no state.
    state: StateFilter | Literal["current"] = "active"
    q: str | None = Field(default=None, max_length=254, pattern=NO_NUL)
    sort_field: SortField = "primary"
    sort_direction: SortDirection = "asc"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=100)
