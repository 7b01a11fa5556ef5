"""Alert sources in the management API v1 (our extension): admins only.

The hook URL carries the source's secret token, so it is in the answer to the POST that
creates the source and nowhere else.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tocsin.accounts.models import Role
from tocsin.api.auth import PrincipalDep, page_for
from tocsin.api.body import openapi_body, parse, unwrap
from tocsin.api.v1.common import BodyDep, error_responses
from tocsin.api.v1.incidents import IdPath
from tocsin.db import utcnow
from tocsin.deps import SessionDep, SettingsDep
from tocsin.monitors import alerts
from tocsin.monitors.alerts import AlertSourceCreate
from tocsin.monitors.models import AlertSource

router = APIRouter(tags=["alert sources"])

_PAGE = "/pages/{page_id}/alert_sources"
_ONE = _PAGE + "/{source_id}"
ERRORS = error_responses(401, 403, 404, 422)


def source_object(source: AlertSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "page_id": source.page_id,
        "name": source.name,
        "kind": source.kind.value,
        "rules": source.rules,
        "created_at": source.created_at.isoformat(),
    }


@router.get(_PAGE, responses=ERRORS)
def list_alert_sources(
    page_id: IdPath, principal: PrincipalDep, session: SessionDep
) -> list[dict[str, Any]]:
    page = page_for(session, principal, page_id, needs=Role.ADMIN)
    return [source_object(s) for s in alerts.list_sources(session, page_id=page.id)]


@router.post(
    _PAGE,
    status_code=201,
    responses=ERRORS,
    openapi_extra=openapi_body(AlertSourceCreate, "alert_source"),
)
def create_alert_source(
    page_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Create a source; the answer's `token` and `hook_url` are shown this once only."""
    page = page_for(session, principal, page_id, needs=Role.ADMIN)
    data = parse(AlertSourceCreate, unwrap(body, "alert_source"), where="alert_source")
    created = alerts.create_source(
        session, page=page, data=data, actor=principal.actor, now=utcnow()
    )
    path = alerts.hook_path(created.source.kind, created.token)
    return {
        **source_object(created.source),
        "token": created.token,
        "hook_url": f"{settings.base_url.rstrip('/')}{path}",
    }


@router.delete(_ONE, responses=ERRORS)
def delete_alert_source(
    page_id: IdPath, source_id: IdPath, principal: PrincipalDep, session: SessionDep
) -> dict[str, Any]:
    """Delete the source and its monitors; answer with it as it was."""
    page = page_for(session, principal, page_id, needs=Role.ADMIN)
    source = alerts.get_source(session, page_id=page.id, source_id=source_id)
    gone = source_object(source)
    alerts.delete_source(session, source=source, actor=principal.actor, now=utcnow())
    return gone
