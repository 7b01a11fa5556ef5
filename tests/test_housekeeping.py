from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conftest import Persona
from tocsin import housekeeping
from tocsin.accounts import signin
from tocsin.accounts.models import AccountEmail, SignInSession
from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.lib import ratelimit
from tocsin.lib.ratelimit import Limit, RateLimit
from tocsin.notify import service as subscribers
from tocsin.notify.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationKind,
    Subscriber,
)
from tocsin.notify.schemas import SubscriberCreate
from tocsin.pages.models import Page
from tocsin.settings import Settings


def _subscriber(session: Session, page: Page, email: str) -> Subscriber:
    created = subscribers.create_subscriber(
        session,
        page=page,
        data=SubscriberCreate(email=email, skip_confirmation_notification=True),
        actor=CLI,
    )
    return created.subscriber


def _notification(
    session: Session, page: Page, sub: Subscriber, age: timedelta, status: DeliveryStatus
) -> str:
    at = utcnow() - age
    notification = Notification(
        page_id=page.id, kind=NotificationKind.INCIDENT_CREATED, payload={}, created_at=at
    )
    session.add(notification)
    session.flush()
    session.add(
        Delivery(
            notification_id=notification.id, subscriber_id=sub.id, status=status, created_at=at
        )
    )
    return notification.id


def test_prune_removes_only_what_has_served_its_purpose(
    session: Session, page: Page, alice: Persona, settings: Settings
) -> None:
    now = utcnow()
    ratelimit.hit(session, "old", Limit(limit=1, per_seconds=60), now=now.timestamp() - 3600)
    ratelimit.hit(session, "fresh", Limit(limit=1, per_seconds=60), now=now.timestamp())
    signin.start_session(  # expired long ago
        session, user=alice.user, now=now - timedelta(days=30), ip=None, user_agent=None
    )
    live = signin.start_session(session, user=alice.user, now=now, ip=None, user_agent=None)
    gone = _subscriber(session, page, "gone@example.com")
    gone.purge_at = now - timedelta(minutes=1)
    kept = _subscriber(session, page, "kept@example.com")
    old_done = _notification(session, page, kept, timedelta(days=200), DeliveryStatus.SENT)
    old_pending = _notification(session, page, kept, timedelta(days=200), DeliveryStatus.PENDING)
    recent = _notification(session, page, kept, timedelta(days=2), DeliveryStatus.FAILED)
    session.add(
        AccountEmail(
            to_address="a@example.com", subject="s", body="b", sent_at=now - timedelta(days=60)
        )
    )
    session.add(AccountEmail(to_address="b@example.com", subject="s", body="b"))
    session.commit()

    pruned = housekeeping.prune(session, settings=settings, now=now)
    session.commit()

    assert pruned == housekeeping.Pruned(
        rate_limits=1, sessions=1, subscribers=1, notifications=1, account_emails=1
    )
    assert session.scalar(select(func.count()).select_from(RateLimit)) == 1
    assert {row.token_hash for row in session.scalars(select(SignInSession))} == {
        live.session.token_hash
    }
    assert {s.email for s in session.scalars(select(Subscriber))} == {"kept@example.com"}
    # The delivery log of a fan-out still in progress stays, however old.
    assert set(session.scalars(select(Notification.id))) == {old_pending, recent}
    assert old_done not in set(session.scalars(select(Delivery.notification_id)))
    assert session.scalar(select(func.count()).select_from(AccountEmail)) == 1


def test_the_prune_command_reports_what_it_removed(settings: Settings, page: Page) -> None:
    env = {
        "TOCSIN_DATABASE_URL": settings.database_url,
        "TOCSIN_VAR_DIR": str(settings.var_dir),
        "PATH": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", "prune"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "pruned 0 rate-limit buckets, 0 sessions, 0 subscribers, 0 notifications" in result.stdout
    )
