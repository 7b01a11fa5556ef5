"""Shields-style flat SVG status badges, from a `PageState`.

Labels and colours may come from query parameters (security.md A.5): every
text is XML-escaped and cut to a bounded length, and a colour is used only if
it is a hex colour or one of a few names. The SVG has no `<style>` and no
script, only presentation attributes.
"""

from __future__ import annotations

import re
import unicodedata
from xml.sax.saxutils import escape

from tocsin.components.status import LABELS, ComponentStatus, Indicator
from tocsin.pages.feeds import xml_text
from tocsin.pages.view import ComponentView, PageState

MAX_LABEL = 40
DEFAULT_LABEL = "status"

_HEX = re.compile(r"#?((?:[0-9a-fA-F]{3}){1,2}|(?:[0-9a-fA-F]{4}){1,2})")
NAMED_COLORS: dict[str, str] = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "grey": "#555",
    "gray": "#555",
    "lightgrey": "#9f9f9f",
}
_LABEL_COLOR = "#555"

INDICATOR_COLORS: dict[Indicator, str] = {
    Indicator.NONE: NAMED_COLORS["brightgreen"],
    Indicator.MINOR: NAMED_COLORS["yellow"],
    Indicator.MAJOR: NAMED_COLORS["orange"],
    Indicator.CRITICAL: NAMED_COLORS["red"],
    Indicator.MAINTENANCE: NAMED_COLORS["blue"],
}
STATUS_COLORS: dict[ComponentStatus, str] = {
    ComponentStatus.OPERATIONAL: NAMED_COLORS["brightgreen"],
    ComponentStatus.DEGRADED_PERFORMANCE: NAMED_COLORS["yellow"],
    ComponentStatus.PARTIAL_OUTAGE: NAMED_COLORS["orange"],
    ComponentStatus.MAJOR_OUTAGE: NAMED_COLORS["red"],
    ComponentStatus.UNDER_MAINTENANCE: NAMED_COLORS["blue"],
}

# Rough advance widths of Verdana at 11px, which the badge asks for. Exact
# metrics do not matter: each text is stretched to the width estimated here.
_NARROW = frozenset("il.,:;|!'`")
_SLIM = frozenset("fjrtI()[]{} -/\\")
_WIDE = frozenset("mwMW@%")


def _char_width(char: str) -> float:
    if char in _NARROW:
        return 3.2
    if char in _SLIM:
        return 4.4
    if char in _WIDE:
        return 9.8
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 11.0
    return 7.6 if char.isupper() else 6.8


def text_width(text: str) -> float:
    return sum(_char_width(char) for char in text)


def valid_color(color: str | None) -> str | None:
    """`#rgb`-style hex for a hex colour (with or without `#`) or a known name, else None."""
    if not color:
        return None
    if color.lower() in NAMED_COLORS:
        return NAMED_COLORS[color.lower()]
    match = _HEX.fullmatch(color)
    return f"#{match.group(1).lower()}" if match else None


def _clean(text: str) -> str:
    text = " ".join(xml_text(text).split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _text(x: float, width: float, value: str) -> str:
    attributes = f'x="{x:.1f}" textLength="{width:.1f}" lengthAdjust="spacingAndGlyphs"'
    return (
        f'<text {attributes} y="15" fill="#010101" fill-opacity=".3">{value}</text>'
        f'<text {attributes} y="14">{value}</text>'
    )


def render_badge(label: str, message: str, color: str) -> bytes:
    """A 20px-high two-part badge; `color` must already be valid."""
    label, message = _clean(label), _clean(message)
    label_text, message_text = text_width(label), text_width(message)
    left, right = round(label_text + 10), round(message_text + 10)
    total = left + right
    title = escape(f"{label}: {message}", {'"': "&quot;"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" '
        f'role="img" aria-label="{title}"><title>{title}</title>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="{_LABEL_COLOR}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f"{_text(left / 2, label_text, escape(label))}"
        f"{_text(left + right / 2, message_text, escape(message))}"
        "</g></svg>"
    ).encode()


def page_badge(state: PageState, *, label: str | None = None, color: str | None = None) -> bytes:
    """The overall status; `label` and `color` are untrusted overrides."""
    return render_badge(
        label or DEFAULT_LABEL,
        state.description,
        valid_color(color) or INDICATOR_COLORS[state.indicator],
    )


def _find(components: tuple[ComponentView, ...], component_id: str) -> ComponentView | None:
    for view in components:
        if view.id == component_id:
            return view
        found = _find(view.children, component_id)
        if found is not None:
            return found
    return None


def component_badge(
    state: PageState, component_id: str, *, label: str | None = None, color: str | None = None
) -> bytes | None:
    """A component's (or group's) status under its name; None if the page has no such id."""
    view = _find(state.components, component_id)
    if view is None:
        return None
    return render_badge(
        label or view.name,
        LABELS[view.status],
        valid_color(color) or STATUS_COLORS[view.status],
    )
