"""Signing in and out, two-factor, resets, invitations, first run, and the protections
around them (lockout, throttling, cookies, CSRF, redirects, headers), through the real
forms as a browser uses them."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pyotp
import pytest
import time_machine
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from adminkit import PASSWORD, csrf_of, post_form, sign_in
from conftest import Persona
from tocsin.accounts import invites, signin
from tocsin.accounts.models import AccountEmail, Membership, Role, User
from tocsin.admin.auth import SESSION_COOKIE
from tocsin.admin.routes import routers
from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.main import create_app
from tocsin.pages.models import Page
from tocsin.settings import Settings

_ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)
_TOKENS = re.compile(r'name="csrf_token" value="[^"]+"')


def attempt(client: TestClient, email: str, password: str, *, next_url: str = "") -> httpx.Response:
    form = client.get("/admin/signin")
    return client.post(
        "/admin/signin",
        data={
            "email": email,
            "password": password,
            "next": next_url,
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )


def error_of(response: httpx.Response) -> str:
    found = _ERROR.search(response.text)
    assert found, "the page shows no error"
    return found.group(1)


def session_cookie(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    return value


def with_cookie(client: TestClient, value: str) -> TestClient:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, value)
    return client


def signed_in(client: TestClient) -> bool:
    response = client.get("/admin/account", follow_redirects=False)
    assert response.status_code in (200, 303)
    return response.status_code == 200


def later(minutes: float) -> time_machine.travel:
    return time_machine.travel(utcnow() + timedelta(minutes=minutes), tick=True)


# --- passwords, lockout, throttling -------------------------------------------------------


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: TestClient, alice: Persona
) -> None:
    wrong = attempt(client, "alice@example.com", "not the password")
    unknown = attempt(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown) == "email or password is wrong"
    assert not signed_in(client)


def test_five_failures_lock_the_account_until_the_lock_time_has_passed(
    client: TestClient, alice: Persona
) -> None:
    for _ in range(5):
        assert attempt(client, "alice@example.com", "guess guess guess").status_code == 401
    locked = attempt(client, "alice@example.com", PASSWORD)
    assert locked.status_code == 429
    assert "locked" in error_of(locked)
    assert not signed_in(client)
    with later(16):
        assert attempt(client, "alice@example.com", PASSWORD).status_code == 303
        assert signed_in(client)


def test_an_unknown_address_locks_as_an_account_does(client: TestClient, alice: Persona) -> None:
    answers = []
    for email in ("alice@example.com", "nobody@example.com"):
        for _ in range(5):
            attempt(client, email, "guess guess guess")
        sixth = attempt(client, email, "guess guess guess")
        answers.append((sixth.status_code, error_of(sixth)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 429


def test_too_many_attempts_from_one_address_are_answered_429_with_a_wait(
    client: TestClient, alice: Persona
) -> None:
    for number in range(20):
        assert attempt(client, f"user{number}@example.com", "guess guess").status_code == 401
    refused = attempt(client, "user99@example.com", "guess guess")
    assert refused.status_code == 429
    assert re.search(r"wait \d+ seconds", error_of(refused))


# --- two-factor ---------------------------------------------------------------------------


@pytest.fixture
def totp(session: Session, alice: Persona) -> tuple[pyotp.TOTP, list[str]]:
    """Alice with two-factor on: her authenticator, and her recovery codes."""
    secret = signin.begin_totp(alice.user)
    authenticator = pyotp.TOTP(secret)
    codes = signin.enable_totp(
        session, user=alice.user, code=authenticator.now(), now=utcnow(), actor=CLI
    )
    session.commit()
    return authenticator, codes


def enter_code(client: TestClient, code: str) -> httpx.Response:
    return post_form(client, "/admin/signin/code", {"code": code, "next": "/admin/account"})


def test_with_two_factor_the_password_alone_does_not_sign_in(
    client: TestClient, alice: Persona, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    response = attempt(client, "alice@example.com", PASSWORD)
    assert response.headers["location"].startswith("/admin/signin/code")
    assert not signed_in(client)
    wrong = enter_code(client, "000000")
    assert wrong.status_code == 401
    assert "not right" in error_of(wrong)
    assert not signed_in(client)


def test_a_current_code_signs_in_once_and_cannot_be_replayed(
    client: TestClient, alice: Persona, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    authenticator, _ = totp
    # The code of the enrolment's step was used up by it; the next one is still valid.
    code = authenticator.at(utcnow() + timedelta(seconds=30))
    attempt(client, "alice@example.com", PASSWORD)
    done = enter_code(client, code)
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/account"
    assert signed_in(client)
    client.cookies.clear()
    attempt(client, "alice@example.com", PASSWORD)
    assert enter_code(client, code).status_code == 401
    assert not signed_in(client)


def test_a_recovery_code_works_once(
    client: TestClient, alice: Persona, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    _, codes = totp
    attempt(client, "alice@example.com", PASSWORD)
    assert enter_code(client, codes[0].upper()).status_code == 303
    assert signed_in(client)
    client.cookies.clear()
    attempt(client, "alice@example.com", PASSWORD)
    assert enter_code(client, codes[0]).status_code == 401
    assert enter_code(client, codes[1]).status_code == 303


def test_five_wrong_codes_lock_the_account(
    client: TestClient, alice: Persona, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    attempt(client, "alice@example.com", PASSWORD)
    for _ in range(5):
        enter_code(client, "000000")
    again = attempt(client, "alice@example.com", PASSWORD)
    assert again.status_code == 429
    assert "locked" in error_of(again)


def test_entering_the_password_again_does_not_reset_the_count_of_wrong_codes(
    client: TestClient, alice: Persona, totp: tuple[pyotp.TOTP, list[str]]
) -> None:
    attempt(client, "alice@example.com", PASSWORD)
    for _ in range(4):
        assert enter_code(client, "000000").status_code == 401
    attempt(client, "alice@example.com", PASSWORD)
    enter_code(client, "000000")
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 429


# --- the session cookie -------------------------------------------------------------------


def test_the_session_cookie_is_httponly_lax_and_not_secure_over_http(
    client: TestClient, alice: Persona
) -> None:
    response = attempt(client, "alice@example.com", PASSWORD)
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags


def test_a_tampered_cookie_is_treated_as_signed_out(client: TestClient, alice: Persona) -> None:
    sign_in(client, alice)
    good = session_cookie(client)
    token, _, signature = good.partition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert not signed_in(with_cookie(client, f"{token}.{flipped}"))
    assert not signed_in(with_cookie(client, f"{token[:-1]}x.{signature}"))
    assert not signed_in(with_cookie(client, token))
    assert signed_in(with_cookie(client, good))


def test_signing_out_ends_the_session_on_the_server(client: TestClient, alice: Persona) -> None:
    sign_in(client, alice)
    old = session_cookie(client)
    response = post_form(client, "/admin/signout", token_from="/admin/account")
    assert response.status_code == 303
    assert SESSION_COOKIE not in client.cookies
    assert not signed_in(with_cookie(client, old))


# --- CSRF and redirects -------------------------------------------------------------------


def test_a_sign_in_post_without_the_form_token_is_refused(
    client: TestClient, alice: Persona
) -> None:
    client.get("/admin/signin")
    response = client.post(
        "/admin/signin",
        data={"email": "alice@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies


def test_a_signed_in_form_posted_without_its_token_or_from_another_site_is_refused(
    client: TestClient, session: Session, alice: Persona, page: Page
) -> None:
    sign_in(client, alice)
    url = f"/admin/pages/{page.id}/team/invitations"
    data = {"email": "mallory@example.com", "role": "owner"}
    assert client.post(url, data=data, follow_redirects=False).status_code == 403
    token = csrf_of(client.get("/admin/account").text)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        forged = client.post(
            url, data={**data, "csrf_token": token}, headers=headers, follow_redirects=False
        )
        assert forged.status_code == 403
    assert session.scalars(select(AccountEmail)).first() is None


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "/\\evil.example", "/\r\nLocation: //evil"],
)
def test_next_never_leaves_the_site(client: TestClient, alice: Persona, target: str) -> None:
    response = attempt(client, "alice@example.com", PASSWORD, next_url=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"


def test_next_leads_back_to_the_screen_asked_for(client: TestClient, alice: Persona) -> None:
    asked = client.get("/admin/account/keys", follow_redirects=False)
    assert asked.headers["location"] == "/admin/signin?next=%2Fadmin%2Faccount%2Fkeys"
    form = client.get(asked.headers["location"])
    assert 'name="next" value="/admin/account/keys"' in form.text
    response = attempt(client, "alice@example.com", PASSWORD, next_url="/admin/account/keys")
    assert response.headers["location"] == "/admin/account/keys"


# --- password reset -----------------------------------------------------------------------


def request_reset(client: TestClient, email: str) -> httpx.Response:
    return post_form(client, "/admin/reset", {"email": email})


def reset_link(session: Session, email: str) -> str:
    body = session.scalars(select(AccountEmail.body).where(AccountEmail.to_address == email)).one()
    found = re.search(r"http://testserver(/admin/reset/\S+)", body)
    assert found, body
    return found.group(1)


def test_a_reset_answers_the_same_for_known_and_unknown_addresses(
    client: TestClient, session: Session, alice: Persona
) -> None:
    known = request_reset(client, "alice@example.com")
    unknown = request_reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert _TOKENS.sub("", known.text) == _TOKENS.sub("", unknown.text)
    addressed = session.scalars(select(AccountEmail.to_address)).all()
    assert addressed == ["alice@example.com"]


def test_the_reset_link_sets_a_password_once_and_ends_old_sessions(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)
    old_session = session_cookie(client)
    client.cookies.clear()
    request_reset(client, "alice@example.com")
    link = reset_link(session, "alice@example.com")
    assert client.get(link).status_code == 200
    done = post_form(client, link, {"password": "a brand new password"})
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/signin"
    assert client.get(link).status_code == 404
    assert not signed_in(with_cookie(client, old_session))
    assert attempt(client, "alice@example.com", PASSWORD).status_code == 401
    assert attempt(client, "alice@example.com", "a brand new password").status_code == 303


def test_a_reset_link_stops_working_after_an_hour(
    client: TestClient, session: Session, alice: Persona
) -> None:
    request_reset(client, "alice@example.com")
    link = reset_link(session, "alice@example.com")
    with later(61):
        assert client.get(link).status_code == 404


# --- invitations --------------------------------------------------------------------------


def invite(session: Session, page: Page, email: str, role: Role = Role.EDITOR) -> str:
    created = invites.invite(
        session,
        page=page,
        email=email,
        role=role,
        base_url="http://testserver",
        now=utcnow(),
        actor=CLI,
        acting_role=Role.OWNER,
    )
    session.commit()
    return f"/admin/invitations/{created.token}"


def role_of(session: Session, email: str, page: Page) -> Role | None:
    session.expire_all()
    user = session.scalars(select(User).where(User.email == email)).first()
    membership = session.get(Membership, (user.id, page.id)) if user else None
    return membership.role if membership else None


def test_a_new_person_accepts_an_invitation_with_a_new_password(
    client: TestClient, session: Session, alice: Persona, page: Page
) -> None:
    link = invite(session, page, "nina@example.com")
    form = client.get(link)
    assert "Choose a password" in form.text
    assert f"Join {page.name}" in form.text
    short = post_form(client, link, {"password": "short"})
    assert short.status_code == 422
    accepted = post_form(client, link, {"password": "nina's own password"})
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/admin/pages/{page.id}"
    assert role_of(session, "nina@example.com", page) == Role.EDITOR
    assert client.get(f"/admin/pages/{page.id}").status_code == 200
    assert client.get(link).status_code == 404


def test_an_existing_account_accepts_with_its_own_password(
    client: TestClient, session: Session, alice: Persona, charlie: Persona, page: Page
) -> None:
    link = invite(session, page, "charlie@example.com", Role.VIEWER)
    assert "Your password" in client.get(link).text
    wrong = post_form(client, link, {"password": "not charlie's password"})
    assert wrong.status_code == 422
    assert role_of(session, "charlie@example.com", page) is None
    assert post_form(client, link, {"password": PASSWORD}).status_code == 303
    assert role_of(session, "charlie@example.com", page) == Role.VIEWER


def test_expired_and_revoked_invitations_are_not_found(
    client: TestClient, session: Session, alice: Persona, page: Page
) -> None:
    expired = invite(session, page, "old@example.com")
    with later(7 * 24 * 60 + 1):
        assert client.get(expired).status_code == 404
    revoked = invite(session, page, "gone@example.com")
    invitation = invites.pending_invitations(session, page_id=page.id, now=utcnow())[0]
    assert invitation.email == "gone@example.com"
    invites.revoke_invitation(
        session, invitation=invitation, now=utcnow(), actor=CLI, acting_role=Role.OWNER
    )
    session.commit()
    assert client.get(revoked).status_code == 404
    refused = post_form(client, revoked, {"password": "whatever it is"}, token_from="/admin/reset")
    assert refused.status_code == 404
    assert role_of(session, "gone@example.com", page) is None


# --- first run ----------------------------------------------------------------------------


def test_the_first_account_is_created_through_the_logged_setup_link(
    settings: Settings, session: Session, page: Page, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"), TestClient(create_app(settings)) as fresh:
        link = signin.setup_link(settings)
        assert link in caplog.text
        assert fresh.get("/admin/signin", follow_redirects=False).headers["location"] == (
            "/admin/setup"
        )
        path = link.removeprefix(settings.base_url)
        created = post_form(
            fresh,
            "/admin/setup",
            {
                "email": "Owner@Example.com",
                "password": PASSWORD,
                "token": signin.setup_token(settings),
            },
            token_from=path,
        )
        assert created.status_code == 303
        assert fresh.get(created.headers["location"]).status_code == 200
        assert role_of(session, "owner@example.com", page) == Role.OWNER
        # Setup is closed for good once an account exists, token or not.
        again = fresh.get(path, follow_redirects=False)
        assert again.headers["location"] == "/admin/signin"


@pytest.mark.parametrize("token", ["", "0" * 32, "not-the-token"])
def test_the_first_account_cannot_be_created_without_the_token(
    client: TestClient, session: Session, page: Page, token: str
) -> None:
    shown = client.get(f"/admin/setup?token={token}").text
    assert "setup link" in shown and 'name="email"' not in shown
    refused = post_form(
        client,
        "/admin/setup",
        {"email": "x@example.com", "password": PASSWORD, "token": token},
        token_from="/admin/reset",
    )
    assert refused.status_code == 403
    assert session.scalars(select(User)).first() is None


def test_setup_stays_closed_once_any_account_exists(
    settings: Settings, client: TestClient, session: Session, page: Page, alice: Persona
) -> None:
    refused = post_form(
        client,
        "/admin/setup",
        {"email": "x@example.com", "password": PASSWORD, "token": signin.setup_token(settings)},
        token_from="/admin/reset",
    )
    assert refused.status_code == 303 and refused.headers["location"] == "/admin/signin"
    assert session.scalars(select(User).where(User.email == "x@example.com")).first() is None


# --- headers ------------------------------------------------------------------------------


def test_admin_screens_send_strict_security_headers(
    client: TestClient, alice: Persona, page: Page
) -> None:
    screens = ["/admin/signin"]
    sign_in(client, alice)
    screens += [f"/admin/pages/{page.id}", "/admin/account"]
    for url in screens:
        headers = client.get(url).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["referrer-policy"]
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers


def test_over_https_admin_screens_send_hsts_and_secure_cookies(
    settings: Settings, alice: Persona
) -> None:
    secure = settings.model_copy(update={"base_url": "https://status.example"})
    with TestClient(create_app(secure), base_url="https://status.example") as client:
        response = attempt(client, "alice@example.com", PASSWORD)
        assert response.headers["strict-transport-security"].startswith("max-age=")
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        assert "secure" in cookie.lower()


# --- every screen of a page is for its members only ---------------------------------------

PAGE_PREFIX = "/admin/pages/{page_id}"


def page_screens() -> list[str]:
    """Every page-scoped GET screen the app has whose only parameter is the page."""
    return sorted(
        {
            route.path
            for router in routers()
            for route in router.routes
            if isinstance(route, APIRoute)
            and "GET" in route.methods
            and route.path.startswith(PAGE_PREFIX)
            and route.path.count("{") == 1
        }
    )


@pytest.mark.parametrize("path", page_screens())
def test_a_page_screen_is_not_found_for_someone_not_on_the_page(
    client: TestClient, alice: Persona, charlie: Persona, page: Page, path: str
) -> None:
    url = path.replace("{page_id}", page.id)
    sign_in(client, alice)
    assert client.get(url, follow_redirects=False).status_code != 404
    sign_in(client, charlie)
    assert client.get(url, follow_redirects=False).status_code == 404


def test_the_screens_checked_for_membership_are_found() -> None:
    # Without this, a change to how routes are listed would leave the check above
    # with nothing to check, and it would pass as skipped.
    screens = page_screens()
    assert PAGE_PREFIX in screens
    assert f"{PAGE_PREFIX}/team" in screens
