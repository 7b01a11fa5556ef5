"""HTML for the public status page, rendered from a `PageState` snapshot.

Templates receive view models plus a few values prepared here (gap notes,
validated URLs, the days of the past-incident list), so they stay free of
logic that needs testing on its own.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from http import HTTPStatus
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from tocsin.components.status import LABELS as COMPONENT_LABELS
from tocsin.components.status import ComponentStatus
from tocsin.incidents.status import LABELS as INCIDENT_LABELS
from tocsin.lib.markdown import render_markdown
from tocsin.lib.timefmt import format_date, gap_note
from tocsin.pages import i18n, sparkline
from tocsin.pages.i18n import Language, context_language
from tocsin.pages.links import LIVE, Links, export_path
from tocsin.pages.view import (
    AffectedComponent,
    ComponentView,
    DayBar,
    IncidentView,
    PageState,
    ResponseTimes,
    UpdateView,
    occurred_at,
)

PAST_DAYS = 14
HISTORY_PER_PAGE = 20

_ACCENT = re.compile(r"#[0-9a-fA-F]{3,8}")


@dataclass(frozen=True)
class Entry:
    """One update on an incident page, with its note about the gap to the newer one."""

    update: UpdateView
    gap: str | None


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [PackageLoader("tocsin.pages", "templates"), PackageLoader("tocsin", "templates")]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    i18n.install(env)
    env.filters.update(
        markdown=render_markdown,
        iso=datetime.isoformat,
        percent=_percent,
        bar_label=_bar_label,
        sparkline=sparkline.polylines,
        sparkline_label=_sparkline_label,
    )
    env.globals.update(component_labels=COMPONENT_LABELS, incident_labels=INCIDENT_LABELS)
    return env


def format_percent(value: float) -> str:
    """`99.95`: floored to two decimals, so a bad day never rounds up to 100."""
    # The epsilon absorbs binary noise such as 99.95 * 100 == 9994.999….
    floored = math.floor(value * 100 + 1e-9) / 100
    return f"{floored:.2f}".rstrip("0").rstrip(".")


def bar_label(bar: DayBar, language: Language | None = None) -> str:
    """`Feb 10, 2026: Partial outage, 99.1%`, the text alternative of one day's bar."""
    lang = language or i18n.language(i18n.DEFAULT)
    day = format_date(bar.day, lang.dates)
    if bar.worst is None or bar.uptime is None:
        return lang.gettext(i18n.BAR_NO_DATA) % {"day": day}
    label = lang.gettext(i18n.BAR_STATUS) % {
        "day": day,
        "status": lang.gettext(COMPONENT_LABELS[bar.worst]),
        "percent": lang.number(format_percent(bar.uptime * 100)),
    }
    if bar.incident_names:
        label += " (" + "; ".join(bar.incident_names) + ")"
    return label


@pass_context
def _bar_label(context: Context, bar: DayBar) -> str:
    return bar_label(bar, context_language(context))


@pass_context
def _percent(context: Context, value: float) -> str:
    return context_language(context).number(format_percent(value))


@pass_context
def _sparkline_label(context: Context, times: ResponseTimes) -> str:
    return sparkline.label(times, context_language(context).gettext)


def valid_accent(color: str | None) -> str | None:
    """The accent colour if it is a plain hex colour; it lands in CSS."""
    return color if color and _ACCENT.fullmatch(color) else None


def web_url(url: str | None, *, allow_root_relative: bool = False) -> str | None:
    """`url` if it is http(s) (or, when allowed, a path on this site), else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    is_path = not parts.scheme and not parts.netloc and url.startswith("/")
    return url if allow_root_relative and is_path else None


def affected_by_group(
    incident: IncidentView,
) -> list[tuple[str | None, list[AffectedComponent]]]:
    """The affected components under their group's name, groups in order of first appearance."""
    grouped: dict[str | None, list[AffectedComponent]] = {}
    for component in incident.affected:
        grouped.setdefault(component.group_name, []).append(component)
    return list(grouped.items())


def entries(incident: IncidentView, language: Language | None = None) -> tuple[Entry, ...]:
    """The updates, newest first, each with its gap note (in `language`, default English).

    The write-up entry sits above the newest update, so that update's gap is
    measured to the write-up (incident-page.md: `04:40 PM(2 days earlier)`).
    """
    updates = sorted(incident.updates, key=lambda u: u.display_at, reverse=True)
    newer: datetime | None = incident.writeup.published_at if incident.writeup else None
    phrase = (language or i18n.language(i18n.DEFAULT)).gap_phrase
    result = []
    for update in updates:
        result.append(Entry(update, gap_note(newer, update.display_at, phrase) if newer else None))
        newer = update.display_at
    return tuple(result)


def visible_components(components: tuple[ComponentView, ...]) -> tuple[ComponentView, ...]:
    """Drop components that only show while degraded and are operational, and
    groups left without members."""
    shown = []
    for component in components:
        if component.only_show_if_degraded and component.status is ComponentStatus.OPERATIONAL:
            continue
        if component.is_group:
            children = visible_components(component.children)
            if component.children and not children:
                continue
            component = replace(component, children=children)
        shown.append(component)
    return tuple(shown)


def past_incidents(state: PageState) -> tuple[IncidentView, ...]:
    """Incidents and maintenances that have happened or are happening, newest first."""
    return state.past


