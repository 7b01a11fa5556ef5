"""Public, unauthenticated artifacts: the Status API v2, feeds, calendar and badges.

`serve.PublicAnswers` answers these paths from the page's snapshot before any
route runs; the routes stay for the OpenAPI document, for what the snapshot
leaves (unknown components) and for badges with a custom label or colour,
which render from the snapshot's in-memory state. None of them queries the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from tocsin.errors import NotFound
from tocsin.pages import badges, v2
from tocsin.pages.deps import SnapshotDep
from tocsin.pages.routes import artifact_response, negotiated
from tocsin.pages.snapshot import BADGE_CACHE, SVG, make_artifact
from tocsin.pages.view import PageState

router = APIRouter()

PREFLIGHT = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
}
_TAG = "Public status API v2"
_METHODS = ["GET", "HEAD"]


def _v2_endpoint(path: str) -> Callable[..., Response]:
    def endpoint(request: Request, snapshot: SnapshotDep) -> Response:
        return artifact_response(request, snapshot, f"/api/v2/{path}", "resource")

    return endpoint


def _responses(shape: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "The page's data; the page is chosen by the Host header.",
            "content": {"application/json": {"schema": v2.SCHEMAS[shape]}},
        }
    }


# (path, body, its shape in v2.SCHEMAS, summary, Statuspage's own description); the
# bodies themselves come from `snapshot.V2_BODIES`.
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
        _v2_endpoint(_path),
        # HEAD is answered by `serve.PublicAnswers`; a second method here would
        # duplicate the operation in the OpenAPI document.
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


def _feed_endpoint(path: str) -> Callable[..., Response]:
    def endpoint(request: Request, snapshot: SnapshotDep) -> Response:
        return artifact_response(request, snapshot, path, "feed")

    return endpoint


for _feed in ("/history.rss", "/history.atom", "/maintenance.ics"):
    router.add_api_route(_feed, _feed_endpoint(_feed), methods=_METHODS, include_in_schema=False)


LabelQuery = Annotated[str | None, Query(max_length=200)]
ColorQuery = Annotated[str | None, Query(max_length=64)]


def _svg(request: Request, body: bytes) -> Response:
    """A badge drawn for this request (custom label or colour), negotiated like the rest."""
    return negotiated(request, make_artifact(body, SVG, cache_control=BADGE_CACHE))


@router.api_route("/badge.svg", methods=_METHODS, include_in_schema=False)
def page_badge(
    request: Request, snapshot: SnapshotDep, label: LabelQuery = None, color: ColorQuery = None
) -> Response:
    return _svg(request, badges.page_badge(snapshot.state, label=label, color=color))


@router.api_route("/components/{component_id}/badge.svg", methods=_METHODS, include_in_schema=False)
def component_badge(
    component_id: str,
    request: Request,
    snapshot: SnapshotDep,
    label: LabelQuery = None,
    color: ColorQuery = None,
) -> Response:
    body = badges.component_badge(snapshot.state, component_id, label=label, color=color)
    if body is None:
        raise NotFound(f"component {component_id} not found")
    return _svg(request, body)
