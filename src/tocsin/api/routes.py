"""The management API v1 at /api/v1, assembled from one router per resource."""

from __future__ import annotations

from fastapi import APIRouter

from tocsin.api.v1 import (
    alert_sources,
    components,
    incidents,
    monitors,
    pages,
    publish_targets,
    subscribers,
    templates,
)

router = APIRouter(prefix="/api/v1")
for module in (
    pages,
    components,
    incidents,
    subscribers,
    templates,
    monitors,
    alert_sources,
    publish_targets,
):
    router.include_router(module.router)
