"""Automation: monitors, alert sources and publish targets.

Admins and owners manage them; editors and viewers read. Editors also see what the API
shows them (a monitor's settings and a heartbeat's ping URL); viewers see neither, nor a
publish target's location. Network work never happens here: "run now" only makes a
monitor due, and the worker probes it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from tocsin.accounts.models import Role
from tocsin.admin.auth import OnPage, OnPageDep, csrf_protect, needs
from tocsin.admin.forms import FormDep, attempt, problem
from tocsin.admin.render import redirect, render, secure_admin
from tocsin.admin.routes import _automation_forms as forms
from tocsin.components import service as components
from tocsin.db import utcnow
from tocsin.deps import SessionDep, SettingsDep
from tocsin.errors import DomainError, Invalid
from tocsin.incidents import templates
from tocsin.lib.csvsafe import write_csv
from tocsin.monitors import alerts
from tocsin.monitors import service as monitors
from tocsin.monitors.alerts import MAX_RULES, AlertSourceCreate
from tocsin.monitors.models import Monitor, MonitorKind
from tocsin.monitors.schemas import MonitorCreate, MonitorUpdate
from tocsin.publish import service as targets
from tocsin.publish.schemas import DirConfig, S3Config, TargetCreate

router = APIRouter(
    prefix="/admin/pages/{page_id}",
    include_in_schema=False,
    dependencies=[Depends(csrf_protect)],
)

RESULTS_SHOWN = 50
RULE_ROWS = 3
_CREATE_TARGET: TypeAdapter[TargetCreate] = TypeAdapter(TargetCreate)
_SOURCE_WORDS = {
    "name": "Name",
    "kind": "Kind",
    "rules": "Rules",
    "match": "Labels",
    "component_ids": "Components",
    "failure_status": "Status",
}
_TARGET_WORDS = {
    "kind": "Kind",
    "path": "Directory",
    "bucket": "Bucket",
    "prefix": "Prefix",
    "endpoint_url": "Endpoint URL",
    "region": "Region",
    "access_key_id": "Access key ID",
    "secret_access_key": "Secret access key",
}
Search = Annotated[str, Query(max_length=200)]
Rows = Annotated[int, Query(ge=1, le=MAX_RULES)]


def _base(ctx: OnPage) -> str:
    return f"/admin/pages/{ctx.page.id}"


# --- monitors ----------------------------------------------------------------------------


def _probed(session: Session, page_id: str) -> list[Monitor]:
    """The page's monitors, without those that alert sources own (shown with their source)."""
    found = monitors.list_monitors(session, page_id=page_id)
    return [m for m in found if m.kind is not MonitorKind.ALERT]


def _matching(found: list[Monitor], q: str) -> list[Monitor]:
    needle = q.strip().lower()
    return [m for m in found if needle in m.name.lower() or needle in m.target.lower()]


def _names(session: Session, page_id: str) -> dict[str, str]:
    return {c.id: c.name for c in components.list_components(session, page_id)}


def _editable(session: Session, ctx: OnPage, monitor_id: str) -> Monitor:
    """A monitor an admin may change here; alert rules' monitors change with their source."""
    needs(ctx, Role.ADMIN)
    monitor = monitors.get_monitor(session, page_id=ctx.page.id, monitor_id=monitor_id)
    if monitor.kind is MonitorKind.ALERT:
        raise Invalid("this monitor belongs to an alert source: change or delete the source")
    return monitor


@router.get("/monitors", response_class=HTMLResponse)
def monitor_list(request: Request, ctx: OnPageDep, session: SessionDep, q: Search = "") -> Response:
    return render(
        request,
        "admin/monitors.html",
        ctx=ctx,
        section="monitors",
        tab="monitors",
        monitors=_matching(_probed(session, ctx.page.id), q),
        q=q,
        names=_names(session, ctx.page.id),
    )


@router.get("/monitors.csv")
def monitor_export(ctx: OnPageDep, session: SessionDep, q: Search = "") -> Response:
    names = _names(session, ctx.page.id)
    header = ["name", "kind", "target", "interval_seconds", "state", "paused", "last_checked_at"]
    header += ["last_ok", "last_latency_ms", "last_error", "components"]
    rows = [
        [
            m.name,
            m.kind.value,
            m.target,
            str(m.interval_seconds),
            m.state.value,
            "yes" if m.paused else "no",
            m.last_checked_at.isoformat() if m.last_checked_at else "",
            "" if m.last_ok is None else ("yes" if m.last_ok else "no"),
            "" if m.last_latency_ms is None else f"{m.last_latency_ms:g}",
            m.last_error or "",
            "; ".join(names.get(cid, cid) for cid in m.component_ids),
        ]
        for m in _matching(_probed(session, ctx.page.id), q)
    ]
    response = Response(write_csv(header, rows), media_type="text/csv; charset=utf-8")
    response.headers["content-disposition"] = 'attachment; filename="monitors.csv"'
    secure_admin(response)
    return response


