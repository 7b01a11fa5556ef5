"""The public side's request dependencies: which page is asked for, and its state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tocsin.db import utcnow
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import NotFound
from tocsin.pages import service as pages
from tocsin.pages.render import Renderer
from tocsin.pages.state import load_state
from tocsin.pages.view import PageState


def current_state(request: Request, session: SessionDep, settings: SettingsDep) -> PageState:
    """The state of the page named by the Host header, or of the install's default page."""
    page = pages.page_for_host(session, request.headers.get("host"))
    if page is None:
        raise NotFound("this install has no status page yet; run `tocsin migrate`")
    return load_state(session, page=page, now=utcnow(), base_url=settings.base_url)


def renderer(request: Request) -> Renderer:
    found: Renderer = request.app.state.renderer
    return found


StateDep = Annotated[PageState, Depends(current_state)]
RendererDep = Annotated[Renderer, Depends(renderer)]
