"""The contract between the delivery worker and the channels (email, webhook, Slack…)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from tocsin.notify.models import NotificationKind, SubscriberMode


class NotifyError(Exception):
    """A failed send. Permanent errors (bounced address, 4xx, 410 from Slack) are not retried.

    `retry_after` is how many seconds the receiver asked us to wait (HTTP `Retry-After`
    on a 429 or 503): the next attempt is then, rather than after the usual backoff.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Recipient:
    subscriber_id: str
    mode: SubscriberMode
    email: str | None
    endpoint: str | None
    phone_number: str | None


@dataclass(frozen=True)
class Links:
    """Addresses a message may carry; each already holds its signed token."""

    page: str
    incident: str | None
    manage: str
    unsubscribe: str
    """RFC 8058 one-click: a POST here unsubscribes with no further step."""
    confirm: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One delivery ready to send."""

    delivery_id: int
    idempotency_key: str
    """The same on every attempt: `Message-ID` for email, a header for webhooks."""
    kind: NotificationKind
    payload: dict[str, Any]
    recipient: Recipient
    links: Links
    attempt: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class Notifier(ABC):
    """Sends messages of one channel. One instance serves many messages and may keep
    connections open between them; the worker closes it when done."""

    @abstractmethod
    async def send(self, message: Outgoing) -> None:
        """Deliver one message or raise NotifyError; any other exception is a bug."""

    async def aclose(self) -> None:
        return None
