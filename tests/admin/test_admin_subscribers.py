from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adminkit import csrf_of, post_form, sign_in
from conftest import Persona
from factories import component, group
from tocsin.audit.service import CLI
from tocsin.main import create_app
from tocsin.notify import service as subscribers
from tocsin.notify.models import (
    Delivery,
    Notification,
    NotificationKind,
    Subscriber,
    SubscriberMode,
    SubscriberState,
)
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages.models import Page
from tocsin.settings import Settings

T0 = datetime(2026, 3, 2, 15, 12, tzinfo=UTC)


def _url(page: Page, rest: str = "") -> str:
    return f"/admin/pages/{page.id}/subscribers{rest}"


def subscribe(
    session: Session, page: Page, *, confirmed: bool = True, at: datetime = T0, **fields: object
) -> Subscriber:
    data = SubscriberCreate.model_validate(
        {"skip_confirmation_notification": confirmed, "email": "ann@example.com", **fields}
    )
    created = subscribers.create_subscriber(session, page=page, data=data, actor=CLI, now=at)
    session.commit()
    return created.subscriber


def listed(html: str) -> list[str]:
    """The addresses in the subscriber table, in order."""
    table = re.search(r'<table class="subscribers stacked">.*?</table>', html, re.S)
    return (
        re.findall(r'<td class="addr"><a href="[^"]+">([^<]*)</a></td>', table.group(0))
        if table
        else []
    )


def rows_of(session: Session, page: Page) -> list[Subscriber]:
    session.expire_all()
    return list(session.scalars(select(Subscriber).where(Subscriber.page_id == page.id)))


def confirmations(session: Session, subscriber_id: str) -> int:
    query = (
        select(func.count())
        .select_from(Delivery)
        .join(Notification, Delivery.notification_id == Notification.id)
        .where(
            Delivery.subscriber_id == subscriber_id,
            Notification.kind == NotificationKind.CONFIRM_SUBSCRIPTION,
        )
    )
    return session.scalar(query) or 0


def upload(
    client: TestClient, page: Page, content: bytes, *, skip: bool = False
) -> tuple[int, str]:
    token = csrf_of(client.get(_url(page, "/import")).text)
    response = client.post(
        _url(page, "/import"),
        data={"csrf_token": token, "skip_confirmation": ["false", "true"] if skip else ["false"]},
        files={"file": ("subscribers.csv", content, "text/csv")},
    )
    return response.status_code, response.text


# --- the list --------------------------------------------------------------------------------


