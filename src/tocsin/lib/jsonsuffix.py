"""Let `/x.json` reach the route for `/x`, as Statuspage clients use both spellings."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class StripJsonSuffix:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(self.prefix) and path.endswith(".json"):
            scope = {**scope, "path": path[: -len(".json")]}
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].removesuffix(b".json")
        await self.app(scope, receive, send)
