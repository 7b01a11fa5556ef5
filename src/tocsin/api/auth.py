"""API keys as Statuspage clients send them, and the page access each key has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from tocsin.accounts import service as accounts
from tocsin.accounts.models import Role
from tocsin.audit.service import Actor
from tocsin.deps import SessionDep, SettingsDep
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
    page_ids: frozenset[str] | None = None
    """The key's scope; None for every page its user has a role on."""

    def covers(self, page_id: str) -> bool:
        return self.page_ids is None or page_id in self.page_ids


QUERY_KEY_REFUSED = (
    "API keys in the URL are refused, as URLs end up in access logs and proxies: send "
    "the key in the Authorization header (Authorization: OAuth <key>), or set "
    "TOCSIN_API_KEYS_IN_QUERY=true for clients that cannot"
)


def presented_key(request: Request, *, allow_query: bool) -> str | None:
    """`Authorization: OAuth <key>` (Statuspage), `Bearer <key>`, a bare key; `?api_key=`
    only when the install allows it (security.md 32)."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() in ("oauth", "bearer", "token") and rest.strip():
            return rest.strip()
        return header
    in_query = request.query_params.get("api_key")
    if in_query and not allow_query:
        raise NotAuthenticated(QUERY_KEY_REFUSED)
    return in_query or None


def require_key(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    secret = presented_key(request, allow_query=settings.api_keys_in_query)
    key = accounts.authenticate_api_key(session, secret) if secret else None
    if key is None:
        raise NotAuthenticated("Could not authenticate")
    client = request.client.host if request.client else None
    return Principal(
        user_id=key.user_id,
        key_id=key.id,
        actor=Actor(label=f"api:{key.name}", user_id=key.user_id, ip=client),
        page_ids=None if key.page_ids is None else frozenset(key.page_ids),
    )


PrincipalDep = Annotated[Principal, Depends(require_key)]


def page_for(session: Session, principal: Principal, page_id: str, *, needs: Role) -> Page:
    """The page, if the key covers it and its user has at least `needs` on it.

    A page outside the key's scope or without a role is reported as missing, so ids
    cannot be probed.
    """
    role = (
        accounts.role_on(session, user_id=principal.user_id, page_id=page_id)
        if principal.covers(page_id)
        else None
    )
    if role is None:
        raise NotFound("The requested resource could not be found.")
    if not accounts.has_role(role, needs):
        raise PermissionDenied(f"your role on this page ({role.value}) cannot do this")
    return pages.get_page(session, page_id)


def pages_of(session: Session, principal: Principal) -> list[Page]:
    """The pages the key can act on, by name."""
    memberships = accounts.pages_of_user(session, user_id=principal.user_id)
    return [page for page, _ in memberships if principal.covers(page.id)]
