"""The audit log of a page: who did what, when and from where, filterable and exportable.
Admins and owners read it; it can name people and addresses, so editors and viewers cannot."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from tocsin.accounts.models import Role
from tocsin.admin.auth import OnPage, OnPageDep, csrf_protect, needs
from tocsin.admin.forms import zone_of
from tocsin.admin.render import render, secure_admin
from tocsin.audit import service as audit
from tocsin.audit.models import AuditEvent
from tocsin.components.uptime import local_midnight
from tocsin.deps import SessionDep
from tocsin.lib.csvsafe import write_csv
from tocsin.lib.timefmt import format_timestamp

router = APIRouter(
    prefix="/admin/pages/{page_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

PER_PAGE = 50
# An export is built in memory; the newest this many events is plenty for a review.
EXPORT_LIMIT = 100_000
MAX_PAGE = 10_000
_VALUE_CHARS = 200
# Where an event's object lives in the admin, by object type.
_OBJECT_PATHS = {
    "incident": "/incidents/{id}",
    "maintenance": "/maintenance/{id}",
    "component": "/components#c-{id}",
    "monitor": "/monitors/{id}",
}


class LogQuery(BaseModel):
    """The filters, as the form sends them (an empty field filters nothing)."""

    actor: str = Field(default="", max_length=255)
    action: str = Field(default="", max_length=64)
    object: str = Field(default="", max_length=32)
    since: str = Field(default="", max_length=10)
    until: str = Field(default="", max_length=10)
    p: int = Field(default=1, ge=1, le=MAX_PAGE)

    @property
    def filtering(self) -> bool:
        return any((self.actor, self.action, self.object, self.since, self.until))

    def link(self, path: str, **overrides: Any) -> str:
        """`path` with these filters (and `overrides`) as its query; empty fields left out."""
        fields = self.model_dump() | overrides
        query = urlencode({k: v for k, v in fields.items() if v != "" and (k, v) != ("p", 1)})
        return f"{path}?{query}" if query else path


_Query = Annotated[LogQuery, Query()]


@dataclass(frozen=True)
class Row:
    event: AuditEvent
    object_url: str | None
    changes: list[tuple[str, str]]


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, ctx: OnPageDep, session: SessionDep, q: _Query) -> Response:
    needs(ctx, Role.ADMIN)
    where, error = _filter(q, zone_of(ctx.page))
    events = audit.find_events(
        session,
        page_id=ctx.page.id,
        where=where,
        offset=(q.p - 1) * PER_PAGE,
        limit=PER_PAGE + 1,
    )
    return render(
        request,
        "admin/audit.html",
        ctx=ctx,
        section="audit",
        status_code=422 if error else 200,
        q=q,
        error=error,
        rows=[_row(ctx, event) for event in events[:PER_PAGE]],
        has_next=len(events) > PER_PAGE,
        choices=_choices(audit.facets(session, page_id=ctx.page.id)),
    )


@router.get("/audit.csv")
def audit_export(ctx: OnPageDep, session: SessionDep, q: _Query) -> Response:
    needs(ctx, Role.ADMIN)
    zone = zone_of(ctx.page)
    where, _ = _filter(q, zone)
    events = audit.find_events(session, page_id=ctx.page.id, where=where, limit=EXPORT_LIMIT)
    header = ["time_utc", f"time ({ctx.page.time_zone})", "actor", "ip", "action"]
    header += ["object_type", "object_id", "changes"]
    rows = [
        [
            event.created_at.astimezone(UTC).isoformat(),
            format_timestamp(event.created_at, zone),
            event.actor,
            event.ip or "",
            event.action,
            event.object_type,
            event.object_id or "",
            json.dumps(event.changes, sort_keys=True, ensure_ascii=False, default=str),
        ]
        for event in events
    ]
    response = Response(write_csv(header, rows), media_type="text/csv; charset=utf-8")
    response.headers["content-disposition"] = 'attachment; filename="audit-log.csv"'
    secure_admin(response)
    return response


def _choices(facets: audit.Facets) -> dict[str, list[tuple[str, str]]]:
    return {
        "actors": [("", "Anyone"), *((a, a) for a in facets.actors)],
        "actions": [("", "Any action"), *((a, a) for a in facets.actions)],
        "object_types": [("", "Any object"), *((o, o) for o in facets.object_types)],
    }


def _filter(q: LogQuery, zone: ZoneInfo) -> tuple[audit.EventFilter, str | None]:
    """The service's filter; dates are whole days in the page's zone, `until` included.

    An unreadable date is left out and reported, so the log still shows.
    """
    since, since_error = _day(q.since, "From")
    until, until_error = _day(q.until, "To")
    where = audit.EventFilter(
        actor=q.actor or None,
        action=q.action or None,
        object_type=q.object or None,
        since=local_midnight(since, zone) if since else None,
        until=local_midnight(until + timedelta(days=1), zone) if until else None,
    )
    return where, since_error or until_error


def _day(value: str, label: str) -> tuple[date | None, str | None]:
    if not value:
        return None, None
    try:
        return date.fromisoformat(value), None
    except ValueError:
        return None, f"{label}: enter a date as YYYY-MM-DD"


def _row(ctx: OnPage, event: AuditEvent) -> Row:
    path = _OBJECT_PATHS.get(event.object_type)
    url = None
    if path and event.object_id:
        url = f"/admin/pages/{ctx.page.id}" + path.format(id=event.object_id)
    return Row(event, url, [(key, _text(value)) for key, value in sorted(event.changes.items())])


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"
