"""Discord webhooks: one embed, coloured by impact, that can never mention anyone.

`allowed_mentions: {parse: []}` stops `@everyone` and role pings whatever the text
says, and user text is Markdown-escaped so it cannot pose as a link (security.md D.28).
"""

from __future__ import annotations

from typing import Any, Self

import httpx
from pydantic import BaseModel, ValidationError

from tocsin.notify import render
from tocsin.notify.base import Notifier, Outgoing
from tocsin.notify.channels import _http
from tocsin.notify.models import NotificationKind
from tocsin.notify.render import Composed
from tocsin.settings import Settings

# Embed limits: title 256, description 4096, field value 1024 (6000 in all).
_TITLE_MAX = 256
_DESCRIPTION_MAX = 3000
_FIELD_MAX = 1024

GREEN = 0x2ECC71
BLUE = 0x3498DB
GREY = 0x95A5A6
COLOURS = {"critical": 0xE74C3C, "major": 0xE67E22, "minor": 0xF1C40F, "maintenance": BLUE}
_DONE = frozenset({NotificationKind.INCIDENT_RESOLVED, NotificationKind.MAINTENANCE_COMPLETED})


class _Error(BaseModel):
    code: int = 0
    message: str = ""


class DiscordNotifier(Notifier):
    def __init__(self, *, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(client=_http.make_client(settings))

    async def send(self, message: Outgoing) -> None:
        body = _http.encode_json(discord_message(render.compose(message)))
        response = await _http.post(self._client, message.recipient.endpoint, content=body)
        # 404 (Unknown Webhook, 10015) and 401/403 (bad token) will not heal; a 400 is
        # our payload at fault; 429 is rate limiting and is retried.
        _http.check(response, permanent=(401, 403, 404), temporary=(400,), detail=_detail(response))

    async def aclose(self) -> None:
        await self._client.aclose()


def _detail(response: httpx.Response) -> str:
    try:
        error = _Error.model_validate_json(response.content)
    except ValidationError:
        return ""
    return render.clip(render.one_line(f"{error.code} {error.message}"), 100)


def colour(m: Composed) -> int:
    if m.kind in _DONE:
        return GREEN
    if m.kind.value.startswith("maintenance"):
        return BLUE
    return COLOURS.get(m.impact or "", GREY)


def discord_message(m: Composed) -> dict[str, Any]:
    embed: dict[str, Any] = {
        "title": render.clip(m.headline, _TITLE_MAX),
        "url": m.links.confirm if m.is_confirmation and m.links.confirm else m.target,
        "description": _description(m),
        "color": colour(m),
        "footer": {"text": render.clip(m.branding.name, _TITLE_MAX)},
    }
    fields = _fields(m)
    if fields:
        embed["fields"] = fields
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def _description(m: Composed) -> str:
    links = f"[Manage subscription]({m.links.manage}) · [Unsubscribe]({m.links.unsubscribe})"
    if m.is_confirmation:
        links = f"[Confirm subscription]({m.links.confirm or m.links.manage}) · {links}"
    clipped = render.clip(render.escape_markdown(m.summary), _DESCRIPTION_MAX)
    return f"{clipped}\n\n{links}" if clipped else links


def _fields(m: Composed) -> list[dict[str, Any]]:
    fields = []
    if m.status:
        fields.append({"name": "Status", "value": m.status, "inline": True})
    if m.posted:
        fields.append({"name": "Posted", "value": m.posted, "inline": True})
    if m.window:
        fields.append({"name": "Scheduled", "value": m.window, "inline": False})
    if m.changes:
        lines = [f"{c.name}: {c.transition}" for c in m.changes]
        value = render.clip(render.escape_markdown("\n".join(lines)), _FIELD_MAX)
        fields.append({"name": "Affected components", "value": value, "inline": False})
    return fields
