from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.db import utcnow
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import NotFound
from tocsin.pages import service as pages
from tocsin.pages.render import Renderer
from tocsin.pages.state import load_state
from tocsin.pages.view import PageState

router = APIRouter(include_in_schema=False)

_HTML = "text/html; charset=utf-8"


def _state(request: Request, session: SessionDep, settings: SettingsDep) -> PageState:
    page = pages.page_for_host(session, request.headers.get("host"))
    if page is None:
        raise NotFound("this install has no status page yet; run `tocsin migrate`")
    return load_state(session, page=page, now=utcnow(), base_url=settings.base_url)


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


def _html(body: bytes | None, what: str) -> Response:
    if body is None:
        raise NotFound(f"{what} not found")
    return Response(body, media_type=_HTML, headers={"Cache-Control": "public, max-age=10"})


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    return _html(_renderer(request).home(_state(request, session, settings)), "page")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident(
    incident_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    state = _state(request, session, settings)
    return _html(_renderer(request).incident(state, incident_id), "incident")


@router.get("/incidents/{incident_id}/write-up", response_class=HTMLResponse)
def writeup(
    incident_id: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    state = _state(request, session, settings)
    return _html(_renderer(request).writeup(state, incident_id), "write-up")


@router.get("/theme.css")
def theme(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The page's branding as CSS, so that no page carries an inline style."""
    body = _renderer(request).theme(_state(request, session, settings))
    return Response(body, media_type="text/css", headers={"Cache-Control": "public, max-age=300"})


@router.get("/history", response_class=HTMLResponse)
def history(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    page: int = Query(default=1, ge=1, le=100_000),
) -> Response:
    state = _state(request, session, settings)
    return _html(_renderer(request).history(state, page), "history page")
