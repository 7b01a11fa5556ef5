"""The public HTML pages. `serve.PublicAnswers` answers them first; these routes
answer what it leaves (unknown ids, invalid query parameters) with the same rules."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.errors import NotFound
from tocsin.pages import serve
from tocsin.pages.deps import SnapshotDep
from tocsin.pages.snapshot import Artifact

router = APIRouter(include_in_schema=False)

_METHODS = ["GET", "HEAD"]


def artifact_response(request: Request, snapshot: SnapshotDep, key: str, what: str) -> Response:
    """The snapshot's artifact at `key`, negotiated like `serve.PublicAnswers`; 404 if none."""
    artifact = snapshot.get(key)
    if artifact is None:
        raise NotFound(f"{what} not found")
    return negotiated(request, artifact)


def negotiated(request: Request, artifact: Artifact) -> Response:
    """`artifact` in the coding the request accepts, or 304 if its ETag matches."""
    status, headers, body = serve.respond(
        artifact,
        accept_encoding=request.headers.get("accept-encoding"),
        if_none_match=request.headers.get("if-none-match"),
    )
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


@router.api_route("/", methods=_METHODS, response_class=HTMLResponse)
def home(request: Request, snapshot: SnapshotDep) -> Response:
    return artifact_response(request, snapshot, "/", "page")


@router.api_route("/incidents/{incident_id}", methods=_METHODS, response_class=HTMLResponse)
def incident(incident_id: str, request: Request, snapshot: SnapshotDep) -> Response:
    return artifact_response(request, snapshot, f"/incidents/{incident_id}", "incident")


@router.api_route(
    "/incidents/{incident_id}/write-up", methods=_METHODS, response_class=HTMLResponse
)
def writeup(incident_id: str, request: Request, snapshot: SnapshotDep) -> Response:
    return artifact_response(request, snapshot, f"/incidents/{incident_id}/write-up", "write-up")


@router.api_route("/theme.css", methods=_METHODS)
def theme(request: Request, snapshot: SnapshotDep) -> Response:
    """The page's branding as CSS, so that no page carries an inline style."""
    return artifact_response(request, snapshot, "/theme.css", "theme")


@router.api_route("/history", methods=_METHODS, response_class=HTMLResponse)
def history(
    request: Request,
    snapshot: SnapshotDep,
    page: int = Query(default=1, ge=1, le=serve.MAX_HISTORY_PAGE),
) -> Response:
    return artifact_response(request, snapshot, f"/history?page={page}", "history page")
