"""Monitors in the management API v1: our extension, in the same style as the rest of v1.

A monitor's `config` (which may hold credentials) and a heartbeat's ping URL (which lets
anyone vouch for the job) are shown to editors and owners only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from tocsin.accounts import service as accounts
from tocsin.accounts.models import Role
from tocsin.api.auth import Principal, PrincipalDep, page_for
from tocsin.api.body import openapi_body, parse, unwrap
from tocsin.api.v1.common import MAX_PER_PAGE, BodyDep, error_responses
from tocsin.api.v1.incidents import IdPath
from tocsin.deps import SessionDep, SettingsDep
from tocsin.monitors import service as monitors
from tocsin.monitors.models import CheckResult, Monitor
from tocsin.monitors.schemas import MonitorCreate, MonitorUpdate
from tocsin.pages.models import Page
from tocsin.settings import Settings

router = APIRouter(tags=["monitors"])

_PAGE = "/pages/{page_id}/monitors"
_ONE = _PAGE + "/{monitor_id}"
ERRORS = error_responses(401, 403, 404, 422)
Limit = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="How many, newest first")]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def monitor_object(monitor: Monitor, *, editor: bool, base_url: str) -> dict[str, Any]:
    path = monitors.ping_path(monitor)
    return {
        "id": monitor.id,
        "page_id": monitor.page_id,
        "name": monitor.name,
        "kind": monitor.kind.value,
        "target": monitor.target,
        "interval_seconds": monitor.interval_seconds,
        "timeout_seconds": monitor.timeout_seconds,
        "component_ids": monitor.component_ids,
        "failure_status": monitor.failure_status.value,
        "failure_threshold": monitor.failure_threshold,
        "window": monitor.window,
        "recovery_threshold": monitor.recovery_threshold,
        "auto_incident": monitor.auto_incident,
        "incident_template_id": monitor.incident_template_id,
        "draft": monitor.draft,
        "quiet_period_seconds": monitor.quiet_period_seconds,
        "paused": monitor.paused,
        "config": monitor.config if editor else None,
        "ping_url": f"{base_url.rstrip('/')}{path}" if path and editor else None,
        "state": monitor.state.value,
        "state_changed_at": _iso(monitor.state_changed_at),
        "incident_id": monitor.incident_id,
        "last_checked_at": _iso(monitor.last_checked_at),
        "last_ok": monitor.last_ok,
        "last_error": monitor.last_error,
        "last_latency_ms": monitor.last_latency_ms,
        "last_ping_at": _iso(monitor.last_ping_at),
        "next_run_at": _iso(monitor.next_run_at),
        "created_at": _iso(monitor.created_at),
        "updated_at": _iso(monitor.updated_at),
    }


def result_object(result: CheckResult) -> dict[str, Any]:
    return {
        "scheduled_at": _iso(result.scheduled_at),
        "checked_at": _iso(result.checked_at),
        "ok": result.ok,
        "latency_ms": result.latency_ms,
        "error": result.error,
        "details": result.details,
    }


def _is_editor(session: Session, principal: Principal, page: Page) -> bool:
    role = accounts.role_on(session, user_id=principal.user_id, page_id=page.id)
    return role is not None and accounts.has_role(role, Role.EDITOR)


def _shown(
    session: Session, principal: Principal, page: Page, monitor: Monitor, settings: Settings
) -> dict[str, Any]:
    editor = _is_editor(session, principal, page)
    return monitor_object(monitor, editor=editor, base_url=settings.base_url)


@router.get(_PAGE, responses=ERRORS)
def list_monitors(
    page_id: IdPath, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> list[dict[str, Any]]:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    editor = _is_editor(session, principal, page)
    return [
        monitor_object(m, editor=editor, base_url=settings.base_url)
        for m in monitors.list_monitors(session, page_id=page.id)
    ]


@router.post(
    _PAGE, status_code=201, responses=ERRORS, openapi_extra=openapi_body(MonitorCreate, "monitor")
)
def create_monitor(
    page_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    data = parse(MonitorCreate, unwrap(body, "monitor"), where="monitor")
    monitor = monitors.create_monitor(
        session,
        page=page,
        data=data,
        actor=principal.actor,
        allow_private=settings.monitors_allow_private,
    )
    return monitor_object(monitor, editor=True, base_url=settings.base_url)


@router.get(_ONE, responses=ERRORS)
def get_monitor(
    page_id: IdPath,
    monitor_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    monitor = monitors.get_monitor(session, page_id=page.id, monitor_id=monitor_id)
    return _shown(session, principal, page, monitor, settings)


@router.patch(_ONE, responses=ERRORS, openapi_extra=openapi_body(MonitorUpdate, "monitor"))
def update_monitor(
    page_id: IdPath,
    monitor_id: IdPath,
    principal: PrincipalDep,
    body: BodyDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    monitor = monitors.get_monitor(session, page_id=page.id, monitor_id=monitor_id)
    data = parse(MonitorUpdate, unwrap(body, "monitor"), where="monitor")
    monitors.update_monitor(
        session,
        monitor=monitor,
        data=data,
        actor=principal.actor,
        allow_private=settings.monitors_allow_private,
    )
    return monitor_object(monitor, editor=True, base_url=settings.base_url)


@router.delete(_ONE, responses=ERRORS)
def delete_monitor(
    page_id: IdPath,
    monitor_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Delete the monitor and answer with it as it was."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    monitor = monitors.get_monitor(session, page_id=page.id, monitor_id=monitor_id)
    gone = monitor_object(monitor, editor=True, base_url=settings.base_url)
    monitors.delete_monitor(session, monitor=monitor, actor=principal.actor)
    return gone


@router.get(_ONE + "/results", responses=ERRORS)
def list_results(
    page_id: IdPath,
    monitor_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Limit = MAX_PER_PAGE,
) -> list[dict[str, Any]]:
    page = page_for(session, principal, page_id, needs=Role.VIEWER)
    monitor = monitors.get_monitor(session, page_id=page.id, monitor_id=monitor_id)
    return [
        result_object(r) for r in monitors.recent_results(session, monitor=monitor, limit=limit)
    ]


@router.post(_ONE + "/run", status_code=202, responses=ERRORS)
def run_monitor(
    page_id: IdPath,
    monitor_id: IdPath,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Make the monitor due now; the worker runs it within about a second (the web process
    never probes). Poll `/results` for the outcome."""
    page = page_for(session, principal, page_id, needs=Role.EDITOR)
    monitor = monitors.get_monitor(session, page_id=page.id, monitor_id=monitor_id)
    monitors.run_now(session, monitor=monitor, actor=principal.actor)
    return monitor_object(monitor, editor=True, base_url=settings.base_url)
