from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from tocsin.errors import NotFound
from tocsin.pages.deps import RendererDep, StateDep

router = APIRouter(include_in_schema=False)

_HTML = "text/html; charset=utf-8"


def _html(body: bytes | None, what: str) -> Response:
    if body is None:
        raise NotFound(f"{what} not found")
    return Response(body, media_type=_HTML, headers={"Cache-Control": "public, max-age=10"})


@router.get("/", response_class=HTMLResponse)
def home(state: StateDep, renderer: RendererDep) -> Response:
    return _html(renderer.home(state), "page")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident(incident_id: str, state: StateDep, renderer: RendererDep) -> Response:
    return _html(renderer.incident(state, incident_id), "incident")


@router.get("/incidents/{incident_id}/write-up", response_class=HTMLResponse)
def writeup(incident_id: str, state: StateDep, renderer: RendererDep) -> Response:
    return _html(renderer.writeup(state, incident_id), "write-up")


@router.get("/theme.css")
def theme(state: StateDep, renderer: RendererDep) -> Response:
    """The page's branding as CSS, so that no page carries an inline style."""
    return Response(
        renderer.theme(state),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/history", response_class=HTMLResponse)
def history(
    state: StateDep, renderer: RendererDep, page: int = Query(default=1, ge=1, le=100_000)
) -> Response:
    return _html(renderer.history(state, page), "history page")
