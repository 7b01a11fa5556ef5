from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from factories import reference_outage
from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.incidents import service as incidents
from tocsin.incidents.models import Incident
from tocsin.incidents.schemas import IncidentCreate
from tocsin.pages.models import Page
from tocsin.publish import service as targets
from tocsin.publish.models import PublishTarget, TargetKind
from tocsin.publish.schemas import DirConfig, DirTargetCreate
from tocsin.publish.worker import Publisher
from tocsin.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def publisher(factory: sessionmaker[Session], settings: Settings, clock: Clock) -> Publisher:
    return Publisher(factory, settings, clock=clock)


@pytest.fixture
def make_target(session: Session, page: Page) -> Callable[[Path], PublishTarget]:
    def make(path: Path) -> PublishTarget:
        data = DirTargetCreate(kind=TargetKind.DIR, config=DirConfig(path=str(path)))
        target = targets.create_target(session, page=page, data=data, actor=CLI)
        session.commit()
        return target

    return make


def _reloaded(session: Session, target: PublishTarget) -> PublishTarget:
    session.expire_all()
    found = session.get(PublishTarget, target.id)
    assert found is not None
    return found


def test_it_publishes_the_whole_site_and_records_the_success(
    session: Session,
    page: Page,
    publisher: Publisher,
    make_target: Callable[[Path], PublishTarget],
    tmp_path: Path,
) -> None:
    incident_id = reference_outage(session, page)
    target = make_target(tmp_path / "copy")

    assert publisher.run_once() == 1

    copy = tmp_path / "copy"
    assert (copy / "index.html").is_file()
    assert (copy / "index.html.gz").is_file()
    assert (copy / "api/v2/summary.json").is_file()
    assert (copy / f"incidents/{incident_id}/index.html").is_file()
    row = _reloaded(session, target)
    assert row.last_success_at is not None
    assert row.last_error is None
    assert row.published_version == session.get(Page, page.id).updated_at  # type: ignore[union-attr]


def test_it_does_nothing_until_the_page_changes(
    session: Session,
    page: Page,
    publisher: Publisher,
    make_target: Callable[[Path], PublishTarget],
    tmp_path: Path,
) -> None:
    make_target(tmp_path / "copy")
    assert publisher.run_once() == 1
    assert publisher.run_once() == 0


def test_a_change_rewrites_only_the_changed_files_and_removes_stale_ones(
    session: Session,
    page: Page,
    publisher: Publisher,
    make_target: Callable[[Path], PublishTarget],
    tmp_path: Path,
) -> None:
    incident_id = reference_outage(session, page)
    make_target(tmp_path / "copy")
    publisher.run_once()
    copy = tmp_path / "copy"
    css_written_at = (copy / "static/tocsin.css").stat().st_mtime_ns
    home = (copy / "index.html").read_bytes()

    incident = session.get(Incident, incident_id)
    assert incident is not None
    incidents.delete_incident(session, incident=incident, actor=CLI)
    incidents.create_incident(
        session, page=page, data=IncidentCreate(name="Login is slow", body="Looking."), actor=CLI
    )
    session.commit()
    assert publisher.run_once() == 1

    assert not (copy / "incidents" / incident_id).exists()
    new_home = (copy / "index.html").read_bytes()
    assert new_home != home
    assert b"Login is slow" in new_home
    assert (copy / "static/tocsin.css").stat().st_mtime_ns == css_written_at


def test_a_failure_records_the_error_and_is_retried_after_a_backoff(
    session: Session,
    page: Page,
    publisher: Publisher,
    clock: Clock,
    make_target: Callable[[Path], PublishTarget],
    tmp_path: Path,
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "someone-elses.txt").write_text("keep me")
    target = make_target(copy)

    assert publisher.run_once() == 0
    row = _reloaded(session, target)
    assert row.last_error is not None and "refusing" in row.last_error
    assert row.last_success_at is None
    assert row.failures == 1
    assert (copy / "someone-elses.txt").read_text() == "keep me"
    assert publisher.run_once() == 0  # still backing off

    (copy / "someone-elses.txt").unlink()
    clock.offset = targets.backoff(1) + timedelta(seconds=1)
    assert publisher.run_once() == 1
    row = _reloaded(session, target)
    assert row.last_error is None
    assert row.failures == 0
    assert row.last_success_at is not None


def test_backoff_doubles_up_to_ten_minutes() -> None:
    assert [targets.backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert targets.backoff(50) == timedelta(minutes=10)


def test_a_disabled_target_is_left_alone(
    session: Session,
    page: Page,
    publisher: Publisher,
    make_target: Callable[[Path], PublishTarget],
    tmp_path: Path,
) -> None:
    target = make_target(tmp_path / "copy")
    target.enabled = False
    session.commit()
    assert publisher.run_once() == 0
    assert not (tmp_path / "copy").exists()
