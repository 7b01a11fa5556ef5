"""What the HTTP channels share: hardened clients, posting, and status mapping."""

from __future__ import annotations

import json
import ssl
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from tocsin.lib import http
from tocsin.lib.http import OutboundError
from tocsin.notify.base import NotifyError
from tocsin.settings import Settings

JSON_HEADERS = {"Content-Type": "application/json"}


def make_client(
    settings: Settings,
    *,
    allow_private: bool | None = None,
    connections: int | None = None,
    verify: bool | ssl.SSLContext = True,
) -> httpx.AsyncClient:
    """A client for subscriber endpoints: private targets only if the setting allows them;
    up to `connections` at once (default: the worker's whole concurrency).

    Redirects are not followed: Statuspage counts a 3xx as a failure, and a hop is one
    more place a subscriber-chosen URL could lead.
    """
    private = settings.webhooks_allow_private if allow_private is None else allow_private
    width = connections or settings.delivery_concurrency
    return http.make_client(
        allow_private=private,
        timeout=settings.delivery_timeout_seconds,
        max_redirects=0,
        verify=verify,
        limits=httpx.Limits(max_connections=width, max_keepalive_connections=width),
    )


class Clients:
    """Clients of one connection each, lent to one sender at a time, per origin.

    The worker sends to one destination at most `delivery_per_destination` at a time, so
    that many clients per origin are the most it makes. A pool shared by several senders
    costs httpcore a look through all its connections for each request, and it often
    hands one idle connection to two waiting requests, the loser going round again: with
    ten senders on a pool of ten, that was a third of a webhook's CPU. A connection of its
    own per sender never waits.

    Idle clients beyond the `kept` used last are closed.
    """

    def __init__(self, make: Callable[[], httpx.AsyncClient], *, kept: int) -> None:
        self._make = make
        self._kept = kept
        self._idle: OrderedDict[str, list[httpx.AsyncClient]] = OrderedDict()
        self._idle_count = 0

    @classmethod
    def per_destination(cls, settings: Settings) -> Clients:
        """Together, about as many connections as the worker sends at once."""
        # One context for all: loading the CA bundle takes milliseconds per client.
        context = httpx.create_ssl_context(trust_env=False)
        return cls(
            lambda: make_client(settings, connections=1, verify=context),
            kept=settings.delivery_concurrency,
        )

    def take(self, url: str | None) -> tuple[str, httpx.AsyncClient]:
        """A client for `url`'s origin, the caller's alone until `give_back`."""
        origin = _origin(url)
        idle = self._idle.get(origin)
        if not idle:
            return origin, self._make()
        self._idle_count -= 1
        return origin, idle.pop()

    async def give_back(self, origin: str, client: httpx.AsyncClient) -> None:
        self._idle.setdefault(origin, []).append(client)
        self._idle.move_to_end(origin)
        self._idle_count += 1
        while self._idle_count > self._kept:
            # The origin used longest ago; chosen and removed before the first await, so
            # that concurrent senders see a consistent map.
            oldest = next(iter(self._idle))
            closing = self._idle[oldest].pop(0)
            if not self._idle[oldest]:
                del self._idle[oldest]
            self._idle_count -= 1
            await closing.aclose()

    async def aclose(self) -> None:
        idle, self._idle, self._idle_count = self._idle, OrderedDict(), 0
        for clients in idle.values():
            for client in clients:
                await client.aclose()


def _origin(url: str | None) -> str:
    try:
        parts = urlsplit(url or "")
        return f"{parts.scheme}://{parts.hostname}:{parts.port}"
    except ValueError:
        # Not a URL a request can be made to; posting reports why.
        return ""


def encode_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def post(
    client: httpx.AsyncClient,
    url: str | None,
    *,
    content: bytes,
    headers: Mapping[str, str] = JSON_HEADERS,
) -> httpx.Response:
    """POST and return the response whatever its status; raise NotifyError if none came."""
    if not url:
        raise NotifyError("the subscriber has no endpoint", permanent=True)
    try:
        return await http.request(client, "POST", url, headers=headers, content=content)
    except OutboundError as exc:
        raise NotifyError(exc.message, permanent=exc.permanent) from exc


def check(
    response: httpx.Response,
    *,
    permanent: Collection[int] = (),
    temporary: Collection[int] = (),
    detail: str = "",
) -> None:
    """Raise NotifyError unless the response is 2xx.

    4xx is permanent except 408/425/429, 5xx and 3xx as lib/http maps them; a channel
    overrides single codes with `permanent` / `temporary` where its vendor means otherwise.
    """
    code = response.status_code
    if 200 <= code < 300:
        return
    message = f"HTTP {code} {response.reason_phrase}".rstrip() + (f": {detail}" if detail else "")
    wait = retry_after(response)
    if code in permanent or code in temporary:
        raise NotifyError(message, permanent=code in permanent, retry_after=wait)
    if code < 400:
        raise NotifyError(f"{message} (redirects are not followed)", permanent=True)
    try:
        http.raise_for_status(response)
    except OutboundError as exc:
        raise NotifyError(message, permanent=exc.permanent, retry_after=wait) from exc


def retry_after(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """The seconds a `Retry-After` header asks for (a number or an HTTP date, RFC 9110
    §10.2.3), or None when there is none that can be read."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
