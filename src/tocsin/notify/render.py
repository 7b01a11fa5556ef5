"""The words every channel sends: subjects, headlines, bodies and email parts.

Channels read the payload snapshot only through `parse_snapshot` and `compose`, so a
message says the same thing by email, SMS and chat, and a snapshot written by an older
release still renders (missing keys fall back to defaults).
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from html.parser import HTMLParser
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, ValidationError

from tocsin.components.status import LABELS as COMPONENT_LABELS
from tocsin.components.status import ComponentStatus
from tocsin.incidents.status import LABELS as INCIDENT_LABELS
from tocsin.incidents.status import IncidentStatus
from tocsin.lib.markdown import render_markdown
from tocsin.lib.timefmt import format_timestamp
from tocsin.notify.base import Links, NotifyError, Outgoing
from tocsin.notify.models import NotificationKind

DEFAULT_ACCENT = "#2563eb"
SUBJECT_MAX = 200
DRAFTS_KEPT = 16
T = TypeVar("T")

_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# Bidi overrides and isolates can make a subject read differently from what it says
# (security.md I.51), so one-line texts drop them with the control characters.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_PREFIXES: dict[NotificationKind, str] = {
    NotificationKind.MAINTENANCE_SCHEDULED: "Scheduled maintenance",
    NotificationKind.MAINTENANCE_STARTED: "Maintenance in progress",
    NotificationKind.MAINTENANCE_COMPLETED: "Maintenance completed",
    NotificationKind.MAINTENANCE_REMINDER: "Upcoming maintenance",
    NotificationKind.WRITEUP_PUBLISHED: "Write-up published",
}


class _Model(BaseModel):
    # Snapshots are our own JSON; unknown keys are newer fields, not errors.
    model_config = ConfigDict(extra="ignore", frozen=True)


class PageSnapshot(_Model):
    id: str
    name: str
    url: str | None = None
    """The page's own public URL; None means the install's base URL (the links carry it)."""
    time_zone: str = "UTC"
    accent_color: str | None = None
    logo_url: str | None = None
    status_indicator: str | None = None
    status_description: str | None = None


class ComponentSnapshot(_Model):
    id: str
    name: str
    status: str = "operational"


class ChangeSnapshot(_Model):
    code: str
    name: str
    old_status: str | None = None
    new_status: str


class UpdateSnapshot(_Model):
    id: str
    status: str
    body: str = ""
    display_at: datetime | None = None
    created_at: datetime | None = None
    affected_components: list[ChangeSnapshot] | None = None


class IncidentSnapshot(_Model):
    id: str
    kind: str = "incident"
    name: str
    status: str
    impact: str = "none"
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    scheduled_for: datetime | None = None
    scheduled_until: datetime | None = None
    writeup_url: str | None = None
    has_postmortem: bool = False
    components: list[ComponentSnapshot] = []


class Snapshot(_Model):
    page: PageSnapshot
    incident: IncidentSnapshot | None = None
    update: UpdateSnapshot | None = None
    updates: list[UpdateSnapshot] = []
    """The incident's whole timeline when the change was made, newest first."""


@dataclass(frozen=True)
class Branding:
    name: str
    url: str
    logo_url: str | None
    """Only an absolute https URL; anything else is dropped."""
    accent: str
    """A validated hex colour, safe inside a style attribute."""


@dataclass(frozen=True)
class Change:
    """One affected component: `Payments API`, `Operational` → `Major outage`."""

    name: str
    old: str | None
    new: str

    @property
    def transition(self) -> str:
        """`Operational → Major outage`, or just the new status when it did not change."""
        if self.old and self.old != self.new:
            return f"{self.old} → {self.new}"
        return self.new


@dataclass(frozen=True)
class Composed:
    """What to say about one delivery, before any channel formats it."""

    kind: NotificationKind
    branding: Branding
    title: str
    headline: str
    """`Investigating: Payments API returning errors`; one line."""
    status: str | None
    impact: str | None
    lead: str | None
    """A sentence that says what happened when the update body alone would not."""
    body: str
    """The update's Markdown, as written; empty when there is none."""
    posted: str | None
    window: str | None
    changes: tuple[Change, ...]
    links: Links

    @property
    def subject(self) -> str:
        return clip(one_line(f"[{self.branding.name}] {self.headline}"), SUBJECT_MAX)

    @property
    def target(self) -> str:
        """Where "view" buttons go: the incident if there is one, else the page."""
        return self.links.incident or self.links.page

    @property
    def is_confirmation(self) -> bool:
        return self.kind is NotificationKind.CONFIRM_SUBSCRIPTION

    @property
    def summary(self) -> str:
        """The lead and the update body as plain text, a blank line apart; may be empty."""
        if self.is_confirmation:
            return (
                f"Someone subscribed this channel to status updates from {self.branding.name}. "
                "Confirm to start receiving them; if this was not meant to happen, ignore it."
            )
        parts = (self.lead, plain_text(self.body) if self.body else "")
        return "\n\n".join(p for p in parts if p)


