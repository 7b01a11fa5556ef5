"""Public, unauthenticated artifacts: the Status API v2, feeds, calendar and badges.

Handlers only pick the page (by Host) and wrap a body built from its
`PageState` with caching headers, so each body can also be served from a
snapshot or exported as a static file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from tocsin.errors import NotFound
from tocsin.pages import badges, feeds, v2
from tocsin.pages.deps import StateDep
from tocsin.pages.view import PageState

router = APIRouter()

API_CACHE = "public, max-age=10, stale-while-revalidate=30"
FEED_CACHE = "public, max-age=60"
# Badges are revalidated on every view (cheap with the ETag), so an embedded
# badge never shows a stale status for long.
BADGE_CACHE = "no-cache"
CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
}
_TAG = "Public status API v2"


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


def _cached(
    request: Request,
    body: bytes,
    *,
    media_type: str,
    cache_control: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """`body` with a strong ETag, or an empty 304 if the client already has it."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    all_headers = {**(headers or {}), "ETag": etag, "Cache-Control": cache_control}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=all_headers)
    return Response(body, media_type=media_type, headers=all_headers)


def _v2_endpoint(build: Callable[[PageState], v2.JSONDict]) -> Callable[..., Response]:
    def endpoint(request: Request, state: StateDep) -> Response:
        return _cached(
            request,
            v2.encode(build(state)),
            media_type="application/json",
            cache_control=API_CACHE,
            headers=CORS,
        )

    return endpoint


def _responses(shape: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "The page's data; the page is chosen by the Host header.",
            "content": {"application/json": {"schema": v2.SCHEMAS[shape]}},
        }
    }


# (path, body, its shape in v2.SCHEMAS, summary, Statuspage's own description)
_V2: tuple[tuple[str, Callable[[PageState], v2.JSONDict], str, str, str], ...] = (
    (
        "summary.json", v2.summary, "summary", "Summary",
        "Get a summary of the status page, including a status indicator, component statuses, "
        "unresolved incidents, and any upcoming or in-progress scheduled maintenances.",
    ),
    (
        "status.json", v2.status, "status", "Status",
        "Get the status rollup for the whole page. This endpoint includes an indicator - one "
        "of none, minor, major, critical or maintenance, as well as a human description of "
        "the blended component status.",
    ),
    (
        "components.json", v2.components, "components", "Components",
        "Get the components for the page. Groups are rows with `group: true` and a "
        "`components` array of their members' ids.",
    ),
    (
        "incidents.json", v2.incidents, "incidents", "Incidents",
        "Get a list of the 50 most recent incidents. This includes all unresolved incidents "
        "as well as those in the Resolved and Postmortem state.",
    ),
    (
        "incidents/unresolved.json", v2.unresolved_incidents, "incidents", "Unresolved incidents",
        "Get a list of any unresolved incidents: those in the Investigating, Identified, or "
        "Monitoring state.",
    ),
    (
        "incidents/resolved.json", v2.resolved_incidents, "incidents", "Resolved incidents",
        "Get a list of the 50 most recent incidents in the Resolved or Postmortem state.",
    ),
    (
        "scheduled-maintenances.json", v2.scheduled_maintenances, "scheduled_maintenances",
        "Scheduled maintenances",
        "Get a list of the 50 most recent scheduled maintenances, including those in the "
        "Completed state.",
    ),
    (
        "scheduled-maintenances/upcoming.json", v2.upcoming_maintenances, "scheduled_maintenances",
        "Upcoming maintenances",
        "Get a list of any upcoming maintenances: those still in the Scheduled state.",
    ),
    (
        "scheduled-maintenances/active.json", v2.active_maintenances, "scheduled_maintenances",
        "Active maintenances",
        "Get a list of any active maintenances: those in the In Progress or Verifying state.",
    ),
)  # fmt: skip

for _path, _build, _shape, _summary, _description in _V2:
    router.add_api_route(
        f"/api/v2/{_path}",
        _v2_endpoint(_build),
        methods=["GET"],
        name=f"v2_{_build.__name__}",
        summary=_summary,
        description=_description,
        tags=[_TAG],
        response_class=Response,
        responses=_responses(_shape),
    )


class _PreflightRoute(APIRoute):
    """Matches OPTIONS only, so that other methods on unknown paths still get 404, not 405."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("method") != "OPTIONS":
            return Match.NONE, {}
        return super().matches(scope)


def preflight(path: str) -> Response:
    """CORS preflight for cross-origin clients (se-v2.js with an API key, unsubscribes)."""
    return Response(status_code=204, headers=PREFLIGHT)


router.add_api_route(
    "/api/v2/{path:path}",
    preflight,
    methods=["OPTIONS"],
    include_in_schema=False,
    route_class_override=_PreflightRoute,
)


@router.get("/history.rss", include_in_schema=False)
def history_rss(request: Request, state: StateDep) -> Response:
    return _cached(
        request,
        feeds.rss(state),
        media_type="application/rss+xml; charset=utf-8",
        cache_control=FEED_CACHE,
        headers=CORS,
    )


@router.get("/history.atom", include_in_schema=False)
def history_atom(request: Request, state: StateDep) -> Response:
    return _cached(
        request,
        feeds.atom(state),
        media_type="application/atom+xml; charset=utf-8",
        cache_control=FEED_CACHE,
        headers=CORS,
    )


@router.get("/maintenance.ics", include_in_schema=False)
def maintenance_calendar(request: Request, state: StateDep) -> Response:
    return _cached(
        request,
        feeds.calendar(state),
        media_type="text/calendar; charset=utf-8",
        cache_control=FEED_CACHE,
        headers=CORS,
    )


LabelQuery = Annotated[str | None, Query(max_length=200)]
ColorQuery = Annotated[str | None, Query(max_length=64)]


def _svg(request: Request, body: bytes) -> Response:
    return _cached(
        request, body, media_type="image/svg+xml; charset=utf-8", cache_control=BADGE_CACHE
    )


@router.get("/badge.svg", include_in_schema=False)
def page_badge(
    request: Request, state: StateDep, label: LabelQuery = None, color: ColorQuery = None
) -> Response:
    return _svg(request, badges.page_badge(state, label=label, color=color))


@router.get("/components/{component_id}/badge.svg", include_in_schema=False)
def component_badge(
    component_id: str,
    request: Request,
    state: StateDep,
    label: LabelQuery = None,
    color: ColorQuery = None,
) -> Response:
    body = badges.component_badge(state, component_id, label=label, color=color)
    if body is None:
        raise NotFound(f"component {component_id} not found")
    return _svg(request, body)
