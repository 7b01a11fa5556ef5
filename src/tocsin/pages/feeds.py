"""Incident history as RSS 2.0 and Atom, and maintenance as iCalendar, from a `PageState`.

feedgen and icalendar do the escaping; the only markup we hand them is
sanitised Markdown, which they escape again as element text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]
from icalendar import Calendar, Event
from markupsafe import Markup

from tocsin.incidents.status import LABELS, IncidentKind
from tocsin.lib.markdown import render_markdown
from tocsin.lib.timefmt import format_timestamp
from tocsin.pages.v2 import incident_url
from tocsin.pages.view import IncidentView, PageState

MAX_ENTRIES = 50

# Characters XML 1.0 cannot carry at all, not even escaped; lxml refuses them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_UPDATE = Markup("<p><small>{}</small><br><strong>{}</strong></p>{}")


def xml_text(text: str) -> str:
    """`text` without the control characters that would make an XML document invalid."""
    return _NOT_XML.sub("", text)


def _published(view: IncidentView) -> datetime:
    # A maintenance is news when announced, not when its window opens.
    return view.created_at if view.kind is IncidentKind.MAINTENANCE else view.started_at


def _content(state: PageState, view: IncidentView) -> str:
    """Every update, newest first, as sanitised HTML."""
    parts = [
        _UPDATE.format(
            format_timestamp(update.display_at, state.page.zone),
            LABELS[update.status],
            render_markdown(update.body),
        )
        for update in view.updates
    ]
    return xml_text("".join(parts))


def _history(state: PageState) -> list[IncidentView]:
    # Realtime incidents are already newest first, so only their first entries can
    # make the list: no need to sort thousands of them.
    candidates = [*state.incidents[:MAX_ENTRIES], *state.maintenances]
    return sorted(candidates, key=_published, reverse=True)[:MAX_ENTRIES]


def _generator(state: PageState, self_path: str) -> FeedGenerator:
    base = state.page.url.rstrip("/")
    feed = FeedGenerator()
    feed.id(f"{base}/history")
    feed.title(xml_text(f"{state.page.name} status - Incident history"))
    feed.description(xml_text(f"Incidents and maintenance on the {state.page.name} status page"))
    # RSS keeps only the last link as the channel's <link>: the HTML page.
    feed.link(href=f"{base}{self_path}", rel="self")
    feed.link(href=f"{base}/history", rel="alternate")
    feed.language("en")
    feed.generator("Tocsin")
    # feedgen stamps the current time unless told otherwise; the state's time
    # keeps the body, and so its ETag, stable.
    feed.updated(state.page.updated_at)
    for view in _history(state):
        url = incident_url(state, view.id)
        entry = feed.add_entry(order="append")
        entry.id(url)
        entry.guid(url, permalink=True)
        # feedgen refuses an empty title, and a name of control characters cleans to "".
        entry.title(xml_text(view.name).strip() or "Untitled incident")
        entry.link(href=url, rel="alternate")
        entry.published(_published(view))
        entry.updated(view.updated_at)
        entry.content(_content(state, view), type="html")
    return feed


def rss(state: PageState) -> bytes:
    body: bytes = _generator(state, "/history.rss").rss_str(pretty=True)
    return body


def atom(state: PageState) -> bytes:
    body: bytes = _generator(state, "/history.atom").atom_str(pretty=True)
    return body


def _plain_updates(view: IncidentView) -> str:
    return "\n\n".join(f"{LABELS[u.status]}: {u.body}" for u in view.updates)


def _event(state: PageState, view: IncidentView, host: str) -> Event:
    start = (view.scheduled_for or view.started_at).astimezone(UTC)
    end = (view.scheduled_until or view.resolved_at or start).astimezone(UTC)
    event = Event()
    event.add("uid", f"{view.id}@{host}")
    event.add("dtstamp", view.updated_at.astimezone(UTC))
    event.add("created", view.created_at.astimezone(UTC))
    event.add("last-modified", view.updated_at.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", view.name)
    event.add("description", _plain_updates(view))
    event.add("url", incident_url(state, view.id))
    # Tocsin has no cancelled maintenance (a withdrawn one is deleted and
    # leaves the feed), so every window listed is confirmed.
    event.add("status", "CONFIRMED")
    return event


def calendar(state: PageState) -> bytes:
    """Every maintenance as a VEVENT; UIDs stay stable so calendars update in place."""
    host = urlsplit(state.page.url).hostname or "tocsin.invalid"
    cal = Calendar()
    cal.add("prodid", "-//Tocsin//Maintenance calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{state.page.name} maintenance")
    for view in state.maintenances:
        cal.add_component(_event(state, view, host))
    body: bytes = cal.to_ical()
    return body
