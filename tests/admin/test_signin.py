from __future__ import annotations

from fastapi.testclient import TestClient

from adminkit import sign_in
from conftest import Persona


def test_smoke(client: TestClient, alice: Persona) -> None:
    assert client.get("/admin", follow_redirects=False).status_code == 303
    sign_in(client, alice)
    response = client.get("/admin")
    assert response.status_code == 200, response.text
    assert "Open incidents" in response.text
