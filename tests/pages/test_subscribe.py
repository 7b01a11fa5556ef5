"""The public subscribe flow: form → confirmation email queued → confirm → manage → unsubscribe."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import component, group
from tocsin.audit.models import AuditEvent
from tocsin.audit.service import CLI
from tocsin.errors import Invalid
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.notify import links
from tocsin.notify import service as subscribers
from tocsin.notify.base import Links
from tocsin.notify.models import Delivery, Notification, NotificationKind, Subscriber
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages.models import Page

SECRET = "test-secret-key"


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def post_form(client: TestClient, email: str, *component_ids: str) -> str:
    """Fill in and send the form as a browser would; return the response text."""
    form = client.get("/subscribe")
    assert form.status_code == 200
    data = {"email": email, "csrf_token": csrf_token(form.text), "website": ""}
    response = client.post("/subscribe", data={**data, "component_ids": list(component_ids)})
    assert response.status_code == 200, response.text
    return response.text


def subscriber_of(session: Session, email: str) -> Subscriber:
    session.expire_all()
    return session.scalars(select(Subscriber).where(Subscriber.email == email)).one()


def confirmations(session: Session, subscriber: Subscriber) -> list[Delivery]:
    query = (
        select(Delivery)
        .join(Notification)
        .where(
            Delivery.subscriber_id == subscriber.id,
            Notification.kind == NotificationKind.CONFIRM_SUBSCRIPTION,
        )
    )
    return list(session.scalars(query))


def email_links(subscriber: Subscriber) -> Links:
    """The links the confirmation email will carry, exactly as the email channel builds them."""
    return links.links_for(SECRET, subscriber, base_url="http://testserver", incident_id=None)


def test_the_home_page_links_to_the_form(client: TestClient, page: Page) -> None:
    assert 'href="/subscribe">Subscribe to updates</a>' in client.get("/").text


def test_the_form_lists_components_under_their_groups(
    client: TestClient, session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    group(session, page, "Payments", [api, hooks])
    component(session, page, "Dashboard")
    session.commit()
    html = client.get("/subscribe").text
    assert html.index("Payments</bdi></span> (all)") < html.index("Payments API")
    assert html.index("Payments API") < html.index("Webhooks") < html.index("Dashboard")
    assert html.count('type="checkbox" name="component_ids"') == 4


def test_the_whole_flow_from_form_to_one_click_unsubscribe(
    client: TestClient, session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    payments = group(session, page, "Payments", [api])
    session.commit()

    assert "Check your email" in post_form(client, "Ann@Example.com", api.id)
    ann = subscriber_of(session, "ann@example.com")
    assert ann.confirmed_at is None and ann.confirmation_requested_at is not None
    assert [c.component_id for c in ann.components] == [api.id]
    assert [d.status.value for d in confirmations(session, ann)] == ["pending"]

    sent = email_links(ann)
    assert sent.confirm is not None
    shown = client.get(sent.confirm)
    assert shown.status_code == 200 and "Confirm subscription" in shown.text
    assert subscriber_of(session, "ann@example.com").confirmed_at is None
    confirmed = client.post(sent.confirm)
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert subscriber_of(session, "ann@example.com").confirmed_at is not None

    manage = client.get(sent.manage)
    assert manage.status_code == 200 and "ann@example.com" in manage.text
    assert f'value="{api.id}" checked' in manage.text
    saved = client.post(sent.manage, data={"component_ids": [payments.id]})
    assert saved.status_code == 200 and "Your preferences are saved" in saved.text
    ann = subscriber_of(session, "ann@example.com")
    assert [c.component_id for c in ann.components] == [payments.id]
    client.post(sent.manage, data={})
    ann = subscriber_of(session, "ann@example.com")
    assert ann.all_components and ann.components == []

    gone = client.post(sent.unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert gone.status_code == 200 and "You are unsubscribed" in gone.text
    assert subscriber_of(session, "ann@example.com").unsubscribed_at is not None


def test_no_component_ticked_means_the_whole_page(
    client: TestClient, session: Session, page: Page
) -> None:
    component(session, page, "Payments API")
    session.commit()
    post_form(client, "ann@example.com")
    ann = subscriber_of(session, "ann@example.com")
    assert ann.all_components and ann.components == []


def test_confirming_twice_is_harmless(client: TestClient, session: Session, page: Page) -> None:
    post_form(client, "ann@example.com")
    confirm = email_links(subscriber_of(session, "ann@example.com")).confirm
    assert confirm is not None
    first = client.post(confirm)
    at = subscriber_of(session, "ann@example.com").confirmed_at
    second = client.post(confirm)
    assert first.status_code == second.status_code == 200
    assert subscriber_of(session, "ann@example.com").confirmed_at == at


def test_each_change_is_in_the_audit_log(client: TestClient, session: Session, page: Page) -> None:
    post_form(client, "ann@example.com")
    sent = email_links(subscriber_of(session, "ann@example.com"))
    assert sent.confirm is not None
    client.post(sent.confirm)
    client.post(sent.manage, data={})
    client.post(sent.unsubscribe)
    query = select(AuditEvent).where(AuditEvent.object_type == "subscriber")
    events = session.scalars(query.order_by(AuditEvent.created_at)).all()
    assert [(e.action, e.actor, e.ip) for e in events] == [
        ("subscriber.create", "subscribe form", "testclient"),
        ("subscriber.confirm", "subscriber", "testclient"),
        ("subscriber.update", "subscriber", "testclient"),
        ("subscriber.unsubscribe", "subscriber", "testclient"),
    ]


def test_the_manage_page_offers_a_working_unsubscribe_button(
    client: TestClient, session: Session, page: Page
) -> None:
    post_form(client, "ann@example.com")
    manage = client.get(email_links(subscriber_of(session, "ann@example.com")).manage)
    found = re.search(
        r'<form method="post" action="(/subscriptions/unsubscribe/[^"]+)"', manage.text
    )
    assert found is not None
    response = client.post(found.group(1).replace("&amp;", "&"))
    assert "You are unsubscribed" in response.text
    assert subscriber_of(session, "ann@example.com").unsubscribed_at is not None


def test_an_unsubscribed_person_sees_so_on_every_link(
    client: TestClient, session: Session, page: Page
) -> None:
    post_form(client, "ann@example.com")
    sent = email_links(subscriber_of(session, "ann@example.com"))
    assert sent.confirm is not None
    client.post(sent.unsubscribe)
    assert "You are unsubscribed" in client.get(sent.manage).text
    assert "You are unsubscribed" in client.get(sent.unsubscribe).text
    assert client.post(sent.unsubscribe).status_code == 200
    late = client.post(sent.confirm)
    assert late.status_code == 409 and "You are unsubscribed" in late.text
    assert subscriber_of(session, "ann@example.com").confirmed_at is None


def test_subscribing_again_after_unsubscribing_starts_over_with_new_links(
    client: TestClient, session: Session, page: Page
) -> None:
    post_form(client, "ann@example.com")
    old = email_links(subscriber_of(session, "ann@example.com"))
    client.post(old.unsubscribe)
    post_form(client, "ann@example.com")
    ann = subscriber_of(session, "ann@example.com")
    assert ann.unsubscribed_at is None and ann.confirmed_at is None
    assert len(confirmations(session, ann)) == 2
    assert client.get(old.manage).status_code == 404
    assert client.get(email_links(ann).manage).status_code == 200


def test_an_ended_subscription_cannot_be_confirmed(session: Session, page: Page) -> None:
    data = SubscriberCreate(email="ann@example.com")
    ann = subscribers.create_subscriber(session, page=page, data=data, actor=CLI).subscriber
    subscribers.unsubscribe(session, subscriber=ann, actor=CLI)
    with pytest.raises(Invalid):
        subscribers.confirm(session, subscriber=ann, actor=CLI)
    assert ann.confirmed_at is None


def test_an_incident_subscriber_manages_only_their_unsubscribing(
    client: TestClient, session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    incident = incidents.create_incident(
        session,
        page=page,
        data=IncidentCreate(name="Payments down", components={api.id: "major_outage"}),
        actor=CLI,
    )
    data = SubscriberCreate(email="ann@example.com", skip_confirmation_notification=True)
    ann = subscribers.create_subscriber(
        session, page=page, data=data, actor=CLI, incident=incident
    ).subscriber
    session.commit()
    sent = email_links(ann)
    shown = client.get(sent.manage)
    assert "You follow one incident" in shown.text and "component_ids" not in shown.text
    assert client.post(sent.manage, data={"component_ids": [api.id]}).status_code == 200
    assert subscriber_of(session, "ann@example.com").components == []
    client.post(sent.unsubscribe)
    assert subscriber_of(session, "ann@example.com").unsubscribed_at is not None
