"""The subscribe pages under attack: forged links, enumeration, bombing, CSRF, injection."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from test_subscribe import (
    SECRET,
    confirmations,
    csrf_token,
    email_links,
    post_form,
    subscriber_of,
)

from factories import component
from tocsin.audit.service import CLI
from tocsin.lib.ratelimit import Limit
from tocsin.main import create_app
from tocsin.notify import links
from tocsin.notify import service as subscribers
from tocsin.notify.models import Delivery, Subscriber
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages import subscribe
from tocsin.pages.models import Page
from tocsin.settings import Settings

pytestmark = pytest.mark.usefixtures("page")


@pytest.fixture
def other_client(settings: Settings, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    """A second browser from another address, with its own cookies."""
    app = create_app(settings)
    with TestClient(app, client=("198.51.100.7", 40000)) as client:
        yield client


def count(session: Session, model: type[Subscriber] | type[Delivery]) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def confirmed(session: Session, email: str) -> Subscriber:
    """A confirmed subscriber, made through the service as the admin would."""
    data = SubscriberCreate(email=email, skip_confirmation_notification=True)
    page = session.scalars(select(Page)).one()
    created = subscribers.create_subscriber(session, page=page, data=data, actor=CLI)
    session.commit()
    return created.subscriber


def form_data(client: TestClient, email: str) -> dict[str, str]:
    return {"email": email, "csrf_token": csrf_token(client.get("/subscribe").text)}


# --- no enumeration ---------------------------------------------------------------------------


def test_a_subscribed_address_gets_the_same_answer_and_no_new_link(
    client: TestClient, session: Session
) -> None:
    ann = confirmed(session, "ann@example.com")
    before = ann.token_hash
    fresh = post_form(client, "new@example.com")
    again = post_form(client, "ann@example.com")
    assert again == fresh
    assert "/subscriptions/" not in again
    ann = subscriber_of(session, "ann@example.com")
    assert ann.token_hash == before
    assert confirmations(session, ann) == []


def test_an_unconfirmed_address_gets_its_confirmation_again_and_the_same_answer(
    client: TestClient, session: Session
) -> None:
    first = post_form(client, "ann@example.com")
    token_hash = subscriber_of(session, "ann@example.com").token_hash
    second = post_form(client, "ann@example.com")
    assert first == second
    ann = subscriber_of(session, "ann@example.com")
    assert ann.token_hash == token_hash
    assert len(confirmations(session, ann)) == 2


def test_subscribing_again_cannot_change_someone_elses_components(
    client: TestClient, session: Session, page: Page
) -> None:
    api = component(session, page, "Payments API")
    session.commit()
    confirmed(session, "ann@example.com")
    post_form(client, "ann@example.com", api.id)
    assert subscriber_of(session, "ann@example.com").all_components


def test_an_unknown_id_and_a_bad_token_look_the_same(client: TestClient, session: Session) -> None:
    ann = confirmed(session, "ann@example.com")
    for path in ("/subscriptions/", "/subscriptions/unsubscribe/", "/subscriptions/confirm/"):
        unknown = client.get(f"{path}zzzzzzzzzzzz?token=x")
        forged = client.get(f"{path}{ann.id}?token=x")
        assert unknown.status_code == forged.status_code == 404
        assert unknown.text == forged.text
        assert "This link is not valid" in forged.text


# --- signed links -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "x",
        "not-a-token",
        "9999999999.AAAA",
        links.token("another-secret", links.MANAGE, Subscriber(id="x", token_hash="y")),
    ],
)
def test_it_rejects_forged_manage_tokens(client: TestClient, session: Session, token: str) -> None:
    ann = confirmed(session, "ann@example.com")
    assert client.get(f"/subscriptions/{ann.id}", params={"token": token}).status_code == 404
    response = client.post(f"/subscriptions/{ann.id}", params={"token": token}, data={})
    assert response.status_code == 404


def test_a_token_for_one_purpose_opens_nothing_else(client: TestClient, session: Session) -> None:
    ann = confirmed(session, "ann@example.com")
    manage = links.token(SECRET, links.MANAGE, ann)
    unsubscribe = links.token(SECRET, links.UNSUBSCRIBE, ann)
    assert client.post(f"/subscriptions/unsubscribe/{ann.id}?token={manage}").status_code == 404
    assert client.post(f"/subscriptions/confirm/{ann.id}?token={unsubscribe}").status_code == 404
    assert client.get(f"/subscriptions/{ann.id}?token={unsubscribe}").status_code == 404
    assert subscriber_of(session, "ann@example.com").unsubscribed_at is None


def test_one_subscribers_token_does_not_open_anothers(client: TestClient, session: Session) -> None:
    ann = confirmed(session, "ann@example.com")
    bea = confirmed(session, "bea@example.com")
    token = links.token(SECRET, links.UNSUBSCRIBE, ann)
    assert client.post(f"/subscriptions/unsubscribe/{bea.id}?token={token}").status_code == 404
    assert subscriber_of(session, "bea@example.com").unsubscribed_at is None


def test_an_expired_confirmation_link_says_so_and_confirms_nothing(
    client: TestClient, session: Session
) -> None:
    post_form(client, "ann@example.com")
    ann = subscriber_of(session, "ann@example.com")
    eight_days_ago = time.time() - 8 * 86400
    token = links.token(SECRET, links.CONFIRM, ann, now=eight_days_ago)
    for response in (
        client.get(f"/subscriptions/confirm/{ann.id}?token={token}"),
        client.post(f"/subscriptions/confirm/{ann.id}?token={token}"),
    ):
        assert response.status_code == 410
        assert "This confirmation link has expired" in response.text
        assert 'href="/subscribe"' in response.text
    assert subscriber_of(session, "ann@example.com").confirmed_at is None


def test_an_expired_link_with_a_forged_signature_is_just_invalid(
    client: TestClient, session: Session
) -> None:
    post_form(client, "ann@example.com")
    ann = subscriber_of(session, "ann@example.com")
    response = client.get(f"/subscriptions/confirm/{ann.id}?token=1000.AAAA")
    assert response.status_code == 404


def test_link_scanners_fetching_links_change_nothing(client: TestClient, session: Session) -> None:
    post_form(client, "ann@example.com")
    sent = email_links(subscriber_of(session, "ann@example.com"))
    assert sent.confirm is not None
    for url in (sent.confirm, sent.manage, sent.unsubscribe):
        assert client.get(url).status_code == 200
        client.head(url)
    ann = subscriber_of(session, "ann@example.com")
    assert ann.confirmed_at is None and ann.unsubscribed_at is None


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart", "empty"])
def test_one_click_unsubscribe_needs_nothing_but_the_url(
    client: TestClient, session: Session, settings: Settings, encoding: str
) -> None:
    url = email_links(confirmed(session, "ann@example.com")).unsubscribe
    with TestClient(create_app(settings)) as mail_client:
        if encoding == "urlencoded":
            response = mail_client.post(url, data={"List-Unsubscribe": "One-Click"})
        elif encoding == "multipart":
            response = mail_client.post(url, files={"List-Unsubscribe": (None, "One-Click")})
        else:
            response = mail_client.post(url)
    assert response.status_code == 200
    assert subscriber_of(session, "ann@example.com").unsubscribed_at is not None


def test_pages_with_tokens_send_no_referrer_and_are_not_cached(
    client: TestClient, session: Session
) -> None:
    sent = email_links(confirmed(session, "ann@example.com"))
    for url in (sent.manage, sent.unsubscribe, "/subscriptions/zzzzzzzzzzzz?token=x"):
        response = client.get(url)
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    form = client.get("/subscribe")
    assert form.headers["cache-control"] == "no-store"
    assert "content-security-policy" in form.headers


# --- rate limits ------------------------------------------------------------------------------


def test_it_limits_each_client_to_five_requests_an_hour(
    client: TestClient, other_client: TestClient, session: Session
) -> None:
    for n in range(5):
        post_form(client, f"user{n}@example.com")
    refused = client.post("/subscribe", data=form_data(client, "user5@example.com"))
    assert refused.status_code == 429
    assert "Too many requests" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 720
    assert count(session, Subscriber) == 5
    post_form(other_client, "user5@example.com")
    assert count(session, Subscriber) == 6


def test_it_limits_each_address_to_three_requests_a_day(
    client: TestClient, other_client: TestClient, session: Session
) -> None:
    for _ in range(3):
        post_form(client, "victim@example.com")
    refused = other_client.post("/subscribe", data=form_data(other_client, "Victim@Example.com"))
    assert refused.status_code == 429
    assert 3600 < int(refused.headers["retry-after"]) <= 28800
    assert len(confirmations(session, subscriber_of(session, "victim@example.com"))) == 3
    post_form(other_client, "someone-else@example.com")


def test_the_address_limit_answers_alike_for_subscribed_and_unknown_addresses(
    client: TestClient, other_client: TestClient, session: Session
) -> None:
    confirmed(session, "ann@example.com")
    for email in ("ann@example.com", "nobody@example.com"):
        for _ in range(3):
            post_form(other_client if email == "ann@example.com" else client, email)
    known = other_client.post("/subscribe", data=form_data(other_client, "ann@example.com"))
    unknown = other_client.post("/subscribe", data=form_data(other_client, "nobody@example.com"))
    assert known.status_code == unknown.status_code == 429
    assert known.text == unknown.text


def test_it_limits_the_whole_page(
    client: TestClient, other_client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscribe, "PAGE_LIMIT", Limit(limit=2, per_seconds=3600))
    post_form(client, "a@example.com")
    post_form(other_client, "b@example.com")
    refused = client.post("/subscribe", data=form_data(client, "c@example.com"))
    assert refused.status_code == 429
    assert count(session, Subscriber) == 2


def test_refused_requests_still_count(client: TestClient, session: Session) -> None:
    for _ in range(5):
        client.post("/subscribe", data={"email": "x@example.com", "csrf_token": "forged"})
    assert client.post("/subscribe", data=form_data(client, "a@example.com")).status_code == 429


# --- CSRF -------------------------------------------------------------------------------------


def test_it_refuses_a_post_without_the_forms_token(client: TestClient, session: Session) -> None:
    client.get("/subscribe")
    for token in ("", "forged", "salt.0000"):
        response = client.post("/subscribe", data={"email": "ann@example.com", "csrf_token": token})
        assert response.status_code == 403
        assert "This form has expired" in response.text
    assert count(session, Subscriber) == 0


def test_a_token_is_no_good_without_its_cookie(
    client: TestClient, other_client: TestClient, session: Session
) -> None:
    stolen = csrf_token(client.get("/subscribe").text)
    other_client.get("/subscribe")
    data = {"email": "ann@example.com", "csrf_token": stolen}
    assert other_client.post("/subscribe", data=data).status_code == 403
    client.cookies.clear()
    response = client.post("/subscribe", data={"email": "ann@example.com", "csrf_token": stolen})
    assert response.status_code == 403
    assert count(session, Subscriber) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_it_refuses_posts_from_other_sites(
    client: TestClient, session: Session, headers: dict[str, str]
) -> None:
    data = form_data(client, "ann@example.com")
    assert client.post("/subscribe", data=data, headers=headers).status_code == 403
    assert count(session, Subscriber) == 0


def test_it_accepts_posts_from_its_own_origin(client: TestClient, session: Session) -> None:
    data = form_data(client, "ann@example.com")
    headers = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/subscribe", data=data, headers=headers).status_code == 200
    assert count(session, Subscriber) == 1


def test_the_csrf_token_differs_on_every_form(client: TestClient) -> None:
    first, second = (csrf_token(client.get("/subscribe").text) for _ in range(2))
    assert first != second


def test_the_csrf_cookie_is_http_only_and_same_site(client: TestClient) -> None:
    cookie = client.get("/subscribe").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/subscribe" in cookie


# --- input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "ann@example.com\r\nBcc: x@evil.example",
        "ann@example.com\nBcc: x@evil.example",
        "ann@example.com\r\n",
        "a@x.com>\r\nRCPT TO:<b@y.com>",
        "ann@example.com\x00",
        "Ann <ann@example.com>",
        "not an address",
        "",
    ],
)
def test_it_refuses_addresses_that_could_inject_headers(
    client: TestClient, session: Session, email: str
) -> None:
    response = client.post("/subscribe", data=form_data(client, email))
    assert response.status_code == 422
    assert "Enter a valid email address" in response.text
    assert count(session, Subscriber) == count(session, Delivery) == 0


def test_it_escapes_what_it_echoes(client: TestClient, session: Session) -> None:
    response = client.post("/subscribe", data=form_data(client, '"><script>alert(1)</script>'))
    assert response.status_code == 422
    assert "<script>" not in response.text
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_it_escapes_component_names(client: TestClient, session: Session, page: Page) -> None:
    component(session, page, "<img src=x onerror=alert(1)>")
    session.commit()
    html = client.get("/subscribe").text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_it_refuses_components_of_other_pages(client: TestClient, session: Session) -> None:
    other = Page(name="Other Corp", domain="status.other.example")
    session.add(other)
    session.commit()
    foreign = component(session, other, "Theirs")
    session.commit()
    data = {**form_data(client, "ann@example.com"), "component_ids": [foreign.id]}
    response = client.post("/subscribe", data=data)
    assert response.status_code == 422
    assert "Choose components from the list" in response.text
    assert count(session, Subscriber) == 0


def test_the_manage_form_refuses_unknown_components(client: TestClient, session: Session) -> None:
    sent = email_links(confirmed(session, "ann@example.com"))
    response = client.post(sent.manage, data={"component_ids": ["zzzzzzzzzzzz"]})
    assert response.status_code == 422
    assert subscriber_of(session, "ann@example.com").all_components


def test_the_honeypot_gets_the_usual_answer_and_nothing_else(
    client: TestClient, session: Session
) -> None:
    data = {**form_data(client, "bot@example.com"), "website": "http://spam.example"}
    response = client.post("/subscribe", data=data)
    assert response.status_code == 200 and "Check your email" in response.text
    assert count(session, Subscriber) == 0


def test_oversized_input_is_refused(client: TestClient, session: Session) -> None:
    data = form_data(client, "a" * 2000 + "@example.com")
    assert client.post("/subscribe", data=data).status_code == 422
    long_token = "x" * 500
    assert client.get(f"/subscriptions/abc?token={long_token}").status_code == 422
    assert count(session, Subscriber) == 0


def test_ids_that_cannot_exist_are_simply_invalid(client: TestClient) -> None:
    for subscriber_id in ("%C3%A9t%C3%A9", "a%20b", "a%00b", "%2e%2e"):
        response = client.get(f"/subscriptions/{subscriber_id}?token=x")
        assert response.status_code in (400, 404)
    assert re.search("not valid", client.get("/subscriptions/%C3%A9?token=x").text)
