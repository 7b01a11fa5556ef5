"""The incident composer and each incident's page, for an editor, a viewer and an outsider."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adminkit import csrf_of, post_form, sign_in
from conftest import Persona
from factories import component, group
from tocsin.audit.service import CLI
from tocsin.components.models import Component
from tocsin.components.status import ComponentStatus
from tocsin.incidents import templates
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import TemplateCreate
from tocsin.incidents.status import IncidentStatus
from tocsin.notify import service as subscribers
from tocsin.notify.models import Delivery, Notification
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages.models import Page


@pytest.fixture
def parts(session: Session, page: Page) -> tuple[Component, Component]:
    """Payments API and Webhooks, in a Payments group."""
    api = component(session, page, "Payments API")
    hooks = component(session, page, "Webhooks")
    group(session, page, "Payments", [api, hooks])
    session.commit()
    return api, hooks


def _base(page: Page) -> str:
    return f"/admin/pages/{page.id}"


def _new(page: Page, *fields: tuple[str, str]) -> list[tuple[str, str]]:
    defaults = {"name": "Payments are failing", "status": "investigating", "impact": ""}
    given = {name for name, _ in fields}
    return [*((k, v) for k, v in defaults.items() if k not in given), *fields]


def _create(client: TestClient, page: Page, *fields: tuple[str, str]) -> str:
    response = post_form(client, f"{_base(page)}/incidents/new", _new(page, *fields))
    assert response.status_code == 303, response.text
    found = re.search(r"/incidents/(\w+)$", response.headers["location"])
    assert found
    return found.group(1)


def _public(client: TestClient, path: str) -> str:
    """What a visitor reads at `path`: the page's text without its markup."""
    return re.sub(r"<[^>]+>", "", client.get(path).text)


def _incidents(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Incident)) or 0


def _subscribe(
    session: Session, page: Page, email: str, component_ids: list[str] | None = None
) -> None:
    subscribers.create_subscriber(
        session,
        page=page,
        data=SubscriberCreate(
            email=email, skip_confirmation_notification=True, component_ids=component_ids
        ),
        actor=CLI,
    )
    session.commit()


def test_an_editor_opens_an_incident_with_two_components_and_visitors_see_it(
    client: TestClient, bob: Persona, session: Session, page: Page, parts: tuple[Component, ...]
) -> None:
    api, hooks = parts
    sign_in(client, bob)
    composer = client.get(f"{_base(page)}/incidents/new")
    assert composer.status_code == 200
    assert "Payments" in composer.text and f'name="component.{api.id}"' in composer.text

    incident_id = _create(
        client,
        page,
        ("name", "Payments are failing"),
        (f"component.{api.id}", "partial_outage"),
        (f"component.{hooks.id}", "degraded_performance"),
        ("body", "We see **errors** on card payments."),
        ("notify", "false"),
        ("notify", "true"),
        ("intent", "publish"),
    )

    home = _public(client, "/")
    assert "Payments are failing" in home
    assert re.search(r"Payments API\s+Partial outage", home)
    assert re.search(r"Webhooks\s+Degraded performance", home)
    public = _public(client, f"/incidents/{incident_id}")
    assert "Payments API — Partial outage" in public
    assert "Webhooks — Degraded performance" in public
    assert "<strong>errors</strong>" in client.get(f"/incidents/{incident_id}").text
    admin = client.get(f"{_base(page)}/incidents/{incident_id}").text
    assert "Operational → Partial outage" in admin
    assert f'href="/incidents/{incident_id}"' in admin


