"""Publish targets in the management API v1: where the worker keeps static copies of a page.

Admins only: a target names paths and credentials of the install's infrastructure.
The S3 secret key is write-only; responses say whether one is set.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, TypeAdapter, ValidationError

from tocsin.accounts.models import Role
from tocsin.api.auth import PrincipalDep, page_for
from tocsin.api.body import openapi_body, unwrap
from tocsin.api.v1.common import BodyDep
from tocsin.api.v1.incidents import ERRORS, IdPath
from tocsin.deps import SessionDep
from tocsin.errors import Invalid
from tocsin.lib.isotime import iso
from tocsin.publish import service as targets
from tocsin.publish.models import PublishTarget, TargetKind
from tocsin.publish.schemas import S3Config, S3TargetCreate, TargetCreate

router = APIRouter(tags=["publish targets"])

_PAGE = "/pages/{page_id}/publish_targets"
_ONE = _PAGE + "/{target_id}"
_CREATE: TypeAdapter[TargetCreate] = TypeAdapter(TargetCreate)


class PublishTargetOut(BaseModel):
    id: str
    page_id: str
    kind: TargetKind
    config: dict[str, Any]
    enabled: bool
    created_at: str | None
    last_attempt_at: str | None
    last_success_at: str | None
    last_error: str | None


def target_out(target: PublishTarget) -> PublishTargetOut:
    parsed = targets.config_of(target)
    config = parsed.model_dump(mode="json")
    if isinstance(parsed, S3Config):
        config["secret_access_key"] = None
        config["secret_access_key_set"] = parsed.secret_access_key is not None
    return PublishTargetOut(
        id=target.id,
        page_id=target.page_id,
        kind=target.kind,
        config=config,
        enabled=target.enabled,
        created_at=iso(target.created_at),
        last_attempt_at=iso(target.last_attempt_at),
        last_success_at=iso(target.last_success_at),
        last_error=target.last_error,
    )


@router.get(_PAGE, responses=ERRORS)
def list_publish_targets(
    page_id: IdPath, principal: PrincipalDep, session: SessionDep
) -> list[PublishTargetOut]:
    page = page_for(session, principal, page_id, needs=Role.ADMIN)
    return [target_out(t) for t in targets.list_targets(session, page_id=page.id)]


@router.post(
    _PAGE,
    status_code=201,
    responses=ERRORS,
    openapi_extra=openapi_body(S3TargetCreate, "publish_target"),
)
def create_publish_target(
    page_id: IdPath, principal: PrincipalDep, body: BodyDep, session: SessionDep
) -> PublishTargetOut:
    """Add a target (`kind` `dir` or `s3`); the worker publishes to it within seconds."""
    page = page_for(session, principal, page_id, needs=Role.ADMIN)
    data = _parse_create(unwrap(body, "publish_target"))
    target = targets.create_target(session, page=page, data=data, actor=principal.actor)
    return target_out(target)


@router.delete(_ONE, responses=ERRORS)
def delete_publish_target(
    page_id: IdPath, target_id: IdPath, principal: PrincipalDep, session: SessionDep
) -> PublishTargetOut:
    """Delete the target and answer with it as it was; published files are left in place."""
    page = page_for(session, principal, page_id, needs=Role.ADMIN)
    target = targets.get_target(session, page_id=page.id, target_id=target_id)
    gone = target_out(target)
    targets.delete_target(session, target=target, actor=principal.actor)
    return gone


def _parse_create(data: dict[str, Any]) -> TargetCreate:
    try:
        return _CREATE.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in ("publish_target", *first["loc"]))
        raise Invalid(f"{field}: {first['msg']}") from None