def test_it_lists_subscribers_with_counts_per_channel(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    subscribe(session, page, email="ann@example.com")
    subscribe(session, page, email="bo@example.com")
    subscribe(session, page, email="cy@example.com", confirmed=False)
    subscribe(session, page, mode="sms", email=None, phone_number="+12025550105")
    sign_in(client, alice)

    html = client.get(_url(page)).text

    assert listed(html) == ["+12025550105", "ann@example.com", "bo@example.com", "cy@example.com"]
    assert 'channel=email&amp;state=active">2</a>' in html
    assert 'channel=email&amp;state=unconfirmed">1</a>' in html
    assert 'channel=sms&amp;state=active">1</a>' in html
    assert "Pending confirmation" in html


def test_it_searches_and_filters_by_channel_and_state(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    subscribe(session, page, email="ann@example.com")
    subscribe(session, page, email="bo@example.com", confirmed=False)
    subscribe(session, page, mode="slack", email=None, endpoint="https://hooks.slack.com/x")
    sign_in(client, alice)

    assert listed(client.get(_url(page), params={"q": "BO@"}).text) == ["bo@example.com"]
    assert listed(client.get(_url(page), params={"channel": "slack"}).text) == [
        "https://hooks.slack.com/x"
    ]
    assert listed(client.get(_url(page), params={"state": "unconfirmed"}).text) == [
        "bo@example.com"
    ]
    assert listed(client.get(_url(page), params={"q": "nobody"}).text) == []


def test_it_pages_fifty_at_a_time_in_a_stable_order(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    for n in range(55):
        subscribe(session, page, email=f"user{n:02d}@example.com")
    sign_in(client, alice)

    first = client.get(_url(page)).text
    second = client.get(_url(page), params={"page": 2}).text

    assert len(listed(first)) == 50
    assert 'rel="next"' in first
    assert listed(second) == [f"user{n}@example.com" for n in range(50, 55)]
    assert 'rel="next"' not in second
    assert sorted(listed(first) + listed(second)) == [f"user{n:02d}@example.com" for n in range(55)]


def test_it_refuses_a_bad_filter_without_an_error_500(
    client: TestClient, page: Page, alice: Persona
) -> None:
    sign_in(client, alice)

    assert client.get(_url(page), params={"channel": "pigeon"}).status_code == 422
    assert client.get(_url(page), params={"q": "a\x00b"}).status_code == 400
    assert client.get(_url(page), params={"page": 0}).status_code == 422


def test_addresses_are_escaped_in_the_list(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    hook = subscribe(
        session,
        page,
        mode="webhook",
        email=None,
        endpoint="https://example.com/?q=<script>alert(1)</script>",
    )
    subscribe(session, page, email="o'neil@example.com")
    sign_in(client, alice)

    html = client.get(_url(page)).text
    detail = client.get(_url(page, f"/{hook.id}")).text

    assert "<script>alert(1)" not in html and "<script>alert(1)" not in detail
    assert "https://example.com/…ipt&gt;" in html
    assert "q=&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "o&#39;neil@example.com" in html


# --- adding one ------------------------------------------------------------------------------


def test_it_adds_an_email_subscriber_and_asks_them_to_confirm(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    sign_in(client, alice)

    response = post_form(
        client, _url(page, "/new"), {"mode": "email", "email": " Ann@Example.COM ", "scope": "all"}
    )

    assert response.status_code == 303
    assert "Subscribed" in client.get(response.headers["location"]).text
    [row] = rows_of(session, page)
    assert (row.email, row.state, row.all_components) == (
        "ann@example.com",
        SubscriberState.UNCONFIRMED,
        True,
    )
    assert confirmations(session, row.id) == 1


def test_skip_confirmation_subscribes_at_once_without_a_message(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    sign_in(client, alice)

    post_form(
        client,
        _url(page, "/new"),
        [
            ("mode", "email"),
            ("email", "ann@example.com"),
            ("skip_confirmation", "false"),
            ("skip_confirmation", "true"),
        ],
    )

    [row] = rows_of(session, page)
    assert row.state is SubscriberState.ACTIVE
    assert confirmations(session, row.id) == 0


@pytest.mark.parametrize(
    ("fields", "mode", "address", "state"),
    [
        (
            {"phone_number": "(202) 555-0105", "phone_country": "us"},
            "sms",
            "+12025550105",
            "unconfirmed",
        ),
        ({"endpoint": "https://hooks.example.com/tocsin"}, "webhook", None, "active"),
        ({"endpoint": "https://hooks.slack.com/services/T/B/X"}, "slack", None, "unconfirmed"),
        ({"endpoint": "https://discord.com/api/webhooks/1/x"}, "discord", None, "unconfirmed"),
        ({"endpoint": "https://acme.webhook.office.com/x"}, "teams", None, "unconfirmed"),
    ],
)
def test_it_adds_each_channel(
    client: TestClient,
    session: Session,
    page: Page,
    alice: Persona,
    fields: dict[str, str],
    mode: str,
    address: str | None,
    state: str,
) -> None:
    sign_in(client, alice)
    # The other channels' fields, left filled in, are ignored.
    form = {"email": "leftover@example.com", "mode": mode, **fields}

    assert post_form(client, _url(page, "/new"), form).status_code == 303

    [row] = rows_of(session, page)
    assert row.mode is SubscriberMode(mode)
    assert row.address == (address or fields["endpoint"])
    assert row.email is None
    assert row.state.value == state


def test_it_refuses_a_webhook_at_a_private_address(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    sign_in(client, alice)

    response = post_form(
        client, _url(page, "/new"), {"mode": "webhook", "endpoint": "http://10.0.0.5:8080/hook"}
    )

    assert response.status_code == 422
    assert "10.0.0.5 is a private address" in response.text
    assert 'value="http://10.0.0.5:8080/hook"' in response.text
    assert rows_of(session, page) == []


@pytest.mark.parametrize(
    "endpoint", ["http://localhost/hook", "http://127.1/hook", "http://169.254.169.254/latest"]
)
def test_it_refuses_loopback_and_metadata_endpoints(
    client: TestClient, session: Session, page: Page, alice: Persona, endpoint: str
) -> None:
    sign_in(client, alice)

    response = post_form(client, _url(page, "/new"), {"mode": "discord", "endpoint": endpoint})

    assert response.status_code == 422
    assert rows_of(session, page) == []


def test_private_webhooks_are_accepted_when_the_setting_allows_them(
    settings: Settings, session: Session, page: Page, alice: Persona
) -> None:
    allowing = settings.model_copy(update={"webhooks_allow_private": True})
    with TestClient(create_app(allowing)) as client:
        sign_in(client, alice)
        response = post_form(
            client, _url(page, "/new"), {"mode": "webhook", "endpoint": "http://10.0.0.5/hook"}
        )

    assert response.status_code == 303
    assert [row.endpoint for row in rows_of(session, page)] == ["http://10.0.0.5/hook"]


def test_an_invalid_email_is_refused_with_the_form_kept(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    sign_in(client, alice)

    response = post_form(client, _url(page, "/new"), {"mode": "email", "email": "ann@@example"})

    assert response.status_code == 422
    assert "not a valid email address" in response.text
    assert 'value="ann@@example"' in response.text
    assert rows_of(session, page) == []


def test_choosing_components_needs_at_least_one(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    component(session, page, "API")
    session.commit()
    sign_in(client, alice)

    response = post_form(
        client, _url(page, "/new"), {"email": "ann@example.com", "scope": "chosen"}
    )

    assert response.status_code == 422
    assert "choose at least one component" in response.text
    assert rows_of(session, page) == []


def test_it_subscribes_to_chosen_components_and_groups(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    hooks = component(session, page, "Webhooks")
    payments = group(session, page, "Payments", [api, hooks])
    dashboard = component(session, page, "Dashboard")
    session.commit()
    sign_in(client, alice)
    form_html = client.get(_url(page, "/new")).text
    assert f'data-in-group="{payments.id}"' in form_html

    post_form(
        client,
        _url(page, "/new"),
        [
            ("email", "ann@example.com"),
            ("scope", "chosen"),
            ("component_ids", payments.id),
            ("component_ids", dashboard.id),
        ],
    )

    [row] = rows_of(session, page)
    assert not row.all_components
    assert {link.component_id for link in row.components} == {payments.id, dashboard.id}
    html = client.get(_url(page)).text
    assert "Dashboard" in html and "Payments" in html


def test_another_pages_component_is_refused(
    client: TestClient, session: Session, page: Page, alice: Persona, charlie: Persona
) -> None:
    theirs = component(session, charlie.page, "Their API")
    session.commit()
    sign_in(client, alice)

    response = post_form(
        client,
        _url(page, "/new"),
        {"email": "ann@example.com", "scope": "chosen", "component_ids": theirs.id},
    )

    assert response.status_code == 422
    assert rows_of(session, page) == []


def test_adding_an_address_again_changes_nothing(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    subscribe(session, page, email="ann@example.com", confirmed=False)
    sign_in(client, alice)

    response = post_form(client, _url(page, "/new"), {"email": "ann@example.com"})

    assert response.status_code == 303
    assert "already subscribed" in client.get(response.headers["location"]).text
    [row] = rows_of(session, page)
    assert confirmations(session, row.id) == 0


def test_a_subscribers_components_can_be_changed(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    row = subscribe(session, page)
    sign_in(client, alice)

    response = post_form(
        client, _url(page, f"/{row.id}"), {"scope": "chosen", "component_ids": api.id}
    )

    assert response.status_code == 303
    assert "API" in client.get(_url(page, f"/{row.id}")).text
    [saved] = rows_of(session, page)
    assert [link.component_id for link in saved.components] == [api.id]


# --- unsubscribe, resend, reactivate -------------------------------------------------------


def test_unsubscribing_keeps_the_list_filter(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    row = subscribe(session, page)
    sign_in(client, alice)
    listing = _url(page) + "?channel=email"

    response = post_form(
        client,
        _url(page, f"/{row.id}/unsubscribe"),
        {"back": "channel=email&next=https://evil.example"},
        token_from=listing,
    )

    assert response.status_code == 303
    assert response.headers["location"] == _url(page) + "?channel=email"
    assert rows_of(session, page)[0].state is SubscriberState.UNSUBSCRIBED
    assert listed(client.get(_url(page)).text) == []
    assert listed(client.get(_url(page), params={"state": "unsubscribed"}).text) == [
        "ann@example.com"
    ]


def test_resend_queues_another_confirmation(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    row = subscribe(session, page, confirmed=False)
    sign_in(client, alice)
    assert "Resend confirmation" in client.get(_url(page)).text

    response = post_form(client, _url(page, f"/{row.id}/resend"), token_from=_url(page))

    assert response.status_code == 303
    assert confirmations(session, row.id) == 1


def test_resend_is_refused_for_a_confirmed_subscriber(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    row = subscribe(session, page)
    sign_in(client, alice)
    assert "Resend confirmation" not in client.get(_url(page)).text

    response = post_form(client, _url(page, f"/{row.id}/resend"), token_from=_url(page))

    assert response.status_code == 422
    assert confirmations(session, row.id) == 0


def test_a_quarantined_subscriber_can_be_reactivated(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    row = subscribe(session, page)
    subscribers.quarantine(session, subscriber=row, reason="bounced")
    session.commit()
    sign_in(client, alice)
    assert "Reactivate" in client.get(_url(page)).text

    response = post_form(client, _url(page, f"/{row.id}/reactivate"), token_from=_url(page))

    assert response.status_code == 303
    assert rows_of(session, page)[0].state is SubscriberState.ACTIVE


# --- import and export -----------------------------------------------------------------------


MIXED = (
    b"channel,address,components\n"
    b"email,new@example.com,\n"
    b"email,old@example.com,\n"
    b"email,new@example.com,\n"
    b"email,not-an-email,\n"
    b"\n"
    b"webhook,http://192.168.1.20/hook,\n"
    b"email,comp@example.com,Nope\n"
    b"sms,+447911123456,API\n"
    b"pigeon,coo@example.com,\n"
)


def test_import_keeps_the_good_rows_and_reports_the_others(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    api = component(session, page, "API")
    subscribe(session, page, email="old@example.com")
    sign_in(client, alice)

    status, html = upload(client, page, MIXED)

    assert status == 200
    assert "<strong>2</strong> added" in html
    assert "<strong>2</strong> skipped" in html
    assert "<strong>4</strong> refused" in html
    refused = re.search(r'<table class="import-refused">.*?</table>', html, re.S)
    assert refused
    assert re.findall(r"<tr><td>(\d+)</td>", refused.group(0)) == ["5", "7", "8", "10"]
    assert "not a valid email address" in refused.group(0)
    assert "192.168.1.20 is a private address" in refused.group(0)
    assert "no component is named &#39;Nope&#39;" in refused.group(0)
    assert "channel must be one of" in refused.group(0)
    saved = {row.address: row for row in rows_of(session, page)}
    assert set(saved) == {"old@example.com", "new@example.com", "+447911123456"}
    assert [link.component_id for link in saved["+447911123456"].components] == [api.id]
    assert saved["new@example.com"].state is SubscriberState.UNCONFIRMED
    assert confirmations(session, saved["new@example.com"].id) == 1


def test_import_can_skip_confirmation_for_the_whole_file(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    sign_in(client, alice)

    status, _html = upload(client, page, b"email\nann@example.com\nbo@example.com\n", skip=True)

    assert status == 200
    rows = rows_of(session, page)
    assert {row.state for row in rows} == {SubscriberState.ACTIVE}
    assert sum(confirmations(session, row.id) for row in rows) == 0


def test_a_file_without_a_header_is_a_list_of_emails(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    sign_in(client, alice)

    status, html = upload(client, page, "\ufeffann@example.com\r\nbo@example.com\r\n".encode())

    assert status == 200
    assert "<strong>2</strong> added" in html
    assert {row.email for row in rows_of(session, page)} == {"ann@example.com", "bo@example.com"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"email\n" + b"a@example.com\n" * 10_001, "more than 10,000 rows"),
        (b"email\n" + b"x" * (2 * 1024 * 1024), "larger than 2 MB"),
        ("email\nänn@example.com\n".encode("latin-1"), "not UTF-8"),
        (b"name,phone\nAnn,123\n", "the first row must name the columns"),
        (b"", "choose a CSV file"),
    ],
)
def test_a_file_that_cannot_be_read_writes_nothing(
    client: TestClient, session: Session, page: Page, alice: Persona, content: bytes, message: str
) -> None:
    sign_in(client, alice)

    status, html = upload(client, page, content)

    assert status == 422
    assert message in html
    assert rows_of(session, page) == []


def test_export_neutralises_formulas_and_reads_back_in(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    link = component(session, page, '=HYPERLINK("https://evil.example","click")')
    at = component(session, page, "@x")
    subscribe(session, page, email="-2@example.com", component_ids=[link.id, at.id])
    subscribe(session, page, mode="sms", email=None, phone_number="+12025550105")
    subscribe(session, page, email="ann@example.com", at=T0 + timedelta(days=1))
    sign_in(client, alice)

    response = client.get(_url(page, "/export.csv"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_address = {row["address"]: row for row in rows}
    assert set(by_address) == {"'+12025550105", "'-2@example.com", "ann@example.com"}
    assert by_address["'-2@example.com"]["components"] == (
        '\'=HYPERLINK("https://evil.example","click"); @x'
    )
    assert by_address["ann@example.com"] == {
        "channel": "email",
        "address": "ann@example.com",
        "phone_country": "",
        "components": "",
        "state": "active",
        "created_at": "2026-03-03T15:12:00.000Z",
        "confirmed_at": "2026-03-03T15:12:00.000Z",
    }
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())

    status, html = upload(client, page, response.content)

    assert status == 200
    assert "<strong>3</strong> skipped" in html
    assert "<strong>0</strong> refused" in html


def test_export_follows_the_list_filter(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    subscribe(session, page, email="ann@example.com")
    subscribe(session, page, email="bo@example.com", confirmed=False)
    sign_in(client, alice)

    response = client.get(_url(page, "/export.csv"), params={"state": "unconfirmed"})

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["address"] for row in rows] == ["bo@example.com"]


# --- who may do what -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_editors_and_viewers_read_but_cannot_change(
    client: TestClient,
    session: Session,
    page: Page,
    who: str,
    request: pytest.FixtureRequest,
) -> None:
    persona: Persona = request.getfixturevalue(who)
    row = subscribe(session, page, confirmed=False)
    sign_in(client, persona)

    html = client.get(_url(page)).text
    assert listed(html) == ["ann@example.com"]
    assert "/unsubscribe" not in html and "Add subscriber" not in html
    assert client.get(_url(page, f"/{row.id}")).status_code == 200
    for path in ("/new", "/import", "/export.csv"):
        assert client.get(_url(page, path)).status_code == 403
    posts = [
        ("/new", {"email": "eve@example.com"}),
        (f"/{row.id}/unsubscribe", {}),
        (f"/{row.id}/resend", {}),
        (f"/{row.id}", {"scope": "all"}),
    ]
    for path, data in posts:
        response = post_form(client, _url(page, path), data, token_from=_url(page))
        assert response.status_code == 403, path
    status, _html = upload_refused(client, page)
    assert status == 403
    assert [r.state for r in rows_of(session, page)] == [SubscriberState.UNCONFIRMED]
    assert confirmations(session, row.id) == 0


def upload_refused(client: TestClient, page: Page) -> tuple[int, str]:
    token = csrf_of(client.get(_url(page)).text)
    response = client.post(
        _url(page, "/import"),
        data={"csrf_token": token},
        files={"file": ("s.csv", b"email\neve@example.com\n", "text/csv")},
    )
    return response.status_code, response.text


def test_another_pages_owner_cannot_reach_these_subscribers(
    client: TestClient, session: Session, page: Page, alice: Persona, charlie: Persona
) -> None:
    row = subscribe(session, page)
    sign_in(client, charlie)
    theirs = f"/admin/pages/{charlie.page.id}/subscribers"

    assert client.get(_url(page)).status_code == 404
    assert client.get(f"{theirs}/{row.id}").status_code == 404
    for action in ("unsubscribe", "resend", "reactivate"):
        response = post_form(client, f"{theirs}/{row.id}/{action}", token_from=theirs)
        assert response.status_code == 404, action
    assert "ann@example.com" not in client.get(f"{theirs}/export.csv").text
    assert rows_of(session, page)[0].state is SubscriberState.ACTIVE


def test_a_post_without_the_form_token_is_refused(
    client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    row = subscribe(session, page)
    sign_in(client, alice)

    unsubscribe = client.post(_url(page, f"/{row.id}/unsubscribe"), data={})
    add = client.post(_url(page, "/new"), data={"email": "eve@example.com"})

    assert (unsubscribe.status_code, add.status_code) == (403, 403)
    assert [r.state for r in rows_of(session, page)] == [SubscriberState.ACTIVE]


def test_webhook_urls_are_credentials_and_shown_masked(
    client: TestClient, session: Session, page: Page, alice: Persona, bob: Persona
) -> None:
    secret = "https://hooks.slack.com/services/T000/B000/XXXXsecretTOKENabcd"
    hook = subscribe(session, page, mode="slack", email=None, endpoint=secret)

    sign_in(client, bob)
    listing = client.get(_url(page)).text
    detail = client.get(_url(page, f"/{hook.id}")).text
    assert listed(listing) == ["https://hooks.slack.com/…abcd"]
    assert "secretTOKEN" not in listing and "secretTOKEN" not in detail

    sign_in(client, alice)
    assert listed(client.get(_url(page)).text) == ["https://hooks.slack.com/…abcd"]
    assert secret in client.get(_url(page, f"/{hook.id}")).text
