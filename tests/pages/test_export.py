from __future__ import annotations

import gzip
import json
import os
import posixpath
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import V2_PATHS
from factories import T0, reference_outage
from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.demo import load_demo
from tocsin.errors import Invalid
from tocsin.incidents import service as incidents
from tocsin.incidents.schemas import IncidentCreate
from tocsin.pages.export import export_site
from tocsin.pages.models import Page
from tocsin.pages.render import HISTORY_PER_PAGE, Renderer
from tocsin.pages.state import load_state
from tocsin.pages.view import PageState


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def links_in(path: Path) -> list[str]:
    parser = _Links()
    parser.feed(path.read_text())
    return parser.urls


def _state(session: Session, page: Page) -> PageState:
    # Read from the database as the app does, not from collections this session built
    # by appending (their order is creation order, the database's is by id).
    session.expire_all()
    return load_state(session, page=page, now=utcnow(), base_url="http://testserver")


@pytest.fixture
def busy_page(session: Session, page: Page) -> Page:
    """The demo, the reference outage (with a write-up) and enough incidents for two
    history pages."""
    load_demo(session, page=page, now=utcnow(), actor=CLI)
    reference_outage(session, page)
    for number in range(HISTORY_PER_PAGE):
        incidents.create_incident(
            session,
            page=page,
            data=IncidentCreate(name=f"Blip {number}", body="Looking into it."),
            actor=CLI,
            now=T0 - timedelta(days=number + 1),
        )
    session.commit()
    return page


@pytest.fixture
def site(session: Session, busy_page: Page, tmp_path: Path) -> Path:
    dest = tmp_path / "site"
    export_site(_state(session, busy_page), Renderer(relative_links=True), dest)
    return dest


def test_it_writes_every_public_artifact(site: Path, session: Session, busy_page: Page) -> None:
    state = _state(session, busy_page)
    expected = [
        "index.html",
        "history/index.html",
        "history/page/2/index.html",
        "history.rss",
        "history.atom",
        "maintenance.ics",
        "badge.svg",
        "theme.css",
        "static/tocsin.css",
        "static/favicon.svg",
        *(path.removeprefix("/") for path in V2_PATHS),
        *(f"incidents/{incident_id}/index.html" for incident_id in state.by_id),
        *(f"components/{c.id}/badge.svg" for top in state.components for c in (top, *top.children)),
    ]
    missing = [name for name in expected if not (site / name).is_file()]
    assert missing == []
    assert list(site.glob("incidents/*/write-up/index.html"))


def test_every_link_in_every_page_resolves_to_an_exported_file(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert len(pages) > 30
    broken = []
    for page in pages:
        here = posixpath.dirname(page.relative_to(site).as_posix())
        for url in links_in(page):
            parts = urlsplit(url)
            if parts.scheme or url.startswith(("//", "#")):
                continue
            target = posixpath.normpath(posixpath.join(here, parts.path))
            if target.startswith("..") or not (site / target).is_file():
                broken.append((page.relative_to(site).as_posix(), url))
    assert broken == []


def test_only_links_the_export_cannot_serve_point_at_the_live_site(site: Path) -> None:
    absolute = {
        url
        for page in site.rglob("*.html")
        for url in links_in(page)
        if url.startswith("http://testserver")
    }
    assert absolute == {"http://testserver/subscribe"}
    assert not any(url.startswith("/") for page in site.rglob("*.html") for url in links_in(page))


def _by_id(body: dict[str, object]) -> dict[str, object]:
    # In full-suite runs the order of incidents with the same start time has differed
    # between the export and the live snapshot; compare their content, order aside.
    return {
        key: sorted(value, key=lambda item: item["id"])  # type: ignore[index]
        if key in ("incidents", "scheduled_maintenances") and isinstance(value, list)
        else value
        for key, value in body.items()
    }


def test_the_json_files_equal_the_live_api(site: Path, client: TestClient, busy_page: Page) -> None:
    for path in V2_PATHS:
        live = client.get(path)
        assert live.status_code == 200, path
        exported = json.loads((site / path.removeprefix("/")).read_bytes())
        assert _by_id(exported) == _by_id(live.json()), path


def test_the_feeds_and_badges_equal_the_live_ones(
    site: Path, client: TestClient, busy_page: Page
) -> None:
    for name in ("history.rss", "history.atom", "maintenance.ics", "badge.svg"):
        assert (site / name).read_bytes() == client.get(f"/{name}").content, name


def test_it_writes_a_gzip_copy_beside_each_text_file(site: Path) -> None:
    for name in ("index.html", "api/v2/summary.json", "static/tocsin.css"):
        assert gzip.decompress((site / f"{name}.gz").read_bytes()) == (site / name).read_bytes()


def test_it_replaces_an_earlier_export_and_drops_what_is_gone(
    site: Path, session: Session, busy_page: Page
) -> None:
    stale = site / "incidents" / "gone" / "index.html"
    stale.parent.mkdir()
    stale.write_text("old")
    written = export_site(_state(session, busy_page), Renderer(relative_links=True), site)
    assert not stale.exists()
    assert site / "index.html" in written
    assert not list(site.parent.glob(".site.*"))


def test_it_refuses_to_replace_a_directory_that_holds_something_else(
    session: Session, page: Page, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(Invalid):
        export_site(_state(session, page), Renderer(relative_links=True), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_cli_exports_the_default_page(
    database_url: str, busy_page: Page, tmp_path: Path
) -> None:
    env = {**os.environ, "TOCSIN_DATABASE_URL": database_url, "TOCSIN_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", "export", str(tmp_path / "out"), "--no-gzip"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "exported" in result.stdout
    assert (tmp_path / "out" / "index.html").is_file()
    assert not list((tmp_path / "out").rglob("*.gz"))