def _monitor_form(
    request: Request,
    ctx: OnPage,
    session: Session,
    *,
    kind: str,
    values: forms.Values,
    monitor: Monitor | None = None,
    error: str | None = None,
) -> Response:
    leaves = [c for c in components.list_components(session, ctx.page.id) if not c.is_group]
    return render(
        request,
        "admin/monitors_form.html",
        ctx=ctx,
        section="monitors",
        status_code=422 if error else 200,
        kind=kind,
        kinds=forms.KINDS,
        target=forms.TARGETS.get(kind),
        fields=forms.config_fields(kind),
        values=values,
        monitor=monitor,
        leaves=leaves,
        template_options=[
            (t.id, t.name) for t in templates.list_templates(session, page_id=ctx.page.id)
        ],
        status_options=forms.STATUS_OPTIONS,
        error=error,
    )


@router.get("/monitors/new", response_class=HTMLResponse)
def monitor_new(
    request: Request, ctx: OnPageDep, session: SessionDep, kind: Annotated[str, Query()] = "http"
) -> Response:
    needs(ctx, Role.ADMIN)
    error = None if kind in forms.KINDS else f"There is no monitor kind {kind[:40]!r}."
    kind = kind if kind in forms.KINDS else "http"
    return _monitor_form(
        request, ctx, session, kind=kind, values=forms.monitor_values(kind), error=error
    )


@router.post("/monitors/new", response_class=HTMLResponse)
def monitor_create(
    request: Request, ctx: OnPageDep, session: SessionDep, settings: SettingsDep, form: FormDep
) -> Response:
    needs(ctx, Role.ADMIN)
    kind = forms.text(form, "kind")
    if kind not in forms.KINDS:
        values = forms.posted_values("http", form)
        error = f"There is no monitor kind {kind[:40]!r}."
        return _monitor_form(request, ctx, session, kind="http", values=values, error=error)
    try:
        data = MonitorCreate.model_validate({**forms.monitor_payload(kind, form), "kind": kind})
        with attempt(session):
            monitor = monitors.create_monitor(
                session,
                page=ctx.page,
                data=data,
                actor=ctx.actor,
                allow_private=settings.monitors_allow_private,
            )
    except (ValidationError, DomainError) as exc:
        error = problem(exc, forms.labels())
        values = forms.posted_values(kind, form)
        return _monitor_form(request, ctx, session, kind=kind, values=values, error=error)
    return redirect(f"{_base(ctx)}/monitors/{monitor.id}", flash=f"Monitor {monitor.name} added.")


@router.get("/monitors/{monitor_id}", response_class=HTMLResponse)
def monitor_detail(
    request: Request, ctx: OnPageDep, session: SessionDep, settings: SettingsDep, monitor_id: str
) -> Response:
    monitor = monitors.get_monitor(session, page_id=ctx.page.id, monitor_id=monitor_id)
    path = monitors.ping_path(monitor)
    shown = ctx.can(Role.EDITOR)
    probed = monitor.kind is not MonitorKind.ALERT
    return render(
        request,
        "admin/monitors_detail.html",
        ctx=ctx,
        section="monitors",
        monitor=monitor,
        kinds=forms.KINDS,
        names=_names(session, ctx.page.id),
        results=monitors.recent_results(session, monitor=monitor, limit=RESULTS_SHOWN),
        ping_url=f"{settings.base_url.rstrip('/')}{path}" if path and shown else None,
        settings_shown=shown and probed,
        values=forms.monitor_values(monitor.kind.value, monitor) if probed else {},
        fields=forms.config_fields(monitor.kind.value) if probed else [],
    )


@router.get("/monitors/{monitor_id}/edit", response_class=HTMLResponse)
def monitor_edit(
    request: Request, ctx: OnPageDep, session: SessionDep, monitor_id: str
) -> Response:
    monitor = _editable(session, ctx, monitor_id)
    kind = monitor.kind.value
    values = forms.monitor_values(kind, monitor)
    return _monitor_form(request, ctx, session, kind=kind, values=values, monitor=monitor)


