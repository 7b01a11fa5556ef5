"""What the HTTP channels share: hardened clients, posting, and status mapping."""

from __future__ import annotations

import json
import ssl
from collections import Counter, OrderedDict
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
    """A client, with its own connection pool, for each origin a channel posts to.

    The worker sends to one destination at most `delivery_per_destination` at a time, so
    a pool that size per origin is enough. One pool for every destination needs the whole
    concurrency, and httpcore looks through all of a pool's connections for each request
    it places: with 200 connections, a webhook cost seven times the CPU it does with 10.
    Clients in use are never closed; idle ones beyond the `kept` used last are.
    """

    def __init__(self, make: Callable[[], httpx.AsyncClient], *, kept: int) -> None:
        self._make = make
        self._kept = kept
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._busy: Counter[str] = Counter()

    @classmethod
    def per_destination(cls, settings: Settings) -> Clients:
        """As many connections per origin as the worker sends at once to a destination,
        and together about as many as it sends at all."""
        # One context for all: loading the CA bundle takes milliseconds per client.
        context = httpx.create_ssl_context(trust_env=False)
        width = settings.delivery_per_destination
        return cls(
            lambda: make_client(settings, connections=width, verify=context),
            kept=max(settings.delivery_concurrency // width, 1),
        )

    async def take(self, url: str | None) -> tuple[str, httpx.AsyncClient]:
        """The client for `url`'s origin, marked as in use until `give_back(origin)`."""
        origin = _origin(url)
        # In use from here on, so that making room never closes the client it hands out.
        self._busy[origin] += 1
        client = self._clients.get(origin)
        if client is not None:
            self._clients.move_to_end(origin)
            return origin, client
        client = self._clients[origin] = self._make()
        try:
            await self._close_idle()
        except BaseException:
            self.give_back(origin)
            raise
        return origin, client

    def give_back(self, origin: str) -> None:
        self._busy[origin] -= 1
        if not self._busy[origin]:
            del self._busy[origin]

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()

    async def _close_idle(self) -> None:
        # Chosen and removed before the first await, so that concurrent sends see a
        # consistent map.
        excess = len(self._clients) - self._kept
        idle = [origin for origin in self._clients if origin not in self._busy][: max(excess, 0)]
        closing = [self._clients.pop(origin) for origin in idle]
        for client in closing:
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
