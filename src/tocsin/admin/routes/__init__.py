"""The admin's screens, one module per area; `routers()` lists them for the app."""

from __future__ import annotations

from fastapi import APIRouter

from tocsin.admin.routes import dashboard, signin


def routers() -> list[APIRouter]:
    # signin first: its fixed paths (/admin/signin, /admin/setup) before any pattern.
    return [signin.router, dashboard.router]