@router.post("/monitors/{monitor_id}/edit", response_class=HTMLResponse)
def monitor_update(
    request: Request,
    ctx: OnPageDep,
    session: SessionDep,
    settings: SettingsDep,
    form: FormDep,
    monitor_id: str,
) -> Response:
    monitor = _editable(session, ctx, monitor_id)
    kind = monitor.kind.value
    try:
        data = MonitorUpdate.model_validate(forms.monitor_payload(kind, form))
        with attempt(session):
            monitors.update_monitor(
                session,
                monitor=monitor,
                data=data,
                actor=ctx.actor,
                allow_private=settings.monitors_allow_private,
            )
    except (ValidationError, DomainError) as exc:
        error = problem(exc, forms.labels())
        values = forms.posted_values(kind, form)
        return _monitor_form(
            request, ctx, session, kind=kind, values=values, monitor=monitor, error=error
        )
    return redirect(f"{_base(ctx)}/monitors/{monitor.id}", flash="Monitor saved.")


def _set_paused(
    ctx: OnPage, session: Session, allow_private: bool, monitor_id: str, paused: bool
) -> Response:
    monitor = _editable(session, ctx, monitor_id)
    monitors.update_monitor(
        session,
        monitor=monitor,
        data=MonitorUpdate(paused=paused),
        actor=ctx.actor,
        allow_private=allow_private,
    )
    flash = "Monitor paused: no checks until you resume it." if paused else "Monitor resumed."
    return redirect(f"{_base(ctx)}/monitors/{monitor.id}", flash=flash)


@router.post("/monitors/{monitor_id}/pause")
def monitor_pause(
    ctx: OnPageDep, session: SessionDep, settings: SettingsDep, monitor_id: str
) -> Response:
    return _set_paused(ctx, session, settings.monitors_allow_private, monitor_id, True)


@router.post("/monitors/{monitor_id}/resume")
def monitor_resume(
    ctx: OnPageDep, session: SessionDep, settings: SettingsDep, monitor_id: str
) -> Response:
    return _set_paused(ctx, session, settings.monitors_allow_private, monitor_id, False)


@router.post("/monitors/{monitor_id}/run")
def monitor_run(ctx: OnPageDep, session: SessionDep, monitor_id: str) -> Response:
    monitor = _editable(session, ctx, monitor_id)
    monitors.run_now(session, monitor=monitor, actor=ctx.actor)
    flash = "Check scheduled: the worker runs it within a few seconds. Reload to see the result."
    return redirect(f"{_base(ctx)}/monitors/{monitor.id}", flash=flash)


@router.post("/monitors/{monitor_id}/delete")
def monitor_delete(ctx: OnPageDep, session: SessionDep, monitor_id: str) -> Response:
    monitor = _editable(session, ctx, monitor_id)
    name = monitor.name
    monitors.delete_monitor(session, monitor=monitor, actor=ctx.actor)
    return redirect(f"{_base(ctx)}/monitors", flash=f"Monitor {name} deleted.")


# --- alert sources -----------------------------------------------------------------------


