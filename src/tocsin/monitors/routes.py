"""Heartbeat pings: the public, unauthenticated URL a cron job or service calls."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from tocsin.deps import SessionDep
from tocsin.monitors import service as monitors

router = APIRouter(tags=["heartbeats"])

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_HEADERS = {"Cache-Control": "no-store"}


# Left out of the OpenAPI document: one handler for three methods would repeat one
# operation id three times; cron jobs need only the URL.
@router.api_route("/ping/{token}", methods=["GET", "POST", "HEAD"], include_in_schema=False)
def ping(token: str, session: SessionDep) -> PlainTextResponse:
    """Record a heartbeat. Any body is ignored; repeated pings within a second count once."""
    if _TOKEN.fullmatch(token) is None or not monitors.record_ping(session, token=token):
        return PlainTextResponse("not found\n", status_code=404, headers=_HEADERS)
    return PlainTextResponse("OK\n", headers=_HEADERS)
