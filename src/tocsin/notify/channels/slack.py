"""Slack incoming webhooks: a `text` fallback plus Block Kit blocks.

User-written text goes into `plain_text` objects, which Slack shows as is; the only
mrkdwn fields are escaped (`&`, `<`, `>`), so a title cannot hold `<!channel>` or a
spoofed `<https://evil|status.example.com>` link (security.md D.28).
"""

from __future__ import annotations

from typing import Any, Self

import httpx

from tocsin.notify import render
from tocsin.notify.base import Notifier, Outgoing
from tocsin.notify.channels import _http
from tocsin.notify.render import Composed
from tocsin.settings import Settings

# Block Kit limits: header text 150 characters, section text 3000.
_HEADER_MAX = 150
_SECTION_MAX = 3000


class SlackNotifier(Notifier):
    def __init__(self, *, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(client=_http.make_client(settings))

    async def send(self, message: Outgoing) -> None:
        body = _http.encode_json(slack_message(render.compose(message)))
        response = await _http.post(self._client, message.recipient.endpoint, content=body)
        # 404 no_service / channel_not_found, 410 channel_is_archived and 403
        # action_prohibited / invalid_token will not heal; a 400 (invalid_payload) is our
        # message at fault, which must not cost the subscriber their subscription.
        _http.check(
            response,
            permanent=(403, 404, 410),
            temporary=(400,),
            detail=render.clip(render.one_line(response.text), 100),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def escape(text: str) -> str:
    """Slack's three control characters as entities (api.slack.com, "Escaping text")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(m: Composed) -> dict[str, Any]:
    if m.is_confirmation:
        blocks = _confirmation_blocks(m)
    else:
        blocks = [*_summary_blocks(m), *_detail_blocks(m), _button(_view_label(m), m.target)]
    blocks.append(_footer(m))
    return {"text": escape(f"[{m.branding.name}] {m.headline}"), "blocks": blocks}


def _summary_blocks(m: Composed) -> list[dict[str, Any]]:
    facts = [m.branding.name, *(v for v in (m.status, m.posted) if v)]
    blocks: list[dict[str, Any]] = [_header(m.headline), _context(" · ".join(facts))]
    if m.window:
        blocks.append(_context(f"Scheduled: {m.window}"))
    return blocks


def _detail_blocks(m: Composed) -> list[dict[str, Any]]:
    blocks = []
    if m.summary:
        blocks.append(_section(m.summary))
    if m.changes:
        lines = [f"• {c.name}: {c.transition}" for c in m.changes]
        blocks.append(_section("Affected components\n" + "\n".join(lines)))
    return blocks


def _confirmation_blocks(m: Composed) -> list[dict[str, Any]]:
    return [
        _header(m.headline),
        _section(m.summary),
        _button("Confirm subscription", m.links.confirm or m.links.manage),
    ]


def _view_label(m: Composed) -> str:
    return "View incident" if m.links.incident else "View status page"


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(render.clip(text, _HEADER_MAX))}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _plain(render.clip(text, _SECTION_MAX))}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_plain(render.clip(text, _SECTION_MAX))]}


def _button(label: str, url: str) -> dict[str, Any]:
    return {"type": "actions", "elements": [{"type": "button", "text": _plain(label), "url": url}]}


def _footer(m: Composed) -> dict[str, Any]:
    links = (
        f"<{escape(m.links.manage)}|Manage subscription> · "
        f"<{escape(m.links.unsubscribe)}|Unsubscribe>"
    )
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": links}]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}