def test_follow_ups_and_resolve_reach_the_public_page(
    client: TestClient, bob: Persona, session: Session, page: Page, parts: tuple[Component, ...]
) -> None:
    api, hooks = parts
    sign_in(client, bob)
    incident_id = _create(
        client,
        page,
        (f"component.{api.id}", "major_outage"),
        (f"component.{hooks.id}", "degraded_performance"),
    )
    here = f"{_base(page)}/incidents/{incident_id}"
    form = client.get(here).text
    # The follow-up starts from what the incident set, so leaving it alone changes nothing.
    assert re.search(rf'name="component.{api.id}" value="major_outage"[^>]*checked', form)

    response = post_form(
        client,
        f"{here}/updates",
        [
            ("status", "identified"),
            (f"component.{api.id}", "partial_outage"),
            (f"component.{hooks.id}", "degraded_performance"),
            ("body", "A bad deploy; rolling back."),
            ("notify", "true"),
        ],
        token_from=here,
    )
    assert response.status_code == 303
    public = _public(client, f"/incidents/{incident_id}")
    assert "A bad deploy; rolling back." in public
    assert re.search(r"Payments API\s+Partial outage", _public(client, "/"))
    session.expire_all()
    assert session.get(Component, hooks.id).status is ComponentStatus.DEGRADED_PERFORMANCE  # type: ignore[union-attr]

    assert post_form(client, f"{here}/resolve", token_from=here).status_code == 303
    public = _public(client, f"/incidents/{incident_id}")
    assert "This incident has been resolved." in public
    assert "All Systems Operational" in client.get("/").text
    session.expire_all()
    assert session.get(Incident, incident_id).status is IncidentStatus.RESOLVED  # type: ignore[union-attr]
    assert "Resolve this incident" not in client.get(here).text


