"""The management API v1 at /api/v1, assembled from one router per resource."""

from __future__ import annotations

from fastapi import APIRouter

from tocsin.api.v1 import components, incidents, pages, subscribers, templates

router = APIRouter(prefix="/api/v1")
for module in (pages, components, incidents, subscribers, templates):
    router.include_router(module.router)
