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
from tocsin.notify.models import Delivery, Notification, Subscriber, SubscriberComponent
from tocsin.pages.models import Page

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Component",
    "Delivery",
    "Incident",
    "IncidentComponent",
    "IncidentTemplate",
    "IncidentUpdate",
    "Membership",
    "Notification",
    "Page",
    "StatusChange",
    "Subscriber",
    "SubscriberComponent",
    "UpdateComponentChange",
    "User",
]
