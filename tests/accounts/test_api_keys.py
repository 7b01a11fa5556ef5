from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import Persona
from tocsin.accounts import service as accounts
from tocsin.accounts.models import ApiKey, Role
from tocsin.audit.service import CLI


def test_a_key_is_stored_only_as_a_digest(session: Session, alice: Persona) -> None:
    stored = session.scalars(select(ApiKey).where(ApiKey.user_id == alice.user.id)).one()
    assert stored.key_hash == accounts.digest(alice.key)
    assert alice.key not in (stored.key_hash, stored.prefix)


def test_every_way_statuspage_clients_send_a_key_works(client: TestClient, alice: Persona) -> None:
    for headers, params in (
        ({"Authorization": f"OAuth {alice.key}"}, {}),
        ({"Authorization": f"Bearer {alice.key}"}, {}),
        ({"Authorization": alice.key}, {}),
    ):
        assert client.get("/api/v1/pages", headers=headers, params=params).status_code == 200


def test_a_revoked_or_wrong_key_could_not_authenticate(
    client: TestClient, session: Session, alice: Persona
) -> None:
    assert client.get("/api/v1/pages", headers={"Authorization": "OAuth nope"}).status_code == 401
    key = session.scalars(select(ApiKey).where(ApiKey.user_id == alice.user.id)).one()
    accounts.revoke_api_key(session, key=key, actor=CLI)
    session.commit()
    response = client.get("/api/v1/pages", headers=alice.headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "Could not authenticate",
        "message": "Could not authenticate",
    }


def test_roles_are_ordered_viewer_editor_admin_owner() -> None:
    assert accounts.has_role(Role.OWNER, Role.ADMIN)
    assert accounts.has_role(Role.EDITOR, Role.EDITOR)
    assert not accounts.has_role(Role.VIEWER, Role.EDITOR)
    assert not accounts.has_role(None, Role.VIEWER)
