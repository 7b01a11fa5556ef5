from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import brotli
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, make_url
from sqlalchemy.orm import Session

from conftest import V2_PATHS, Persona, start_server
from factories import component, reference_outage
from tocsin.db import utcnow
from tocsin.main import create_app
from tocsin.pages.models import Page
from tocsin.pages.render import Renderer
from tocsin.pages.snapshot import (
    HTML,
    PUBLIC_CACHE,
    Segment,
    build_snapshot,
    joined_artifact,
    make_artifact,
)
from tocsin.pages.state import load_state
from tocsin.pages.store import SnapshotDisk
from tocsin.settings import Settings


@pytest.fixture
def quiet(settings: Settings) -> Iterator[TestClient]:
    """An app whose background poll never runs during the test: only commits refresh it."""
    with TestClient(create_app(settings.model_copy(update={"snapshot_poll_seconds": 3600}))) as c:
        yield c


def public_paths(incident_id: str, component_id: str) -> list[str]:
    return [
        "/",
        "/history",
        "/history?page=1",
        f"/incidents/{incident_id}",
        "/theme.css?accent=%23123456",
        *V2_PATHS,
        "/history.rss",
        "/history.atom",
        "/maintenance.ics",
        "/badge.svg",
        f"/components/{component_id}/badge.svg",
        "/badge.svg?label=api&color=red",
    ]


def test_it_answers_every_public_path_without_a_database_query(
    settings: Settings, session: Session, page: Page
) -> None:
    incident_id = reference_outage(session, page)
    api = component(session, page, "Search")
    session.commit()
    with TestClient(create_app(settings.model_copy(update={"snapshot_poll_seconds": 3600}))) as c:
        queries: list[str] = []
        engine = c.app.state.engine  # type: ignore[attr-defined]

        def seen(*args: object) -> None:
            # The store's own threads poll in the background; requests must not query.
            if not threading.current_thread().name.startswith("snapshot-"):
                queries.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", seen)
        for path in public_paths(incident_id, api.id):
            for method in ("GET", "HEAD"):
                assert c.request(method, path).status_code == 200, (method, path)
        assert c.get("/incidents/nosuchthing").status_code == 404
        assert c.get("/history?page=999").status_code == 404

    assert queries == []


def test_it_sends_brotli_gzip_or_identity_as_the_client_accepts(
    quiet: TestClient, session: Session, page: Page
) -> None:
    reference_outage(session, page)
    quiet.app.state.snapshots.refresh(everything=True)  # type: ignore[attr-defined]
    plain = quiet.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert plain.headers["cache-control"] == PUBLIC_CACHE

    for accept, coding, decode in (
        ("gzip, deflate, br", "br", brotli.decompress),
        ("gzip", "gzip", gzip.decompress),
        ("br;q=0, gzip;q=0.5", "gzip", gzip.decompress),
    ):
        with quiet.stream("GET", "/", headers={"Accept-Encoding": accept}) as response:
            assert response.headers["content-encoding"] == coding
            body = b"".join(response.iter_raw())
        assert decode(body) == plain.content
        assert response.headers["etag"] != plain.headers["etag"]


