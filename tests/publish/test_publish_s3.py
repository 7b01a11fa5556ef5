from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from factories import reference_outage
from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.pages.export import SiteFile
from tocsin.pages.models import Page
from tocsin.publish import service as targets
from tocsin.publish.models import PublishTarget, TargetKind
from tocsin.publish.s3 import make_client, sync_s3
from tocsin.publish.schemas import S3Config, S3TargetCreate
from tocsin.publish.worker import Publisher
from tocsin.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's), in its own process on loopback."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def config(s3_endpoint: str) -> S3Config:
    return S3Config(
        bucket=f"status-{secrets.token_hex(4)}",
        prefix="status/",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key_id="test",
        secret_access_key="test",  # type: ignore[arg-type]
        public_read=True,
    )


@pytest.fixture
def s3(config: S3Config) -> Any:
    client = make_client(config)
    client.create_bucket(Bucket=config.bucket)
    return client


def _objects(s3: Any, config: S3Config) -> dict[str, dict[str, Any]]:
    listing = s3.list_objects_v2(Bucket=config.bucket, Prefix=config.prefix)
    return {item["Key"].removeprefix(config.prefix): item for item in listing.get("Contents", ())}


def _target(session: Session, page: Page, config: S3Config) -> PublishTarget:
    data = S3TargetCreate(kind=TargetKind.S3, config=config)
    target = targets.create_target(session, page=page, data=data, actor=CLI)
    session.commit()
    return target


@pytest.fixture
def publisher(factory: sessionmaker[Session], settings: Settings) -> Publisher:
    return Publisher(factory, settings)


def test_it_uploads_the_site_with_content_types_and_cache_headers(
    session: Session, page: Page, publisher: Publisher, config: S3Config, s3: Any
) -> None:
    incident_id = reference_outage(session, page)
    target = _target(session, page, config)

    assert publisher.run_once() == 1

    objects = _objects(s3, config)
    assert not [name for name in objects if name.endswith(".gz")]
    expected = {
        "index.html": "text/html; charset=utf-8",
        f"incidents/{incident_id}/index.html": "text/html; charset=utf-8",
        "api/v2/summary.json": "application/json",
        "badge.svg": "image/svg+xml; charset=utf-8",
        "static/tocsin.css": "text/css",
        "history.rss": "application/rss+xml; charset=utf-8",
    }
    for name, content_type in expected.items():
        head = s3.head_object(Bucket=config.bucket, Key=config.prefix + name)
        assert head["ContentType"] == content_type, name
        assert head["CacheControl"], name
    history = s3.get_object(Bucket=config.bucket, Key="status/history/index.html")["Body"].read()
    assert b"Payments API returning errors" in history
    acl = s3.get_object_acl(Bucket=config.bucket, Key="status/index.html")
    assert any(
        g["Permission"] == "READ" and "AllUsers" in g["Grantee"].get("URI", "")
        for g in acl["Grants"]
    )
    session.expire_all()
    assert session.get(PublishTarget, target.id).last_success_at is not None  # type: ignore[union-attr]


def test_a_sync_uploads_only_changed_objects_and_deletes_stale_ones(
    config: S3Config, s3: Any
) -> None:
    def file(body: bytes) -> SiteFile:
        return SiteFile(body, None, "text/html; charset=utf-8", "no-cache")

    first = {"index.html": file(b"one"), "a/index.html": file(b"a"), "b/index.html": file(b"b")}
    assert sorted(sync_s3(config, first).written) == ["a/index.html", "b/index.html", "index.html"]

    second = {"index.html": file(b"two"), "a/index.html": file(b"a"), "c.json": file(b"{}")}
    result = sync_s3(config, second)

    assert result.written == ["c.json", "index.html"]
    assert result.deleted == ["b/index.html"]
    assert sorted(_objects(s3, config)) == ["a/index.html", "c.json", "index.html"]


def test_a_change_republishes_only_what_changed(
    session: Session, page: Page, publisher: Publisher, config: S3Config, s3: Any
) -> None:
    incident_id = reference_outage(session, page)
    _target(session, page, config)
    publisher.run_once()
    before = _objects(s3, config)

    incident = session.get(Incident, incident_id)
    assert incident is not None
    incidents.delete_incident(session, incident=incident, actor=CLI)
    session.commit()
    assert publisher.run_once() == 1

    after = _objects(s3, config)
    assert f"incidents/{incident_id}/index.html" not in after
    assert after["static/tocsin.css"]["LastModified"] == before["static/tocsin.css"]["LastModified"]
    assert after["api/v2/incidents.json"]["ETag"] != before["api/v2/incidents.json"]["ETag"]


def test_a_missing_bucket_records_the_error_and_a_retry_succeeds(
    session: Session,
    page: Page,
    factory: sessionmaker[Session],
    settings: Settings,
    config: S3Config,
) -> None:
    offset = timedelta()
    publisher = Publisher(factory, settings, clock=lambda: utcnow() + offset)
    target = _target(session, page, config)

    assert publisher.run_once() == 0
    session.expire_all()
    row = session.get(PublishTarget, target.id)
    assert row is not None
    assert row.last_error is not None and "NoSuchBucket" in row.last_error
    assert row.last_success_at is None

    make_client(config).create_bucket(Bucket=config.bucket)
    offset = targets.backoff(1) + timedelta(seconds=1)
    assert publisher.run_once() == 1
    session.expire_all()
    row = session.get(PublishTarget, target.id)
    assert row is not None
    assert row.last_error is None
    assert row.last_success_at is not None
