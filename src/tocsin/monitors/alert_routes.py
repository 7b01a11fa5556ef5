"""Alert webhooks: public URLs that Alertmanager, Grafana or any JSON sender posts to.

The token in the path is the only credential. A wrong token, or one of another kind,
answers 404; a body that is not the kind's JSON shape answers 422.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from tocsin.api.v1.common import ErrorEntity, error_responses
from tocsin.db import utcnow
from tocsin.deps import SessionDep
from tocsin.errors import DomainError, NotFound
from tocsin.monitors import alerts
from tocsin.monitors.models import AlertSourceKind

router = APIRouter(tags=["alert hooks"])

MAX_BODY_BYTES = 1_000_000
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class TooLarge(DomainError):
    status_code = 413


async def read_capped(request: Request) -> bytes:
    """The body, read no further than MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge("request body is too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge("request body is too large")
    return bytes(body)


RawBody = Annotated[bytes, Depends(read_capped)]


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(404, 422),
    413: {"model": ErrorEntity, "description": "The body is larger than 1 MB."},
}


@router.post("/hooks/{kind}/{token}", responses=_RESPONSES)
def receive(kind: str, token: str, raw: RawBody, session: SessionDep) -> dict[str, int]:
    """Record the alerts of one notification against the source's rules."""
    try:
        source_kind = AlertSourceKind(kind)
    except ValueError:
        raise NotFound("not found") from None
    if _TOKEN.fullmatch(token) is None:
        raise NotFound("not found")
    source = alerts.find_source(session, kind=source_kind, token=token)
    parsed = alerts.parse_payload(source_kind, raw)
    done = alerts.ingest(session, source=source, alerts=parsed, now=utcnow())
    return {"alerts": done.alerts, "matched_rules": done.matched_rules}
