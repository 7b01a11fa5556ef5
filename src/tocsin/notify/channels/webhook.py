"""Webhooks with Statuspage's incident payload (statuspage-api.md §6.3), signed.

Each subscriber verifies with its own key, derived from the server's secret key and
the subscriber id (`signing_secret`), so no receiver ever holds the server's key and
none can forge messages to another. The signature covers the timestamp and the exact
body bytes: `X-Tocsin-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from tocsin.lib.isotime import iso
from tocsin.notify import render
from tocsin.notify.base import Notifier, Outgoing
from tocsin.notify.channels import _http
from tocsin.notify.models import NotificationKind
from tocsin.notify.render import IncidentSnapshot, Snapshot, UpdateSnapshot
from tocsin.settings import Settings

DOCUMENTATION = "https://help.statuspage.io/knowledge_base/topics/webhook-notifications"
SIGNATURE_HEADER = "X-Tocsin-Signature"
TIMESTAMP_HEADER = "X-Tocsin-Timestamp"


def signing_secret(secret_key: str, subscriber_id: str) -> str:
    """The key a webhook subscriber verifies signatures with (hex); show it to them."""
    return hmac.new(
        secret_key.encode(), f"webhook-signing:{subscriber_id}".encode(), hashlib.sha256
    ).hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Tocsin-Signature` value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookNotifier(Notifier):
    def __init__(self, *, clients: _http.Clients, secret_key: str) -> None:
        self._clients = clients
        self._secret_key = secret_key
        self._drafts = render.Drafts(_draft)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            clients=_http.Clients.per_destination(settings),
            secret_key=settings.resolved_secret_key(),
        )

    async def send(self, message: Outgoing) -> None:
        # Webhook subscribers are confirmed when created; a machine has nothing to click.
        if message.kind is NotificationKind.CONFIRM_SUBSCRIPTION:
            return
        draft = self._drafts.get(message)
        meta = {**draft.meta, "unsubscribe": message.links.unsubscribe, "generated_at": _now()}
        body = b'{"meta":' + _http.encode_json(meta) + draft.rest
        now = int(time.time())
        secret = signing_secret(self._secret_key, message.recipient.subscriber_id)
        headers = {
            **_http.JSON_HEADERS,
            "Idempotency-Key": message.idempotency_key,
            SIGNATURE_HEADER: signature(secret, now, body),
            TIMESTAMP_HEADER: str(now),
        }
        endpoint = message.recipient.endpoint
        origin, client = self._clients.take(endpoint)
        try:
            response = await _http.post(client, endpoint, content=body, headers=headers)
        finally:
            await self._clients.give_back(origin, client)
        _http.check(response)

    async def aclose(self) -> None:
        await self._clients.aclose()


@dataclass(frozen=True)
class _Draft:
    """A notification's payload as JSON, but for `meta`: of all its fields, only two
    there (the unsubscribe link and the time) differ between deliveries."""

    meta: dict[str, Any]
    rest: bytes
    """What follows `meta` in the JSON object: `,"page":{…},"incident":{…}}`."""


def _draft(message: Outgoing) -> _Draft:
    body = payload(message, render.parse_snapshot(message.payload))
    meta = body.pop("meta")
    # `page` is always there, so the rest is never empty.
    return _Draft(meta=meta, rest=b"," + _http.encode_json(body)[1:])


def payload(message: Outgoing, snapshot: Snapshot) -> dict[str, Any]:
    """Statuspage's `{meta, page, incident}`, with what the snapshot holds.

    `meta.event` is ours (the notification kind); Statuspage clients ignore it.
    """
    page = snapshot.page
    result: dict[str, Any] = {
        "meta": {
            "unsubscribe": message.links.unsubscribe,
            "documentation": DOCUMENTATION,
            "generated_at": _now(),
            "event": message.kind.value,
        },
        "page": {
            "id": page.id,
            "status_indicator": page.status_indicator,
            "status_description": page.status_description,
        },
    }
    if snapshot.incident is not None:
        result["incident"] = _incident(message, snapshot, snapshot.incident)
    return result


def _now() -> str | None:
    return iso(datetime.now(UTC))


def _incident(message: Outgoing, snapshot: Snapshot, incident: IncidentSnapshot) -> dict[str, Any]:
    page_id = snapshot.page.id
    return {
        "id": incident.id,
        "name": incident.name,
        "status": incident.status,
        "impact": incident.impact,
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "monitoring_at": iso(incident.monitoring_at),
        "resolved_at": iso(incident.resolved_at),
        "started_at": iso(incident.started_at),
        "scheduled_for": iso(incident.scheduled_for),
        "scheduled_until": iso(incident.scheduled_until),
        "shortlink": message.links.incident or message.links.page,
        "page_id": page_id,
        "incident_updates": [_update(incident, item) for item in _timeline(snapshot)],
        "components": [
            {"id": c.id, "name": c.name, "status": c.status, "page_id": page_id}
            for c in incident.components
        ],
    }


def _timeline(snapshot: Snapshot) -> list[UpdateSnapshot]:
    """Every update newest first, as Statuspage sends; older snapshots hold only the current one."""
    if snapshot.updates:
        return snapshot.updates
    return [] if snapshot.update is None else [snapshot.update]


def _update(incident: IncidentSnapshot, update: UpdateSnapshot) -> dict[str, Any]:
    changes = update.affected_components
    return {
        "id": update.id,
        "incident_id": incident.id,
        "status": update.status,
        "body": update.body,
        "created_at": iso(update.created_at),
        "updated_at": iso(update.created_at),
        "display_at": iso(update.display_at or update.created_at),
        "affected_components": None if changes is None else [c.model_dump() for c in changes],
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }
