"""Microsoft Teams incoming webhooks (Workflows): one Adaptive Card per message.

Adaptive Card text blocks render a Markdown subset, so user text is escaped; plain
`@name` text never mentions anyone in Teams (that needs explicit mention entities).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import httpx

from tocsin.notify import render
from tocsin.notify.base import Notifier, Outgoing
from tocsin.notify.channels import _http
from tocsin.notify.models import NotificationKind
from tocsin.notify.render import Composed
from tocsin.settings import Settings

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
_TEXT_MAX = 3000
_COLOURS = {"critical": "Attention", "major": "Attention", "minor": "Warning"}
_DONE = frozenset({NotificationKind.INCIDENT_RESOLVED, NotificationKind.MAINTENANCE_COMPLETED})


class TeamsNotifier(Notifier):
    def __init__(self, *, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(client=_http.make_client(settings))

    async def send(self, message: Outgoing) -> None:
        body = _http.encode_json(teams_message(render.compose(message)))
        response = await _http.post(self._client, message.recipient.endpoint, content=body)
        # A deleted workflow answers 404, a revoked signature 401/403; a 400 is our card.
        _http.check(response, permanent=(401, 403, 404), temporary=(400,))

    async def aclose(self) -> None:
        await self._client.aclose()


def teams_message(m: Composed) -> dict[str, Any]:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": _body(m),
        "actions": _actions(m),
    }
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}],
    }


def colour(m: Composed) -> str:
    if m.kind in _DONE:
        return "Good"
    if m.kind.value.startswith("maintenance"):
        return "Accent"
    return _COLOURS.get(m.impact or "", "Default")


def _body(m: Composed) -> list[dict[str, Any]]:
    body = [
        _text(m.branding.name, size="Small", isSubtle=True),
        _text(m.headline, size="Large", weight="Bolder", color=colour(m)),
    ]
    facts = [("Status", m.status), ("Posted", m.posted), ("Scheduled", m.window)]
    if any(value for _, value in facts):
        body.append(_facts([(name, value) for name, value in facts if value]))
    if m.summary:
        body.append(_text(render.clip(m.summary, _TEXT_MAX)))
    if m.changes:
        body.append(_text("Affected components", weight="Bolder"))
        body.append(_facts([(c.name, c.transition) for c in m.changes]))
    return body


def _actions(m: Composed) -> list[dict[str, Any]]:
    first = (
        ("Confirm subscription", m.links.confirm or m.links.manage)
        if m.is_confirmation
        else ("View incident" if m.links.incident else "View status page", m.target)
    )
    links = [first, ("Manage subscription", m.links.manage), ("Unsubscribe", m.links.unsubscribe)]
    return [{"type": "Action.OpenUrl", "title": title, "url": url} for title, url in links]


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": render.escape_markdown(text), "wrap": True, **style}


def _facts(pairs: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    return {
        "type": "FactSet",
        "facts": [
            {"title": render.escape_markdown(k), "value": render.escape_markdown(v or "")}
            for k, v in pairs
        ],
    }
