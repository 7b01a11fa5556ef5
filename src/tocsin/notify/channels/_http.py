"""What the HTTP channels share: one hardened client each, posting, and status mapping."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

import httpx

from tocsin.lib import http
from tocsin.lib.http import OutboundError
from tocsin.notify.base import NotifyError
from tocsin.settings import Settings

JSON_HEADERS = {"Content-Type": "application/json"}


def make_client(settings: Settings, *, allow_private: bool | None = None) -> httpx.AsyncClient:
    """A client for subscriber endpoints: private targets only if the setting allows them.

    Redirects are not followed: Statuspage counts a 3xx as a failure, and a hop is one
    more place a subscriber-chosen URL could lead.
    """
    private = settings.webhooks_allow_private if allow_private is None else allow_private
    return http.make_client(
        allow_private=private,
        timeout=settings.delivery_timeout_seconds,
        max_redirects=0,
        limits=httpx.Limits(
            max_connections=settings.delivery_concurrency,
            max_keepalive_connections=settings.delivery_concurrency,
        ),
    )


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
    if code in permanent or code in temporary:
        raise NotifyError(message, permanent=code in permanent)
    if code < 400:
        raise NotifyError(f"{message} (redirects are not followed)", permanent=True)
    try:
        http.raise_for_status(response)
    except OutboundError as exc:
        raise NotifyError(message, permanent=exc.permanent) from exc
