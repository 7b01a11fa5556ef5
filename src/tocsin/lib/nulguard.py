"""Refuse NUL in a request's path or query: PostgreSQL cannot compare text containing it."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

MESSAGE = "the address contains a NUL character"
BODY = json.dumps({"error": MESSAGE, "message": MESSAGE}).encode()


class RejectNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": BODY})
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query
