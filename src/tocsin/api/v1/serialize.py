"""Management API v1 objects shared by several resources (statuspage-api.md §2.3).

Each resource module serialises its own objects; the ones others embed live here.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from tocsin.components.models import Component
from tocsin.components.status import ComponentStatus
from tocsin.lib.isotime import iso, iso_date


def component(
    row: Component, zone: ZoneInfo, *, status: ComponentStatus | None = None
) -> dict[str, Any]:
    """A v1 Component, keys in the spec's order; `status` overrides a group row's own."""
    return {
        "id": row.id,
        "page_id": row.page_id,
        "group_id": row.group_id,
        "created_at": iso(row.created_at, zone),
        "updated_at": iso(row.updated_at, zone),
        "group": row.is_group,
        "name": row.name,
        "description": row.description,
        "position": row.position,
        "status": (status or row.status).value,
        "showcase": row.showcase,
        "only_show_if_degraded": row.only_show_if_degraded,
        "automation_email": None,
        "start_date": iso_date(row.start_date),
    }
