"""Imports every domain's models so that the metadata (Alembic, tests) sees all tables."""

from __future__ import annotations

from tocsin.accounts.models import ApiKey, Membership, User
from tocsin.audit.models import AuditEvent
from tocsin.components.models import Component, StatusChange
from tocsin.db import Base
from tocsin.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentTemplate,
    IncidentUpdate,
    UpdateComponentChange,
)
from tocsin.lib.ratelimit import RateLimit
from tocsin.monitors.models import (
    AlertSource,
    CheckResult,
    Monitor,
    MonitorComponent,
    MonitorRollup,
)
from tocsin.notify.models import Delivery, Notification, Subscriber, SubscriberComponent
from tocsin.pages.models import Page
from tocsin.publish.models import PublishTarget

__all__ = [
    "AlertSource",
    "ApiKey",
    "AuditEvent",
    "Base",
    "CheckResult",
    "Component",
    "Delivery",
    "Incident",
    "IncidentComponent",
    "IncidentTemplate",
    "IncidentUpdate",
    "Membership",
    "Monitor",
    "MonitorComponent",
    "MonitorRollup",
    "Notification",
    "Page",
    "PublishTarget",
    "RateLimit",
    "StatusChange",
    "Subscriber",
    "SubscriberComponent",
    "UpdateComponentChange",
    "User",
]