@router.get("/alert-sources", response_class=HTMLResponse)
def source_list(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    by_id = {m.id: m for m in monitors.list_monitors(session, page_id=ctx.page.id)}
    return render(
        request,
        "admin/alert_sources.html",
        ctx=ctx,
        section="monitors",
        tab="alert_sources",
        sources=alerts.list_sources(session, page_id=ctx.page.id),
        monitors=by_id,
        names=_names(session, ctx.page.id),
        show_match=forms.show_match,
    )


def _source_form(
    request: Request,
    ctx: OnPage,
    session: Session,
    *,
    name: str,
    kind: str,
    rows: list[forms.RuleRow],
    error: str | None = None,
) -> Response:
    leaves = [c for c in components.list_components(session, ctx.page.id) if not c.is_group]
    return render(
        request,
        "admin/alert_sources_form.html",
        ctx=ctx,
        section="monitors",
        status_code=422 if error else 200,
        name=name,
        kind=kind,
        rows=rows,
        more=min(len(rows) + RULE_ROWS, MAX_RULES),
        leaves=leaves,
        status_options=forms.STATUS_OPTIONS,
        error=error,
    )


@router.get("/alert-sources/new", response_class=HTMLResponse)
def source_new(
    request: Request, ctx: OnPageDep, session: SessionDep, rows: Rows = RULE_ROWS
) -> Response:
    needs(ctx, Role.ADMIN)
    blank = [forms.RuleRow() for _ in range(rows)]
    return _source_form(request, ctx, session, name="", kind="alertmanager", rows=blank)


@router.post("/alert-sources/new", response_class=HTMLResponse)
def source_create(
    request: Request, ctx: OnPageDep, session: SessionDep, settings: SettingsDep, form: FormDep
) -> Response:
    """Create the source and show its hook URL: the only time its token is ever shown."""
    needs(ctx, Role.ADMIN)
    count = _row_count(forms.text(form, "rows"))
    rows = forms.rule_rows(form, count)
    name, kind = forms.text(form, "name"), forms.text(form, "kind")
    if forms.text(form, "more"):
        rows += [forms.RuleRow() for _ in range(min(count + RULE_ROWS, MAX_RULES) - count)]
        return _source_form(request, ctx, session, name=name, kind=kind, rows=rows)
    try:
        payload = {"name": name, "kind": kind, "rules": forms.rules_payload(rows)}
        data = AlertSourceCreate.model_validate(payload)
        with attempt(session):
            created = alerts.create_source(
                session, page=ctx.page, data=data, actor=ctx.actor, now=utcnow()
            )
    except (ValidationError, DomainError) as exc:
        error = problem(exc, _SOURCE_WORDS)
        return _source_form(request, ctx, session, name=name, kind=kind, rows=rows, error=error)
    path = alerts.hook_path(created.source.kind, created.token)
    return render(
        request,
        "admin/alert_sources_created.html",
        ctx=ctx,
        section="monitors",
        source=created.source,
        hook_url=f"{settings.base_url.rstrip('/')}{path}",
    )


def _row_count(raw: str) -> int:
    return min(max(int(raw), 1), MAX_RULES) if raw.isdigit() else RULE_ROWS


@router.post("/alert-sources/{source_id}/delete")
def source_delete(ctx: OnPageDep, session: SessionDep, source_id: str) -> Response:
    needs(ctx, Role.ADMIN)
    source = alerts.get_source(session, page_id=ctx.page.id, source_id=source_id)
    name = source.name
    alerts.delete_source(session, source=source, actor=ctx.actor, now=utcnow())
    return redirect(f"{_base(ctx)}/alert-sources", flash=f"Alert source {name} deleted.")


# --- publish targets ---------------------------------------------------------------------


def _location(config: DirConfig | S3Config) -> str:
    if isinstance(config, S3Config):
        where = f"s3://{config.bucket}/{config.prefix}"
        return f"{where} at {config.endpoint_url}" if config.endpoint_url else where
    return str(config.path)


@router.get("/publish-targets", response_class=HTMLResponse)
def target_list(request: Request, ctx: OnPageDep, session: SessionDep) -> Response:
    found = targets.list_targets(session, page_id=ctx.page.id)
    return render(
        request,
        "admin/publish_targets.html",
        ctx=ctx,
        section="monitors",
        tab="publish_targets",
        targets=[(t, _location(targets.config_of(t))) for t in found],
        kinds=forms.TARGET_KINDS,
    )


def _target_form(
    request: Request, ctx: OnPage, *, kind: str, values: forms.Values, error: str | None = None
) -> Response:
    return render(
        request,
        "admin/publish_targets_form.html",
        ctx=ctx,
        section="monitors",
        status_code=422 if error else 200,
        kind=kind,
        kinds=forms.TARGET_KINDS,
        values=values,
        error=error,
    )


@router.get("/publish-targets/new", response_class=HTMLResponse)
def target_new(request: Request, ctx: OnPageDep, kind: Annotated[str, Query()] = "dir") -> Response:
    needs(ctx, Role.ADMIN)
    error = None if kind in forms.TARGET_KINDS else f"There is no target kind {kind[:40]!r}."
    kind = kind if kind in forms.TARGET_KINDS else "dir"
    return _target_form(request, ctx, kind=kind, values=forms.target_values(kind), error=error)


@router.post("/publish-targets/new", response_class=HTMLResponse)
def target_create(request: Request, ctx: OnPageDep, session: SessionDep, form: FormDep) -> Response:
    needs(ctx, Role.ADMIN)
    kind = forms.text(form, "kind")
    if kind not in forms.TARGET_KINDS:
        error = f"There is no target kind {kind[:40]!r}."
        return _target_form(
            request, ctx, kind="dir", values=forms.target_values("dir"), error=error
        )
    try:
        data = _CREATE_TARGET.validate_python(forms.target_payload(kind, form))
        with attempt(session):
            targets.create_target(session, page=ctx.page, data=data, actor=ctx.actor)
    except (ValidationError, DomainError) as exc:
        error = problem(exc, _TARGET_WORDS)
        values = forms.target_values(kind, form)
        return _target_form(request, ctx, kind=kind, values=values, error=error)
    flash = "Publish target added: the worker publishes to it within seconds."
    return redirect(f"{_base(ctx)}/publish-targets", flash=flash)


@router.post("/publish-targets/{target_id}/delete")
def target_delete(ctx: OnPageDep, session: SessionDep, target_id: str) -> Response:
    needs(ctx, Role.ADMIN)
    target = targets.get_target(session, page_id=ctx.page.id, target_id=target_id)
    targets.delete_target(session, target=target, actor=ctx.actor)
    flash = "Publish target deleted; files already published were left in place."
    return redirect(f"{_base(ctx)}/publish-targets", flash=flash)
