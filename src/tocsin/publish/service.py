"""Publish targets: configuration, and the bookkeeping of the worker that keeps them current."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tocsin.audit import service as audit
from tocsin.audit.service import Actor
from tocsin.errors import NotFound
from tocsin.pages.models import Page
from tocsin.publish.models import PublishTarget, TargetKind
from tocsin.publish.schemas import DirConfig, S3Config, TargetCreate

# A target is republished at least this often even without changes, since the
# uptime bars and "today" move with the clock.
REFRESH_AFTER = timedelta(hours=1)
# How long a claimed target is left alone: longer than any sync should take.
LEASE = timedelta(minutes=10)
BACKOFF_FIRST = timedelta(seconds=5)
BACKOFF_MAX = timedelta(minutes=10)


def create_target(
    session: Session, *, page: Page, data: TargetCreate, actor: Actor
) -> PublishTarget:
    target = PublishTarget(
        page_id=page.id, kind=data.kind, config=data.config.stored(), enabled=data.enabled
    )
    session.add(target)
    session.flush()
    _audit(session, actor, "publish_target.create", target)
    return target


def list_targets(session: Session, *, page_id: str) -> list[PublishTarget]:
    query = select(PublishTarget).where(PublishTarget.page_id == page_id)
    return list(session.scalars(query.order_by(PublishTarget.created_at, PublishTarget.id)))


def get_target(session: Session, *, page_id: str, target_id: str) -> PublishTarget:
    target = session.get(PublishTarget, target_id)
    if target is None or target.page_id != page_id:
        raise NotFound("The requested resource could not be found.")
    return target


def delete_target(session: Session, *, target: PublishTarget, actor: Actor) -> None:
    _audit(session, actor, "publish_target.delete", target)
    session.delete(target)
    session.flush()


def config_of(target: PublishTarget) -> DirConfig | S3Config:
    model = DirConfig if target.kind is TargetKind.DIR else S3Config
    return model.model_validate_json(target.config)


def _audit(session: Session, actor: Actor, action: str, target: PublishTarget) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        page_id=target.page_id,
        object_type="publish_target",
        object_id=target.id,
        changes={"kind": target.kind.value},
    )


@dataclass(frozen=True)
class Due:
    target_id: str
    page_id: str


def due_targets(session: Session, *, now: datetime) -> list[Due]:
    """Enabled targets behind their page's version (or due for a refresh), not in backoff."""
    query = (
        select(PublishTarget.id, PublishTarget.page_id)
        .join(Page, Page.id == PublishTarget.page_id)
        .where(
            PublishTarget.enabled,
            or_(PublishTarget.next_attempt_at.is_(None), PublishTarget.next_attempt_at <= now),
            or_(
                PublishTarget.published_version.is_(None),
                PublishTarget.published_version < Page.updated_at,
                PublishTarget.last_success_at < now - REFRESH_AFTER,
            ),
        )
        .order_by(PublishTarget.page_id, PublishTarget.id)
    )
    return [Due(*row) for row in session.execute(query)]


def claim(session: Session, *, target_id: str, now: datetime) -> bool:
    """Take the target for one run; False if another worker got it first."""
    result = session.execute(
        update(PublishTarget)
        .where(
            PublishTarget.id == target_id,
            or_(PublishTarget.next_attempt_at.is_(None), PublishTarget.next_attempt_at <= now),
        )
        .values(next_attempt_at=now + LEASE, last_attempt_at=now)
    )
    return getattr(result, "rowcount", 0) == 1


def record_success(session: Session, *, target_id: str, version: datetime, now: datetime) -> None:
    session.execute(
        update(PublishTarget)
        .where(PublishTarget.id == target_id)
        .values(
            published_version=version,
            last_success_at=now,
            last_error=None,
            failures=0,
            next_attempt_at=None,
        )
    )


def record_failure(session: Session, *, target_id: str, message: str, now: datetime) -> None:
    """Keep the error and back off: 5 s, 10 s, 20 s, … up to 10 minutes between attempts."""
    target = session.get(PublishTarget, target_id)
    if target is None:
        return
    target.failures += 1
    target.last_error = message[:2000]
    target.next_attempt_at = now + backoff(target.failures)
    session.flush()


def backoff(failures: int) -> timedelta:
    doubled: timedelta = BACKOFF_FIRST * (2 ** min(failures - 1, 20))
    return min(doubled, BACKOFF_MAX)