def test_a_write_up_link_and_a_markdown_write_up_are_published(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    incident_id = _create(client, page, ("status", "resolved"))
    here = f"{_base(page)}/incidents/{incident_id}"

    bad = post_form(
        client,
        f"{here}/writeup",
        {"intent": "link", "writeup_url": "javascript:alert(1)"},
        token_from=here,
    )
    assert bad.status_code == 422 and "must start with https://" in bad.text

    link = "https://acme.example/blog/payments"
    assert (
        post_form(
            client, f"{here}/writeup", {"intent": "link", "writeup_url": link}, token_from=here
        ).status_code
        == 303
    )
    assert f'Read our write-up at <a href="{link}"' in client.get(f"/incidents/{incident_id}").text

    post_form(client, f"{here}/writeup/retract", token_from=here)
    assert "Read our write-up" not in client.get(f"/incidents/{incident_id}").text

    draft = post_form(
        client,
        f"{here}/writeup",
        {"intent": "draft", "postmortem": "## What happened\n\nA *bad* deploy."},
        token_from=here,
    )
    assert draft.status_code == 303
    assert client.get(f"/incidents/{incident_id}/write-up").status_code == 404
    assert "A *bad* deploy." in client.get(here).text

    published = post_form(
        client,
        f"{here}/writeup",
        {"intent": "publish", "postmortem": "## What happened\n\nA *bad* deploy."},
        token_from=here,
    )
    assert published.status_code == 303
    writeup = client.get(f"/incidents/{incident_id}/write-up").text
    assert "<em>bad</em>" in writeup and "What happened" in writeup


def test_a_backfilled_incident_is_resolved_at_its_times_and_notifies_no_one(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    page.time_zone = "Europe/Berlin"
    session.commit()
    _subscribe(session, page, "ann@example.com")
    sign_in(client, bob)
    incident_id = _create(
        client,
        page,
        ("name", "Last week's outage"),
        ("backfill", "false"),
        ("backfill", "true"),
        ("started_at", "2026-03-02T10:00"),
        ("resolved_at", "2026-03-02T11:30"),
        ("notify", "true"),
    )
    session.expire_all()
    incident = session.get(Incident, incident_id)
    assert incident is not None and incident.backfilled
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.started_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert incident.resolved_at == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
    assert "Last week&#39;s outage" in _public(client, f"/incidents/{incident_id}")


def test_a_template_prefills_the_composer_without_javascript(
    client: TestClient, bob: Persona, session: Session, page: Page, parts: tuple[Component, ...]
) -> None:
    api, _ = parts
    template = templates.create_template(
        session,
        page=page,
        data=TemplateCreate(
            name="Card failures",
            title="Card payments failing",
            body="We are looking into failed card payments.</script><script>alert(1)",
            update_status=IncidentStatus.IDENTIFIED,
            should_send_notifications=False,
            component_ids=[api.id],
        ),
        actor=CLI,
    )
    session.commit()
    sign_in(client, bob)
    blank = client.get(f"{_base(page)}/incidents/new").text
    assert "Card failures" in blank and 'id="template-data"' in blank
    assert "</script><script>" not in blank

    filled = client.get(f"{_base(page)}/incidents/new?template={template.id}").text
    assert 'value="Card payments failing"' in filled
    assert "failed card payments.&lt;/script&gt;&lt;script&gt;alert(1)</textarea>" in filled
    assert '<option value="identified" selected>' in filled
    assert re.search(rf'name="component.{api.id}" value="operational"[^>]*checked', filled)
    assert not re.search(r'name="notify" type="checkbox" value="true" checked', filled)


def test_the_composer_counts_who_would_be_notified_and_notifies_only_when_asked(
    client: TestClient, bob: Persona, session: Session, page: Page, parts: tuple[Component, ...]
) -> None:
    api, hooks = parts
    _subscribe(session, page, "everything@example.com")
    _subscribe(session, page, "hooks@example.com", [hooks.id])
    subscribers.create_subscriber(
        session, page=page, data=SubscriberCreate(email="pending@example.com"), actor=CLI
    )
    session.commit()
    sign_in(client, bob)
    base = _base(page)
    assert "Would notify 2 subscribers." in client.get(f"{base}/incidents/new").text
    one = client.get(f"{base}/incidents/audience", params={"component": api.id})
    assert one.json() == {"text": "Would notify 1 subscriber."}
    two = client.get(f"{base}/incidents/audience", params={"component": [api.id, hooks.id]})
    assert two.json() == {"text": "Would notify 2 subscribers."}

    _create(client, page, (f"component.{api.id}", "major_outage"), ("notify", "false"))
    assert session.scalar(select(func.count()).select_from(Delivery)) == 0

    _create(client, page, (f"component.{hooks.id}", "major_outage"), ("notify", "true"))
    recipients = session.scalars(select(Delivery.subscriber_id)).all()
    assert len(recipients) == 2


def test_a_draft_stays_off_the_public_page_until_published(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    incident_id = _create(client, page, ("name", "Quiet draft"), ("intent", "draft"))
    assert client.get(f"/incidents/{incident_id}").status_code == 404
    listing = client.get(f"{_base(page)}/incidents").text
    assert "Quiet draft" in listing and ">draft<" in listing
    here = f"{_base(page)}/incidents/{incident_id}"
    assert post_form(client, f"{here}/publish", token_from=here).status_code == 303
    assert "Quiet draft" in _public(client, f"/incidents/{incident_id}")


def test_the_title_and_an_update_can_be_corrected(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    incident_id = _create(client, page, ("body", "Tpyo here"))
    here = f"{_base(page)}/incidents/{incident_id}"
    post_form(
        client,
        f"{here}/edit",
        {"name": "Card payments failing", "impact": "major"},
        token_from=here,
    )
    session.expire_all()
    incident = session.get(Incident, incident_id)
    assert incident is not None and incident.impact.value == "major"
    update_id = incident.updates[0].id
    response = post_form(
        client, f"{here}/updates/{update_id}/edit", {"update_body": "Typo fixed"}, token_from=here
    )
    assert response.status_code == 303
    public = _public(client, f"/incidents/{incident_id}")
    assert "Card payments failing" in public and "Typo fixed" in public
    empty = post_form(
        client, f"{here}/updates/{update_id}/edit", {"update_body": " "}, token_from=here
    )
    assert empty.status_code == 422 and "needs some text" in empty.text


def test_only_an_admin_or_owner_deletes_an_incident(
    client: TestClient, alice: Persona, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    incident_id = _create(client, page)
    here = f"{_base(page)}/incidents/{incident_id}"
    assert "Delete incident" not in client.get(here).text
    assert post_form(client, f"{here}/delete", token_from=here).status_code == 403
    assert _incidents(session) == 1
    sign_in(client, alice)
    assert "Delete incident" in client.get(here).text
    assert post_form(client, f"{here}/delete", token_from=here).status_code == 303
    assert _incidents(session) == 0


def test_a_viewer_reads_but_gets_no_forms_and_is_refused_on_post(
    client: TestClient, bob: Persona, vera: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    incident_id = _create(client, page, ("name", "Seen by vera"))
    here = f"{_base(page)}/incidents/{incident_id}"
    sign_in(client, vera)
    html = client.get(here).text
    assert "Seen by vera" in html
    for form in ("/updates", "/resolve", "/writeup", "/edit", "/delete"):
        assert f'action="{here}{form}"' not in html
    assert "New incident" not in client.get(f"{_base(page)}/incidents").text
    assert client.get(f"{_base(page)}/incidents/new").status_code == 403
    token = csrf_of(html)
    for path, data in (
        (f"{here}/updates", {"status": "resolved", "body": "vera was here"}),
        (f"{here}/resolve", {}),
        (f"{_base(page)}/incidents/new", dict(_new(page))),
    ):
        refused = client.post(path, data={**data, "csrf_token": token})
        assert refused.status_code == 403
    session.expire_all()
    assert session.get(Incident, incident_id).status is IncidentStatus.INVESTIGATING  # type: ignore[union-attr]
    assert _incidents(session) == 1


def test_another_pages_owner_cannot_reach_the_incident_by_id(
    client: TestClient, alice: Persona, charlie: Persona, session: Session, page: Page
) -> None:
    sign_in(client, alice)
    incident_id = _create(client, page)
    sign_in(client, charlie)
    theirs = f"/admin/pages/{charlie.page.id}/incidents/{incident_id}"
    ours = f"{_base(page)}/incidents/{incident_id}"
    assert client.get(theirs).status_code == 404
    assert client.get(ours).status_code == 404
    token = csrf_of(client.get(f"/admin/pages/{charlie.page.id}/incidents").text)
    for path in (f"{theirs}/resolve", f"{theirs}/delete", f"{ours}/resolve"):
        assert client.post(path, data={"csrf_token": token}).status_code == 404
    audience = client.get(
        f"/admin/pages/{charlie.page.id}/incidents/audience", params={"incident": incident_id}
    )
    assert audience.status_code == 404
    session.expire_all()
    assert session.get(Incident, incident_id).status is IncidentStatus.INVESTIGATING  # type: ignore[union-attr]


def test_a_post_without_the_form_token_is_refused_and_writes_nothing(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    response = client.post(f"{_base(page)}/incidents/new", data=dict(_new(page)))
    assert response.status_code == 403
    assert _incidents(session) == 0


def test_markup_in_a_title_and_body_is_shown_as_text(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    incident_id = _create(
        client,
        page,
        ("name", "<script>alert('t')</script>"),
        ("body", "<img src=x onerror=alert(1)> [link](javascript:alert(2))"),
    )
    for url in (f"{_base(page)}/incidents/{incident_id}", f"{_base(page)}/incidents"):
        html = client.get(url).text
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in html
        assert "onerror" not in html.replace("onerror=alert(1)&gt;", "")
        assert 'href="javascript:' not in html
    preview = post_form(
        client,
        f"{_base(page)}/preview",
        {"body": "<img src=x onerror=alert(1)>"},
        token_from=f"{_base(page)}/incidents/new",
    )
    assert "<img" not in preview.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((("name", "  "),), "Title: String should have at least 1 character"),
        ((("status", "exploded"),), "choose a status"),
        ((("status", "scheduled"),), "choose a status"),
        ((("impact", "apocalyptic"),), "Impact: Input should be"),
        ((("component.nope", "major_outage"),), "component nope not found"),
        (
            (
                ("backfill", "true"),
                ("started_at", "2026-03-02T10:00"),
                ("resolved_at", "2026-03-01T10:00"),
            ),
            "resolved_at is before started_at",
        ),
        ((("backfill", "true"), ("started_at", "yesterday")), "is not a date and time"),
        ((("backfill", "true"),), "needs the time it started"),
    ],
)
def test_bad_input_shows_the_form_again_with_a_message(
    client: TestClient,
    bob: Persona,
    session: Session,
    page: Page,
    fields: tuple[tuple[str, str], ...],
    message: str,
) -> None:
    sign_in(client, bob)
    response = post_form(
        client,
        f"{_base(page)}/incidents/new",
        _new(page, *fields, ("body", "Kept as typed")),
    )
    assert response.status_code == 422
    assert message in response.text
    assert "Kept as typed</textarea>" in response.text
    assert _incidents(session) == 0


def test_a_bad_component_status_is_refused_and_nothing_is_half_written(
    client: TestClient, bob: Persona, session: Session, page: Page, parts: tuple[Component, ...]
) -> None:
    api, _ = parts
    sign_in(client, bob)
    incident_id = _create(client, page, (f"component.{api.id}", "major_outage"))
    here = f"{_base(page)}/incidents/{incident_id}"
    response = post_form(
        client,
        f"{here}/updates",
        [("status", "identified"), (f"component.{api.id}", "on_fire"), ("body", "Still here")],
        token_from=here,
    )
    assert response.status_code == 422
    assert "a component status must be one of" in response.text
    assert "Still here</textarea>" in response.text
    # The rename happens before the unknown component is looked up: it must not stick.
    edit = post_form(
        client, f"{here}/edit", {"name": "Renamed", "component_ids": "nope"}, token_from=here
    )
    assert edit.status_code == 422 and "component nope not found" in edit.text
    session.expire_all()
    incident = session.get(Incident, incident_id)
    assert incident is not None and len(incident.updates) == 1
    assert incident.name == "Payments are failing"


def test_the_list_searches_and_puts_open_incidents_first(
    client: TestClient, bob: Persona, session: Session, page: Page
) -> None:
    sign_in(client, bob)
    _create(client, page, ("name", "Old database blip"), ("status", "resolved"))
    _create(client, page, ("name", "Login is slow"))
    listing = client.get(f"{_base(page)}/incidents").text
    assert listing.index("Login is slow") < listing.index("Old database blip")
    found = client.get(f"{_base(page)}/incidents", params={"q": "database"}).text
    assert "Old database blip" in found and "Login is slow" not in found


def test_templates_are_created_edited_and_deleted(
    client: TestClient, bob: Persona, session: Session, page: Page, parts: tuple[Component, ...]
) -> None:
    api, _ = parts
    sign_in(client, bob)
    base = _base(page)
    empty = post_form(
        client,
        f"{base}/templates/new",
        {"name": "Card failures", "title": "Card payments failing", "body": ""},
    )
    assert empty.status_code == 422 and "Message: String should have at least 1 character" in (
        empty.text
    )
    created = post_form(
        client,
        f"{base}/templates/new",
        {
            "name": "Card failures",
            "title": "Card payments failing",
            "body": "Looking into it.",
            "update_status": "identified",
            "component_ids": api.id,
            "notify": "true",
        },
    )
    assert created.status_code == 303
    (template,) = templates.list_templates(session, page_id=page.id)
    assert template.component_ids == [api.id]
    assert "Card failures" in client.get(f"{base}/templates").text

    here = f"{base}/templates/{template.id}"
    edited = post_form(
        client,
        here,
        {
            "name": "Card failures",
            "title": "Cards declined",
            "body": "Still looking.",
            "update_status": "investigating",
        },
    )
    assert edited.status_code == 303
    assert (
        'value="Cards declined"' in client.get(f"{base}/incidents/new?template={template.id}").text
    )

    assert post_form(client, f"{here}/delete", token_from=here).status_code == 303
    session.expire_all()
    assert templates.list_templates(session, page_id=page.id) == []


def test_a_viewer_reads_templates_but_cannot_change_them(
    client: TestClient, vera: Persona, charlie: Persona, session: Session, page: Page
) -> None:
    template = templates.create_template(
        session,
        page=page,
        data=TemplateCreate(name="Slow logins", title="Logins are slow", body="Checking."),
        actor=CLI,
    )
    session.commit()
    sign_in(client, vera)
    here = f"{_base(page)}/templates/{template.id}"
    html = client.get(here).text
    assert "Logins are slow" in html and f'action="{here}"' not in html
    token = csrf_of(html)
    assert client.post(f"{here}/delete", data={"csrf_token": token}).status_code == 403
    sign_in(client, charlie)
    assert client.get(f"/admin/pages/{charlie.page.id}/templates/{template.id}").status_code == 404
    session.expire_all()
    assert len(templates.list_templates(session, page_id=page.id)) == 1