def parse_snapshot(payload: dict[str, Any]) -> Snapshot:
    """The validated payload; raise NotifyError (temporary) when it cannot be read."""
    try:
        return Snapshot.model_validate(payload)
    except ValidationError as exc:
        raise NotifyError(f"unreadable notification payload ({exc.error_count()} errors)") from exc


def compose(message: Outgoing) -> Composed:
    snapshot = parse_snapshot(message.payload)
    branding = brand(snapshot.page)
    incident, update = snapshot.incident, snapshot.update
    if incident is None or message.kind is NotificationKind.CONFIRM_SUBSCRIPTION:
        return _confirmation(message, branding)
    zone = page_zone(snapshot.page.time_zone)
    status = status_label(update.status if update else incident.status)
    title = one_line(incident.name)
    prefix = _PREFIXES.get(message.kind, status)
    return Composed(
        kind=message.kind,
        branding=branding,
        title=title,
        headline=f"{prefix}: {title}",
        status=status,
        impact=incident.impact,
        lead=_lead(message.kind, incident, zone),
        body=update.body if update else "",
        posted=_posted(incident, update, zone),
        window=maintenance_window(incident, zone),
        changes=_changes(incident, update),
        links=message.links,
    )


def _confirmation(message: Outgoing, branding: Branding) -> Composed:
    return Composed(
        kind=NotificationKind.CONFIRM_SUBSCRIPTION,
        branding=branding,
        title="",
        headline="Confirm your subscription",
        status=None,
        impact=None,
        lead=None,
        body="",
        posted=None,
        window=None,
        changes=(),
        links=message.links,
    )


class Drafts(Generic[T]):
    """What a channel works out once per notification (parsing, templates, encoding) and
    then reuses for every delivery of it, which only adds its recipient's parts.

    The key is the payload object itself with the links every recipient shares: the
    worker hands all deliveries of a notification claimed together the same payload,
    and an entry holds on to its payload, so the id cannot be reused while it is kept.
    """

    def __init__(self, make: Callable[[Outgoing], T], *, kept: int = DRAFTS_KEPT) -> None:
        self._make = make
        self._kept = kept
        self._entries: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], T]] = OrderedDict()

    def get(self, message: Outgoing) -> T:
        links = message.links
        key = (id(message.payload), message.kind, links.page, links.incident, links.confirm is None)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is message.payload:
            self._entries.move_to_end(key)
            return entry[1]
        draft = self._make(message)
        self._entries[key] = (message.payload, draft)
        if len(self._entries) > self._kept:
            self._entries.popitem(last=False)
        return draft


def brand(page: PageSnapshot) -> Branding:
    logo = page.logo_url if page.logo_url and _is_https(page.logo_url) else None
    accent = page.accent_color or ""
    return Branding(
        name=one_line(page.name) or "Status",
        url=page.url or "",
        logo_url=logo,
        accent=accent if _HEX_COLOUR.fullmatch(accent) else DEFAULT_ACCENT,
    )


def _is_https(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.netloc) and one_line(url) == url


def page_zone(name: str) -> ZoneInfo:
    """The page's zone; UTC if the name is unknown here, rather than failing the send."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_time(value: datetime, zone: ZoneInfo) -> str:
    """`Tue, Feb 10, 2026, 07:43 PM CET`: the page's own time, with its zone named."""
    return f"{format_timestamp(value, zone)} {value.astimezone(zone).tzname()}"


def status_label(value: str) -> str:
    try:
        return INCIDENT_LABELS[IncidentStatus(value)]
    except ValueError:
        return value.replace("_", " ").capitalize()