def past_days(state: PageState, days: int = PAST_DAYS) -> list[tuple[date, list[IncidentView]]]:
    """The last `days` days in the page's time zone, today first, with their incidents."""
    zone = state.page.zone
    today = state.generated_at.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    by_day: dict[date, list[IncidentView]] = {}
    for incident in past_incidents(state):
        day = occurred_at(incident).astimezone(zone).date()
        if day < first:
            break  # newest first: the rest is older still
        by_day.setdefault(day, []).append(incident)
    window = (today - timedelta(days=offset) for offset in range(days))
    return [(day, by_day.get(day, [])) for day in window]


class Renderer:
    """Renders the public pages to UTF-8 HTML. Build one and reuse it.

    With `relative_links`, pages link to each other by relative file paths (see
    `links.export_path`), for a static export that works under any host and prefix.
    """

    def __init__(self, *, relative_links: bool = False) -> None:
        self._env = _environment()
        self._relative_links = relative_links
        # Where the components section goes in the rendered home page: no escaped
        # text can contain it.
        self._slot = f"<!--components-{secrets.token_hex(8)}-->"
        self._components: tuple[tuple[ComponentView, ...], tuple[str, str], bytes] | None = None

    def home(self, state: PageState) -> bytes:
        return b"".join(self.home_parts(state))

    def home_parts(self, state: PageState) -> tuple[bytes, bytes, bytes]:
        """The home page as the parts before, of and after the components section.

        The section, with its uptime bars most of the page, is rendered again only
        when `state.components` is another object than last time (`state.reload`
        keeps it while no component changed) or the page's language or zone changed.
        """
        components = visible_components(state.components)
        html = self._render(
            "pages/home.html",
            state,
            "/",
            components=components,
            # Our own comment, no user text: safe as it is.
            components_section=Markup(self._slot),  # noqa: S704
            past_days=past_days(state),
        )
        before, slot, after = html.partition(self._slot.encode())
        if not slot:
            return html, b"", b""
        return before, self._components_section(state, components), after

    def _components_section(self, state: PageState, components: tuple[ComponentView, ...]) -> bytes:
        # The very same components, not equal ones: comparing bars one by one
        # would take as long as rendering them.
        key = (state.page.language, state.page.time_zone)
        cached = self._components
        if cached is not None and cached[0] is state.components and cached[1] == key:
            return cached[2]
        html = self._render("pages/_components.html", state, "/", components=components)
        self._components = (state.components, key, html)
        return html

    def incident(self, state: PageState, incident_id: str) -> bytes | None:
        """The page of an incident or a maintenance; None if there is no such id."""
        incident = _find(state, incident_id)
        if incident is None:
            return None
        return self._render(
            "pages/incident.html",
            state,
            f"/incidents/{incident_id}",
            incident=incident,
            entries=entries(incident, i18n.language(state.page.language)),
            affected=affected_by_group(incident),
            writeup_url=web_url(incident.writeup.url) if incident.writeup else None,
        )

    def writeup(self, state: PageState, incident_id: str) -> bytes | None:
        """The Markdown write-up of an incident; None unless it has one."""
        incident = _find(state, incident_id)
        if incident is None or incident.writeup is None or not incident.writeup.body:
            return None
        return self._render(
            "pages/writeup.html",
            state,
            f"/incidents/{incident_id}/write-up",
            incident=incident,
            writeup=incident.writeup,
        )

    def history(self, state: PageState, page_number: int) -> bytes | None:
        """One page of past incidents, newest first; None past the last page.

        Page 1 always exists, even with no incidents.
        """
        incidents = past_incidents(state)
        page_count = max(1, math.ceil(len(incidents) / HISTORY_PER_PAGE))
        if not 1 <= page_number <= page_count:
            return None
        first = (page_number - 1) * HISTORY_PER_PAGE
        shown = incidents[first : first + HISTORY_PER_PAGE]
        zone = state.page.zone

        def month(incident: IncidentView) -> date:
            return occurred_at(incident).astimezone(zone).date().replace(day=1)

        return self._render(
            "pages/history.html",
            state,
            f"/history?page={page_number}",
            months=[(key, list(group)) for key, group in groupby(shown, key=month)],
            page_number=page_number,
            page_count=page_count,
        )

    def theme(self, state: PageState) -> bytes:
        """The page's accent colour as a stylesheet; empty when there is none (or it is invalid)."""
        accent = valid_accent(state.page.accent_color)
        return f":root {{ --accent: {accent}; }}\n".encode() if accent else b""

    def error(self, status: int, message: str, language: str = i18n.DEFAULT) -> bytes:
        """A bare error page; it needs no page state, as the page may not exist."""
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
        html = self._env.get_template("pages/error.html").render(
            page=None,
            accent=None,
            logo_url=None,
            title=title,
            message=message,
            link=LIVE,
            language=i18n.language(language),
        )
        return html.encode("utf-8")

    def _render(self, template: str, state: PageState, path: str, **context: Any) -> bytes:
        """Render the page at site path `path` (its links are relative to it, if asked)."""
        page = state.page
        link = Links(export_path(path), page.url) if self._relative_links else LIVE
        logo_url = web_url(page.logo_url, allow_root_relative=True)
        html = self._env.get_template(template).render(
            state=state,
            page=page,
            zone=page.zone,
            accent=valid_accent(page.accent_color),
            logo_url=link(logo_url) if logo_url else None,
            link=link,
            language=i18n.language(page.language),
            **context,
        )
        return html.encode("utf-8")


def _find(state: PageState, incident_id: str) -> IncidentView | None:
    found = state.by_id.get(incident_id)
    if found is not None:
        return found
    return next((i for i in (*state.incidents, *state.maintenances) if i.id == incident_id), None)
