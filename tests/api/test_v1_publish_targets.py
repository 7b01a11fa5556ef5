from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from conftest import Persona


def _url(persona: Persona) -> str:
    return f"/api/v1/pages/{persona.page.id}/publish_targets"


def _s3_body() -> dict[str, object]:
    return {
        "publish_target": {
            "kind": "s3",
            "config": {
                "bucket": "status-backup",
                "prefix": "acme/",
                "endpoint_url": "https://s3.example.net",
                "region": "eu-west-1",
                "access_key_id": "AKIDEXAMPLE",
                "secret_access_key": "wJalrXUtnFEMI",
            },
        }
    }


def test_it_creates_a_dir_target_and_lists_it_without_a_success_yet(
    client: TestClient, alice: Persona, tmp_path: Path
) -> None:
    body = {"publish_target": {"kind": "dir", "config": {"path": str(tmp_path / "copy")}}}
    created = client.post(_url(alice), json=body, headers=alice.headers)
    assert created.status_code == 201, created.text
    target = created.json()
    assert target["kind"] == "dir"
    assert target["config"] == {"path": str(tmp_path / "copy")}
    assert target["enabled"] is True

    listed = client.get(_url(alice), headers=alice.headers).json()
    assert [(t["id"], t["last_success_at"], t["last_error"]) for t in listed] == [
        (target["id"], None, None)
    ]


def test_it_never_returns_the_s3_secret(client: TestClient, alice: Persona) -> None:
    created = client.post(_url(alice), json=_s3_body(), headers=alice.headers)
    assert created.status_code == 201, created.text
    config = created.json()["config"]
    assert config["secret_access_key"] is None
    assert config["secret_access_key_set"] is True
    assert "wJalrXUtnFEMI" not in client.get(_url(alice), headers=alice.headers).text


def test_it_rejects_an_unknown_kind_and_a_relative_path(client: TestClient, alice: Persona) -> None:
    ftp = {"publish_target": {"kind": "ftp", "config": {}}}
    assert client.post(_url(alice), json=ftp, headers=alice.headers).status_code == 422
    relative = {"publish_target": {"kind": "dir", "config": {"path": "copy"}}}
    response = client.post(_url(alice), json=relative, headers=alice.headers)
    assert response.status_code == 422
    assert "publish_target" in response.json()["message"]


def test_it_deletes_a_target(client: TestClient, alice: Persona) -> None:
    target = client.post(_url(alice), json=_s3_body(), headers=alice.headers).json()
    gone = client.delete(f"{_url(alice)}/{target['id']}", headers=alice.headers)
    assert gone.status_code == 200
    assert client.get(_url(alice), headers=alice.headers).json() == []
    again = client.delete(f"{_url(alice)}/{target['id']}", headers=alice.headers)
    assert again.status_code == 404


def test_only_admins_manage_targets(
    client: TestClient, alice: Persona, bob: Persona, charlie: Persona
) -> None:
    url = _url(alice)
    assert client.post(url, json=_s3_body(), headers=bob.headers).status_code == 403
    assert client.get(url, headers=bob.headers).status_code == 403
    assert client.get(url, headers=charlie.headers).status_code == 404
    target = client.post(url, json=_s3_body(), headers=alice.headers).json()
    assert client.delete(f"{url}/{target['id']}", headers=bob.headers).status_code == 403
    assert client.delete(f"{url}/{target['id']}", headers=charlie.headers).status_code == 404
