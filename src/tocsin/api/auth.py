"""API keys as Statuspage clients send them, and the page access each key has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from tocsin.accounts import service as accounts
from tocsin.accounts.models import Role
from tocsin.audit.service import Actor
from tocsin.deps import SessionDep
from tocsin.errors import DomainError, NotFound, PermissionDenied
from tocsin.pages import service as pages
from tocsin.pages.models import Page


class NotAuthenticated(DomainError):
    status_code = 401


@dataclass(frozen=True)
class Principal:
    user_id: str
    key_id: str
    actor: Actor


def presented_key(request: Request) -> str | None:
    """`Authorization: OAuth <key>` (Statuspage), `Bearer <key>`, a bare key, or `?api_key=`."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() in ("oauth", "bearer", "token") and rest.strip():
            return rest.strip()
        return header
    return request.query_params.get("api_key") or None


def require_key(request: Request, session: SessionDep) -> Principal:
    secret = presented_key(request)
    key = accounts.authenticate_api_key(session, secret) if secret else None
    if key is None:
        raise NotAuthenticated("Could not authenticate")
    client = request.client.host if request.client else None
    return Principal(
        user_id=key.user_id,
        key_id=key.id,
        actor=Actor(label=f"api:{key.name}", user_id=key.user_id, ip=client),
    )


PrincipalDep = Annotated[Principal, Depends(require_key)]


def page_for(session: Session, principal: Principal, page_id: str, *, needs: Role) -> Page:
    """The page, if the key's user has at least `needs` on it.

    A page the user has no role on is reported as missing, so ids cannot be probed.
    """
    role = accounts.role_on(session, user_id=principal.user_id, page_id=page_id)
    if role is None:
        raise NotFound("The requested resource could not be found.")
    if not accounts.has_role(role, needs):
        raise PermissionDenied(f"your role on this page ({role.value}) cannot do this")
    return pages.get_page(session, page_id)


def pages_of(session: Session, principal: Principal) -> list[Page]:
    return [
        page
        for page in pages.list_pages(session)
        if accounts.role_on(session, user_id=principal.user_id, page_id=page.id) is not None
    ]