def component_label(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return COMPONENT_LABELS[ComponentStatus(value)]
    except ValueError:
        return value.replace("_", " ").capitalize()


def maintenance_window(incident: IncidentSnapshot, zone: ZoneInfo) -> str | None:
    if incident.scheduled_for is None:
        return None
    start = format_time(incident.scheduled_for, zone)
    if incident.scheduled_until is None:
        return start
    return f"{start} to {format_time(incident.scheduled_until, zone)}"


def _lead(kind: NotificationKind, incident: IncidentSnapshot, zone: ZoneInfo) -> str | None:
    if kind is NotificationKind.WRITEUP_PUBLISHED:
        return "A write-up of this incident has been published."
    if kind is NotificationKind.MAINTENANCE_REMINDER and incident.scheduled_for is not None:
        return f"This maintenance starts {format_time(incident.scheduled_for, zone)}."
    return None


def _posted(
    incident: IncidentSnapshot, update: UpdateSnapshot | None, zone: ZoneInfo
) -> str | None:
    when = (update.display_at or update.created_at) if update else incident.updated_at
    return format_time(when, zone) if when else None


def _changes(incident: IncidentSnapshot, update: UpdateSnapshot | None) -> tuple[Change, ...]:
    """What the update changed; without such changes, the incident's components as they are."""
    if update and update.affected_components:
        return tuple(
            Change(
                one_line(c.name),
                component_label(c.old_status),
                component_label(c.new_status) or "",
            )
            for c in update.affected_components
        )
    return tuple(
        Change(one_line(c.name), None, component_label(c.status) or "") for c in incident.components
    )


def one_line(text: str) -> str:
    """`text` with control, bidi and line-break characters gone and runs of spaces merged.

    Safe for headers, subjects and SMS: no CR or LF can survive.
    """
    # Addresses and URLs, checked for every message, are printable ASCII: they have
    # nothing to drop, and only doubled or outer spaces to merge.
    if text.isascii() and text.isprintable() and "  " not in text and text.strip(" ") == text:
        return text
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or (unicodedata.category(ch) != "Cc" and ch not in _BIDI)
    )
    return " ".join(kept.split())


def clip(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """`text` cut to at most `limit` characters, ending in `ellipsis` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ellipsis), 0)].rstrip() + ellipsis


def plain_text(markdown: str) -> str:
    """Readable plain text for Markdown: paragraphs, `- ` list items, `text (url)` links.

    It goes through the same sanitising renderer as the HTML part, so both parts of an
    email say the same thing.
    """
    parser = _TextParser()
    parser.feed(str(render_markdown(markdown)))
    parser.close()
    return parser.text()


_BLOCK_TAGS = frozenset(
    {"p", "pre", "blockquote", "ul", "ol", "h2", "h3", "h4", "h5", "h6", "table", "tr", "hr"}
)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._href: str | None = None
        self._anchor_at = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self._out.append("\n- ")
        elif tag == "br":
            self._out.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._anchor_at = len(self._out)
        elif tag == "pre":
            self._pre += 1
        elif tag == "td" or tag == "th":
            self._out.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            shown = "".join(self._out[self._anchor_at :])
            if self._href not in shown:
                self._out.append(f" ({self._href})")
            self._href = None
        if tag == "pre":
            self._pre -= 1
        if tag in _BLOCK_TAGS:
            self._out.append("\n\n")

    def handle_data(self, data: str) -> None:
        # Newlines between tags are the renderer's formatting, not the author's text.
        if self._pre or data.strip() or "\n" not in data:
            self._out.append(data)

    def text(self) -> str:
        lines = [line.rstrip() for line in "".join(self._out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("tocsin.notify", "templates"),
        # The .txt part must not be HTML-escaped; every .html template is.
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def email_text(composed: Composed) -> str:
    """The text/plain part."""
    template = _templates().get_template("email.txt")
    return template.render(m=composed, body=plain_text(composed.body) if composed.body else "")


def email_html(composed: Composed) -> str:
    """The text/html part: the page's branding around the sanitised update body."""
    template = _templates().get_template("email.html")
    body = render_markdown(composed.body, top_heading=3) if composed.body else Markup("")
    return template.render(m=composed, body=body)


def escape_markdown(text: str) -> str:
    """`text` with Markdown syntax backslash-escaped, so chat clients show it literally.

    URLs are left alone: escaping inside them would break the link.
    """
    parts = re.split(r"(https?://[^\s<>\"()]+)", text)
    return "".join(
        part if index % 2 else re.sub(r"([\\`*_~|\[\]()<>#])", r"\\\1", part)
        for index, part in enumerate(parts)
    )
