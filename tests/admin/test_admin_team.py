"""The team screen: members and roles, invitations, and the keys that can act on a page."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from adminkit import post_form, sign_in
from conftest import Persona
from tocsin.accounts import invites
from tocsin.accounts.models import AccountEmail, ApiKey, Invitation, Membership, Role
from tocsin.audit.models import AuditEvent
from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.pages.models import Page


def team_url(page: Page) -> str:
    return f"/admin/pages/{page.id}/team"


def post(client: TestClient, url: str, data: dict[str, str] | None = None) -> httpx.Response:
    return post_form(client, url, data, token_from="/admin/account")


def role_of(session: Session, persona: Persona, page: Page) -> Role | None:
    session.expire_all()
    membership = session.get(Membership, (persona.user.id, page.id))
    return membership.role if membership else None


def make(session: Session, persona: Persona, page: Page, role: Role) -> None:
    session.get_one(Membership, (persona.user.id, page.id)).role = role
    session.commit()


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.created_at)))


def key_of(session: Session, persona: Persona) -> ApiKey:
    session.expire_all()
    return session.scalars(select(ApiKey).where(ApiKey.user_id == persona.user.id)).one()


def test_owners_see_members_with_their_role_and_two_factor(
    client: TestClient, session: Session, alice: Persona, bob: Persona, page: Page
) -> None:
    bob.user.totp_enabled_at = utcnow()
    session.commit()
    sign_in(client, alice)
    html = client.get(team_url(page)).text.split('id="keys-h"')[0]
    rows = {
        email: row
        for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
        for email in re.findall(r"<td>([a-z]+@example\.com)", row)
    }
    assert set(rows) == {"alice@example.com", "bob@example.com"}
    assert 'value="editor" selected' in rows["bob@example.com"]
    assert ">on</span>" in rows["bob@example.com"]
    assert ">off</span>" in rows["alice@example.com"]


@pytest.mark.parametrize("persona_name", ["bob", "vera"])
def test_editors_and_viewers_cannot_manage_the_team(
    client: TestClient,
    session: Session,
    request: pytest.FixtureRequest,
    alice: Persona,
    page: Page,
    persona_name: str,
) -> None:
    persona: Persona = request.getfixturevalue(persona_name)
    sign_in(client, persona)
    assert client.get(team_url(page)).status_code == 403
    invite = post(
        client, f"{team_url(page)}/invitations", {"email": "mallory@example.com", "role": "owner"}
    )
    assert invite.status_code == 403
    demote = post(client, f"{team_url(page)}/members/{alice.user.id}/role", {"role": "viewer"})
    assert demote.status_code == 403
    assert role_of(session, alice, page) == Role.OWNER
    assert session.scalars(select(Invitation)).first() is None


def test_an_invitation_is_emailed_listed_and_audited(
    client: TestClient, session: Session, alice: Persona, page: Page
) -> None:
    sign_in(client, alice)
    response = post(
        client, f"{team_url(page)}/invitations", {"email": " Nina@Example.com ", "role": "admin"}
    )
    assert response.status_code == 303
    screen = client.get(response.headers["location"]).text
    assert "Invitation emailed to nina@example.com." in screen
    assert re.search(r"nina@example\.com</span> <span class=\"role\">admin", screen)
    email = session.scalars(select(AccountEmail)).one()
    assert email.to_address == "nina@example.com"
    link = re.search(r"http://testserver(/admin/invitations/\S+)", email.body)
    assert link
    assert "invited as <strong>admin</strong>" in client.get(link.group(1)).text
    assert "invitation.create" in actions(session)


def test_a_bad_address_or_a_member_cannot_be_invited(
    client: TestClient, session: Session, alice: Persona, bob: Persona, page: Page
) -> None:
    sign_in(client, alice)
    bad = post(client, f"{team_url(page)}/invitations", {"email": "not-an-address"})
    assert bad.status_code == 422
    assert "enter a valid email address" in bad.text
    assert 'value="not-an-address"' in bad.text
    member = post(client, f"{team_url(page)}/invitations", {"email": "bob@example.com"})
    assert member.status_code == 409
    assert "already a member" in member.text
    assert session.scalars(select(AccountEmail)).first() is None


def test_inviting_again_replaces_the_earlier_link(
    client: TestClient, session: Session, alice: Persona, page: Page
) -> None:
    sign_in(client, alice)
    for _ in range(2):
        post(client, f"{team_url(page)}/invitations", {"email": "nina@example.com"})
    first, second = (
        re.search(r"(/admin/invitations/\S+)", body).group(1)  # type: ignore[union-attr]
        for body in session.scalars(select(AccountEmail.body).order_by(AccountEmail.created_at))
    )
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert client.get(team_url(page)).text.count("nina@example.com</span>") == 1


def test_a_revoked_invitation_link_stops_working(
    client: TestClient, session: Session, alice: Persona, page: Page
) -> None:
    created = invites.invite(
        session,
        page=page,
        email="nina@example.com",
        role=Role.EDITOR,
        base_url="http://testserver",
        now=utcnow(),
        actor=CLI,
        acting_role=Role.OWNER,
    )
    session.commit()
    sign_in(client, alice)
    url = f"{team_url(page)}/invitations/{created.invitation.id}/revoke"
    assert post(client, url).status_code == 303
    assert client.get(f"/admin/invitations/{created.token}").status_code == 404
    assert "nina@example.com</span>" not in client.get(team_url(page)).text
    assert "invitation.revoke" in actions(session)


def test_an_owner_changes_roles_and_can_make_owners(
    client: TestClient, session: Session, alice: Persona, bob: Persona, page: Page
) -> None:
    sign_in(client, alice)
    url = f"{team_url(page)}/members/{bob.user.id}/role"
    assert post(client, url, {"role": "owner"}).status_code == 303
    assert role_of(session, bob, page) == Role.OWNER
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "member.role_change")
    ).one()
    assert event.changes == {"role": ["editor", "owner"]}
    assert event.user_id == alice.user.id


def test_admins_cannot_make_owners_nor_touch_an_owner(
    client: TestClient, session: Session, alice: Persona, bob: Persona, vera: Persona, page: Page
) -> None:
    make(session, bob, page, Role.ADMIN)
    sign_in(client, bob)
    screen = client.get(team_url(page)).text
    assert 'value="owner"' not in screen
    assert f"/members/{alice.user.id}/" not in screen
    base = team_url(page)
    for url, data in (
        (f"{base}/members/{vera.user.id}/role", {"role": "owner"}),
        (f"{base}/members/{alice.user.id}/role", {"role": "viewer"}),
        (f"{base}/members/{alice.user.id}/remove", {}),
        (f"{base}/invitations", {"email": "nina@example.com", "role": "owner"}),
    ):
        response = post(client, url, data)
        assert response.status_code == 403, url
    assert role_of(session, alice, page) == Role.OWNER
    assert role_of(session, vera, page) == Role.VIEWER
    changed = post(client, f"{base}/members/{vera.user.id}/role", {"role": "editor"})
    assert changed.status_code == 303
    assert role_of(session, vera, page) == Role.EDITOR


def test_the_last_owner_can_be_neither_demoted_nor_removed(
    client: TestClient, session: Session, alice: Persona, bob: Persona, page: Page
) -> None:
    sign_in(client, alice)
    base = team_url(page)
    demote = post(client, f"{base}/members/{alice.user.id}/role", {"role": "admin"})
    assert demote.status_code == 409
    assert "needs an owner" in demote.text
    leave = post(client, f"{base}/members/{alice.user.id}/remove")
    assert leave.status_code == 409
    assert role_of(session, alice, page) == Role.OWNER
    make(session, bob, page, Role.OWNER)
    stepped_down = post(client, f"{base}/members/{alice.user.id}/role", {"role": "admin"})
    assert stepped_down.status_code == 303
    assert role_of(session, alice, page) == Role.ADMIN


def test_a_removed_member_loses_the_page_at_once(
    client: TestClient, session: Session, alice: Persona, vera: Persona, page: Page
) -> None:
    sign_in(client, vera)
    assert client.get(f"/admin/pages/{page.id}").status_code == 200
    vera_cookies = dict(client.cookies)
    sign_in(client, alice)
    removed = post(client, f"{team_url(page)}/members/{vera.user.id}/remove")
    assert removed.status_code == 303
    assert "vera@example.com" not in client.get(team_url(page)).text
    assert "member.remove" in actions(session)
    client.cookies.clear()
    for name, value in vera_cookies.items():
        client.cookies.set(name, value)
    assert client.get(f"/admin/pages/{page.id}").status_code == 404
    assert client.get("/api/v1/pages", headers=vera.headers).json() == []


def test_another_pages_members_and_invitations_are_not_found(
    client: TestClient, session: Session, alice: Persona, charlie: Persona, page: Page
) -> None:
    elsewhere = invites.invite(
        session,
        page=charlie.page,
        email="nina@example.com",
        role=Role.EDITOR,
        base_url="http://testserver",
        now=utcnow(),
        actor=CLI,
        acting_role=Role.OWNER,
    )
    session.commit()
    sign_in(client, alice)
    base = team_url(page)
    for url, data in (
        (f"{base}/members/{charlie.user.id}/role", {"role": "viewer"}),
        (f"{base}/members/{charlie.user.id}/remove", {}),
        (f"{base}/invitations/{elsewhere.invitation.id}/revoke", {}),
        (f"{base}/keys/{key_of(session, charlie).id}/revoke", {}),
    ):
        assert post(client, url, data).status_code == 404, url
    assert role_of(session, charlie, charlie.page) == Role.OWNER
    assert client.get(f"/admin/invitations/{elsewhere.token}").status_code == 200
    assert key_of(session, charlie).revoked_at is None


def test_owners_see_and_revoke_members_keys_but_never_their_secrets(
    client: TestClient, session: Session, alice: Persona, bob: Persona, page: Page
) -> None:
    sign_in(client, alice)
    screen = client.get(team_url(page)).text
    key = key_of(session, bob)
    assert f"{key.prefix}…" in screen
    assert bob.key not in screen
    assert client.get("/api/v1/pages", headers=bob.headers).status_code == 200
    revoked = post(client, f"{team_url(page)}/keys/{key.id}/revoke")
    assert revoked.status_code == 303
    assert client.get("/api/v1/pages", headers=bob.headers).status_code == 401
    assert "revoked" in client.get(team_url(page)).text


def test_admins_cannot_revoke_an_owners_key(
    client: TestClient, session: Session, alice: Persona, bob: Persona, page: Page
) -> None:
    make(session, bob, page, Role.ADMIN)
    sign_in(client, bob)
    key = key_of(session, alice)
    refused = post(client, f"{team_url(page)}/keys/{key.id}/revoke")
    assert refused.status_code == 403
    assert key_of(session, alice).revoked_at is None
