"""Your own account: password, two-factor, sessions, and API keys with their page scope."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from adminkit import PASSWORD, post_form, sign_in
from conftest import Persona
from tocsin.accounts.models import ApiKey, Membership, Role, User
from tocsin.db import utcnow
from tocsin.pages.models import Page

ACCOUNT = "/admin/account"
KEYS = "/admin/account/keys"
_SECRET = re.compile(r'<p class="secret" id="new-key">(tocsin_[^<]+)</p>')


def post(
    client: TestClient, url: str, data: dict[str, str] | list[tuple[str, str]] | None = None
) -> httpx.Response:
    return post_form(client, url, data, token_from=ACCOUNT)


def signed_in_elsewhere(client: TestClient, persona: Persona) -> TestClient:
    """Another browser on the same app, with `persona` signed in."""
    return sign_in(TestClient(client.app), persona)


def works(browser: TestClient) -> bool:
    return browser.get(ACCOUNT, follow_redirects=False).status_code == 200


def fresh(session: Session, user: User) -> User:
    session.expire_all()
    return session.get_one(User, user.id)


# --- password and sessions ----------------------------------------------------------------


def test_a_password_change_needs_the_current_one_and_signs_out_other_browsers(
    client: TestClient, session: Session, alice: Persona
) -> None:
    other = signed_in_elsewhere(client, alice)
    sign_in(client, alice)
    wrong = post(
        client,
        f"{ACCOUNT}/password",
        {"current_password": "not it at all", "new_password": "a new long password"},
    )
    assert wrong.status_code == 422
    assert "not right" in wrong.text
    assert works(other)
    short = post(
        client, f"{ACCOUNT}/password", {"current_password": PASSWORD, "new_password": "short"}
    )
    assert short.status_code == 422
    assert "at least 10 characters" in short.text
    done = post(
        client,
        f"{ACCOUNT}/password",
        {"current_password": PASSWORD, "new_password": "a new long password"},
    )
    assert done.status_code == 303
    assert "Every other browser is signed out" in client.get(ACCOUNT).text
    assert not works(other)
    client.cookies.clear()
    assert (
        post_form(
            client,
            "/admin/signin",
            {"email": "alice@example.com", "password": "a new long password"},
            token_from="/admin/signin",
        ).status_code
        == 303
    )


def test_the_account_lists_sessions_and_signs_out_everywhere_else(
    client: TestClient, alice: Persona
) -> None:
    other = signed_in_elsewhere(client, alice)
    sign_in(client, alice)
    screen = client.get(ACCOUNT).text
    assert screen.count("<tr>") - 1 == 2
    assert screen.count("this browser") == 1
    assert post(client, f"{ACCOUNT}/sessions/end-others").status_code == 303
    assert not works(other)
    assert client.get(ACCOUNT).status_code == 200
    assert "Sign out everywhere else" not in client.get(ACCOUNT).text


# --- two-factor ---------------------------------------------------------------------------


def set_up_two_factor(client: TestClient) -> tuple[pyotp.TOTP, httpx.Response]:
    started = post(client, f"{ACCOUNT}/two-factor/start")
    assert started.headers["location"] == f"{ACCOUNT}/two-factor"
    screen = client.get(f"{ACCOUNT}/two-factor").text
    assert 'src="data:image/svg+xml' in screen
    assert "style=" not in screen
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)</p>', screen)
    assert secret, screen
    authenticator = pyotp.TOTP(secret.group(1).replace(" ", ""))
    return authenticator, post(
        client, f"{ACCOUNT}/two-factor/confirm", {"code": authenticator.now()}
    )


def test_two_factor_is_set_up_with_a_qr_code_and_gives_recovery_codes_once(
    client: TestClient, session: Session, alice: Persona
) -> None:
    other = signed_in_elsewhere(client, alice)
    sign_in(client, alice)
    assert post(client, f"{ACCOUNT}/two-factor/start").status_code == 303
    refused = post(client, f"{ACCOUNT}/two-factor/confirm", {"code": "000000"})
    assert refused.status_code == 422
    assert fresh(session, alice.user).totp_enabled_at is None
    _, confirmed = set_up_two_factor(client)
    assert confirmed.status_code == 200
    codes = re.findall(r"<li>([0-9a-f]{6}-[0-9a-f]{6})</li>", confirmed.text)
    assert len(codes) == 10
    assert fresh(session, alice.user).totp_enabled_at is not None
    assert not works(other)
    assert "10 unused recovery codes" in client.get(ACCOUNT).text
    assert codes[0] not in client.get(ACCOUNT).text
    client.cookies.clear()
    signed = post_form(
        client,
        "/admin/signin",
        {"email": "alice@example.com", "password": PASSWORD},
        token_from="/admin/signin",
    )
    assert signed.headers["location"].startswith("/admin/signin/code")
    assert client.get(ACCOUNT, follow_redirects=False).status_code == 303
    done = post_form(
        client, "/admin/signin/code", {"code": codes[0]}, token_from=signed.headers["location"]
    )
    assert done.status_code == 303
    assert "9 unused recovery codes" in client.get(ACCOUNT).text


def test_two_factor_is_turned_off_only_with_the_password_or_a_code(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)
    authenticator, _ = set_up_two_factor(client)
    refused = post(
        client, f"{ACCOUNT}/two-factor/disable", {"password": "not the password", "code": "123456"}
    )
    assert refused.status_code == 422
    assert fresh(session, alice.user).totp_enabled_at is not None
    code = authenticator.at(utcnow() + timedelta(seconds=30))
    assert post(client, f"{ACCOUNT}/two-factor/disable", {"code": code}).status_code == 303
    user = fresh(session, alice.user)
    assert user.totp_enabled_at is None
    assert user.recovery_codes == []


def test_two_factor_cannot_be_started_twice_once_on(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)
    set_up_two_factor(client)
    again = post(client, f"{ACCOUNT}/two-factor/start")
    assert again.status_code == 409
    assert (
        client.get(f"{ACCOUNT}/two-factor", follow_redirects=False).headers["location"] == ACCOUNT
    )


def test_account_forms_without_their_token_are_refused(
    client: TestClient, session: Session, alice: Persona
) -> None:
    sign_in(client, alice)
    for url, data in (
        (
            f"{ACCOUNT}/password",
            {"current_password": PASSWORD, "new_password": "hijacked password"},
        ),
        (f"{ACCOUNT}/two-factor/start", {}),
        (KEYS, {"name": "stolen", "scope": "all"}),
    ):
        assert client.post(url, data=data, follow_redirects=False).status_code == 403, url
    assert fresh(session, alice.user).totp_secret is None
    assert len(session.scalars(select(ApiKey).where(ApiKey.user_id == alice.user.id)).all()) == 1


# --- API keys -----------------------------------------------------------------------------


def create_key(client: TestClient, data: list[tuple[str, str]]) -> httpx.Response:
    return post_form(client, KEYS, data)


def test_a_new_key_is_shown_once_and_works(
    client: TestClient, session: Session, alice: Persona, page: Page
) -> None:
    sign_in(client, alice)
    created = create_key(client, [("name", "Deploy pipeline"), ("scope", "all")])
    assert created.status_code == 200
    found = _SECRET.search(created.text)
    assert found
    secret = found.group(1)
    assert "not shown again" in created.text
    listing = client.get(KEYS).text
    assert secret not in listing
    assert "Deploy pipeline" in listing
    assert f"{secret[:12]}…" in listing
    response = client.get("/api/v1/pages", headers={"Authorization": f"OAuth {secret}"})
    assert [p["id"] for p in response.json()] == [page.id]
    row = re.search(r"<td>Deploy pipeline</td>.*?</tr>", client.get(KEYS).text, re.S)
    assert row and "all your pages" in row.group(0) and "never" not in row.group(0)


def test_a_key_scoped_to_one_page_cannot_see_the_others(
    client: TestClient, session: Session, alice: Persona, charlie: Persona, page: Page
) -> None:
    session.add(Membership(user_id=alice.user.id, page_id=charlie.page.id, role=Role.EDITOR))
    session.commit()
    sign_in(client, alice)
    everywhere = {"Authorization": f"OAuth {alice.key}"}
    assert len(client.get("/api/v1/pages", headers=everywhere).json()) == 2
    created = create_key(client, [("name", "Only Acme"), ("scope", "pages"), ("page_id", page.id)])
    found = _SECRET.search(created.text)
    assert found
    scoped = {"Authorization": f"OAuth {found.group(1)}"}
    assert [p["id"] for p in client.get("/api/v1/pages", headers=scoped).json()] == [page.id]
    assert client.get(f"/api/v1/pages/{page.id}", headers=scoped).status_code == 200
    outside = client.get(f"/api/v1/pages/{charlie.page.id}", headers=scoped)
    assert outside.status_code == 404
    assert (
        client.get(f"/api/v1/pages/{charlie.page.id}/components", headers=scoped).status_code == 404
    )
    assert client.get(f"/api/v1/pages/{charlie.page.id}", headers=everywhere).status_code == 200
    row = re.search(r"<td>Only Acme</td>.*?</tr>", client.get(KEYS).text, re.S)
    assert row and page.name in row.group(0) and charlie.page.name not in row.group(0)


def test_a_key_cannot_be_scoped_to_a_page_you_are_not_on(
    client: TestClient, session: Session, alice: Persona, charlie: Persona
) -> None:
    sign_in(client, alice)
    for data, message in (
        (
            [("name", "Sneaky"), ("scope", "pages"), ("page_id", charlie.page.id)],
            "pages you are a member of",
        ),
        ([("name", "Nothing"), ("scope", "pages")], "choose at least one page"),
        ([("name", "   "), ("scope", "all")], "give the key a name"),
    ):
        refused = create_key(client, data)
        assert refused.status_code == 422
        assert message in refused.text
        assert not _SECRET.search(refused.text)
    assert len(session.scalars(select(ApiKey).where(ApiKey.user_id == alice.user.id)).all()) == 1


def test_a_revoked_key_stops_working_and_only_your_own_can_be_revoked_here(
    client: TestClient, session: Session, alice: Persona, bob: Persona
) -> None:
    sign_in(client, alice)
    bobs = session.scalars(select(ApiKey).where(ApiKey.user_id == bob.user.id)).one()
    assert post(client, f"{KEYS}/{bobs.id}/revoke").status_code == 404
    assert client.get("/api/v1/pages", headers=bob.headers).status_code == 200
    mine = session.scalars(select(ApiKey).where(ApiKey.user_id == alice.user.id)).one()
    assert post(client, f"{KEYS}/{mine.id}/revoke").status_code == 303
    assert client.get("/api/v1/pages", headers=alice.headers).status_code == 401
    assert re.search(r"revoked \d{4}-\d\d-\d\d", client.get(KEYS).text)
