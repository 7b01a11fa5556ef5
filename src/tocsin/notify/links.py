"""The addresses that messages carry for a subscriber, each with its own signed token.

Tokens are HMACs over the subscriber's id and its `token_hash` (random per
subscription), so re-subscribing or rotating the hash revokes every old link, and
nothing secret is stored.
"""

from __future__ import annotations

import time
from typing import Protocol
from urllib.parse import quote

from tocsin.lib import signing
from tocsin.notify.base import Links

MANAGE = "manage"
UNSUBSCRIBE = "unsubscribe"
CONFIRM = "confirm"
CONFIRM_VALID_SECONDS = 7 * 24 * 3600


class Holder(Protocol):
    """What links are signed for: a subscriber, as an ORM object or a row of its columns."""

    @property
    def id(self) -> str: ...

    @property
    def token_hash(self) -> str: ...


def _subject(subscriber: Holder) -> str:
    return f"{subscriber.id}:{subscriber.token_hash}"


def token(secret: str, purpose: str, subscriber: Holder, *, now: float | None = None) -> str:
    expires = None
    if purpose == CONFIRM:
        expires = int((now if now is not None else time.time()) + CONFIRM_VALID_SECONDS)
    return signing.sign(secret, purpose, _subject(subscriber), expires_at=expires)


def check(
    secret: str, purpose: str, subscriber: Holder, value: str, *, now: float | None = None
) -> bool:
    return signing.verify(secret, purpose, _subject(subscriber), value, now=now)


def links_for(
    secret: str,
    subscriber: Holder,
    *,
    base_url: str,
    incident_id: str | None,
    now: float | None = None,
    confirm: bool = True,
) -> Links:
    """The subscriber's links; without `confirm`, no confirmation link (only the
    confirmation message carries one, and each link costs an HMAC)."""
    base = base_url.rstrip("/")

    def url(path: str, purpose: str) -> str:
        signed = quote(token(secret, purpose, subscriber, now=now))
        return f"{base}{path}/{subscriber.id}?token={signed}"

    return Links(
        page=f"{base}/",
        incident=f"{base}/incidents/{incident_id}" if incident_id else None,
        manage=url("/subscriptions", MANAGE),
        unsubscribe=url("/subscriptions/unsubscribe", UNSUBSCRIBE),
        confirm=url("/subscriptions/confirm", CONFIRM) if confirm else None,
    )
