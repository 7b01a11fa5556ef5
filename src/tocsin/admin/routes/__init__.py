"""The admin's screens, one module per area; `routers()` lists them for the app."""

from __future__ import annotations

from fastapi import APIRouter

from tocsin.admin.routes import (
    account,
    audit,
    automation,
    components,
    dashboard,
    incident_templates,
    incidents,
    maintenance,
    settings,
    signin,
    subscribers,
    team,
)


def routers() -> list[APIRouter]:
    # signin first: its fixed paths (/admin/signin, /admin/setup) before any pattern.
    return [
        signin.router,
        account.router,
        team.router,
        dashboard.router,
        components.router,
        subscribers.router,
        incidents.router,
        maintenance.router,
        incident_templates.router,
        automation.router,
        settings.router,
        audit.router,
    ]
