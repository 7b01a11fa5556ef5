from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conftest import Persona
from factories import component
from tocsin.audit.service import CLI
from tocsin.components.status import ComponentStatus
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate
from tocsin.notify.models import Notification
from tocsin.pages.models import Page


def draft(session: Session, page: Page) -> Incident:
    api = component(session, page, "Payments API")
    incident = incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(
            name="Payments API unavailable",
            body="Automated checks are failing.",
            components={api.id: ComponentStatus.MAJOR_OUTAGE},
        ),
        actor=CLI,
        draft=True,
    )
    session.commit()
    return incident


def path(page: Page, incident: Incident, suffix: str = "") -> str:
    return f"/api/v1/pages/{page.id}/incidents/{incident.id}{suffix}"


def announced(session: Session, incident: Incident) -> int:
    query = select(func.count()).where(Notification.incident_id == incident.id)
    return session.scalar(query) or 0


def test_an_editor_publishes_a_draft_and_subscribers_are_told(
    client: TestClient, session: Session, page: Page, bob: Persona
) -> None:
    incident = draft(session, page)
    shown = client.get(path(page, incident), headers=bob.headers).json()
    assert shown["draft"] is True
    assert "Payments API unavailable" not in client.get("/").text

    response = client.post(path(page, incident, "/publish"), headers=bob.headers)

    assert response.status_code == 200, response.text
    assert response.json()["draft"] is False
    assert "Payments API unavailable" in client.get("/").text
    assert announced(session, incident) == 1


def test_publishing_twice_or_without_the_role_is_refused(
    client: TestClient, session: Session, page: Page, bob: Persona, vera: Persona, charlie: Persona
) -> None:
    incident = draft(session, page)

    assert client.post(path(page, incident, "/publish"), headers=vera.headers).status_code == 403
    assert client.post(path(page, incident, "/publish"), headers=charlie.headers).status_code == 404
    assert client.post(path(page, incident, "/publish"), headers=bob.headers).status_code == 200
    again = client.post(path(page, incident, "/publish"), headers=bob.headers)
    assert again.status_code == 422
    assert announced(session, incident) == 1