def test_it_answers_304_to_a_matching_etag_and_head_with_no_body(
    quiet: TestClient, page: Page
) -> None:
    first = quiet.get("/api/v2/status.json", headers={"Accept-Encoding": "gzip"})
    etag = first.headers["etag"]

    again = quiet.get(
        "/api/v2/status.json", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["access-control-allow-origin"] == "*"

    head = quiet.head("/api/v2/status.json", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(quiet.get("/api/v2/status.json").content)


def test_a_write_through_the_api_is_visible_on_the_next_request(
    quiet: TestClient, alice: Persona, session: Session, page: Page
) -> None:
    api = component(session, page, "API")
    session.commit()
    quiet.app.state.snapshots.refresh(everything=True)  # type: ignore[attr-defined]
    assert "Elevated API errors" not in quiet.get("/").text

    created = quiet.post(
        f"/api/v1/pages/{page.id}/incidents",
        headers=alice.headers,
        json={"incident": {"name": "Elevated API errors", "components": {api.id: "major_outage"}}},
    )
    assert created.status_code == 201

    assert "Elevated API errors" in quiet.get("/").text
    status = quiet.get("/api/v2/status.json").json()
    assert status["status"]["indicator"] == "critical"


def test_a_rebuild_reuses_the_incident_pages_it_did_not_change(
    session: Session, page: Page
) -> None:
    incident_id = reference_outage(session, page)
    renderer = Renderer()
    state = load_state(session, page=page, now=utcnow(), base_url="http://testserver")
    first = build_snapshot(state, renderer)
    later = replace(state, generated_at=utcnow(), description="changed")
    second = build_snapshot(later, renderer, previous=first)

    path = f"/incidents/{incident_id}"
    assert second.artifacts[path] is first.artifacts[path]
    assert second.artifacts["/history?page=1"] is first.artifacts["/history?page=1"]
    renamed = replace(later, page=replace(later.page, name="Renamed"))
    third = build_snapshot(renamed, renderer, previous=second)
    assert third.artifacts[path] is not second.artifacts[path]
    assert b"Renamed" in third.artifacts[path].body


def test_the_snapshot_is_saved_to_disk_and_read_back(
    session: Session, page: Page, tmp_path: Path
) -> None:
    reference_outage(session, page)
    state = load_state(session, page=page, now=utcnow(), base_url="http://testserver")
    snapshot = build_snapshot(state, Renderer())
    disk = SnapshotDisk(tmp_path / "snapshots")
    disk.save(snapshot, default=True)
    disk.flush()

    loaded, default_id = disk.load()

    assert default_id == page.id
    assert loaded[page.id].artifacts == snapshot.artifacts
    assert not list((tmp_path / "snapshots").rglob("*.tmp"))


def test_another_process_on_postgresql_shows_a_change_within_a_second(
    settings: Settings, alice: Persona, session: Session, page: Page, tmp_path: Path
) -> None:
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        pytest.skip("several web processes share a PostgreSQL database")
    api = component(session, page, "API")
    session.commit()
    servers = [
        start_server(
            settings.database_url,
            tmp_path / f"var{n}",
            env={"TOCSIN_SECRET_KEY": "test-secret-key"},
        )
        for n in (1, 2)
    ]
    try:
        (_, writer), (_, reader) = servers
        assert "Elevated API errors" not in httpx.get(f"{reader}/").text
        created = httpx.post(
            f"{writer}/api/v1/pages/{page.id}/incidents",
            headers=alice.headers,
            json={
                "incident": {"name": "Elevated API errors", "components": {api.id: "major_outage"}}
            },
        )
        assert created.status_code == 201
        written = time.monotonic()
        while "Elevated API errors" not in httpx.get(f"{reader}/").text:
            assert time.monotonic() - written < 1.0, "the other process did not see the change"
            time.sleep(0.01)
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait(timeout=10)


def test_a_snapshot_hit_carries_the_same_security_headers_as_any_response(
    quiet: TestClient, page: Page
) -> None:
    hit = quiet.get("/")
    routed = quiet.get("/healthz")

    for name in (
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "cross-origin-opener-policy",
    ):
        assert hit.headers[name] == routed.headers[name], name
    assert "strict-transport-security" not in hit.headers


def test_a_nul_in_the_query_is_refused_even_on_a_snapshot_path(
    quiet: TestClient, page: Page
) -> None:
    assert quiet.get("/api/v2/status.json?x=%00").status_code == 400
    assert quiet.get("/api/v2/status.json?x=1").status_code == 200


def test_a_page_joined_from_parts_is_one_valid_gzip_member() -> None:
    parts = [b"<p>before</p>" * 50, b"<li>component</li>" * 500, b"<p>after</p>" * 30]

    artifact = joined_artifact([Segment.of(part) for part in parts], HTML)

    assert gzip.decompress(artifact.gzip) == b"".join(parts)
    assert brotli.decompress(artifact.br or b"") == artifact.body
    assert artifact.etag == make_artifact(artifact.body, HTML).etag
