"""Sends the queued account emails (invitations, password resets) from the worker."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, cast

from aiosmtplib import SMTP, SMTPException
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from tocsin.accounts.models import AccountEmail
from tocsin.db import transaction, utcnow
from tocsin.notify.base import NotifyError
from tocsin.notify.channels.email import recipient_address, sender_address
from tocsin.settings import Settings

logger = logging.getLogger(__name__)

# Reset links live an hour and invitations a week: past a day, a retry helps nobody.
GIVE_UP_AFTER = timedelta(days=1)
BATCH = 50
# A claimed email is not due again until then: another worker leaves it alone, and one
# that a crashed worker held is retried afterwards.
LEASE = timedelta(minutes=5)


def _backoff(attempts: int) -> timedelta:
    base = min(3600.0, 10.0 * 2 ** min(attempts, 12))
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 (jitter)


def due_emails(session: Session, *, now: datetime) -> list[AccountEmail]:
    return list(
        session.scalars(
            select(AccountEmail)
            .where(AccountEmail.sent_at.is_(None), AccountEmail.next_attempt_at <= now)
            .order_by(AccountEmail.next_attempt_at)
            .limit(BATCH)
        )
    )


def claim_due(session: Session, *, now: datetime) -> list[AccountEmail]:
    """Take the emails that are due, each by a conditional update of its next attempt, so
    that two workers never both take one."""
    claimed = []
    for email in due_emails(session, now=now):
        statement = (
            update(AccountEmail)
            .where(
                AccountEmail.id == email.id,
                AccountEmail.sent_at.is_(None),
                AccountEmail.next_attempt_at == email.next_attempt_at,
            )
            .values(next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], session.execute(statement)).rowcount == 1:
            claimed.append(email)
    return claimed


def build(email: AccountEmail, *, sender: Address) -> EmailMessage:
    mime = EmailMessage()
    mime["Subject"] = " ".join(email.subject.split())
    mime["From"] = Address("Tocsin", sender.username, sender.domain)
    mime["To"] = recipient_address(email.to_address)
    mime["Date"] = format_datetime(utcnow())
    mime["Message-ID"] = make_msgid(idstring=email.id, domain=sender.domain)
    mime["Auto-Submitted"] = "auto-generated"
    mime.set_content(email.body)
    return mime


@dataclass(frozen=True)
class _Failure:
    message: str
    permanent: bool = False


async def send_due(factory: sessionmaker[Session], settings: Settings) -> int:
    """Send what is due; return how many went out. Each row is marked sent right after
    its send, so a crash re-sends at most the one in flight."""
    if not settings.smtp_host:
        return 0
    pending = await asyncio.to_thread(_claim, factory)
    if not pending:
        return 0
    sender = sender_address(settings.email_from)
    smtp = _client(settings)
    try:
        await smtp.connect()
    except (SMTPException, OSError) as exc:
        down = _Failure(f"cannot reach the SMTP server: {exc}")
        for email in pending:
            await asyncio.to_thread(_record, factory, email.id, down)
        return 0
    sent = 0
    for email in pending:
        failure = await _send(smtp, email, sender)
        await asyncio.to_thread(_record, factory, email.id, failure)
        sent += failure is None
    try:
        await smtp.quit()
    except (SMTPException, OSError):
        smtp.close()
    return sent


def _claim(factory: sessionmaker[Session]) -> list[AccountEmail]:
    # Committed before any network I/O: no transaction stays open across a send.
    with transaction(factory) as session:
        pending = claim_due(session, now=utcnow())
        session.expunge_all()
    return pending


def _client(settings: Settings) -> SMTP:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=password if settings.smtp_username else None,
        timeout=settings.smtp_timeout_seconds,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
    )


async def _send(smtp: SMTP, email: AccountEmail, sender: Address) -> _Failure | None:
    try:
        await smtp.send_message(build(email, sender=sender))
    except NotifyError as exc:
        return _Failure(exc.message, permanent=exc.permanent)
    except (SMTPException, OSError, ValueError) as exc:
        return _Failure(str(exc) or type(exc).__name__)
    return None


def _record(factory: sessionmaker[Session], email_id: str, failure: _Failure | None) -> None:
    now = utcnow()
    with transaction(factory) as session:
        email = session.get(AccountEmail, email_id)
        if email is None:
            return
        email.attempts += 1
        if failure is None:
            email.sent_at = now
            email.last_error = None
            return
        email.last_error = failure.message[:500]
        if failure.permanent or now - email.created_at > GIVE_UP_AFTER:
            # sent_at closes the row: it is never due again, and last_error says why.
            logger.warning("giving up on account email %s: %s", email_id, failure.message)
            email.sent_at = now
            return
        email.next_attempt_at = now + _backoff(email.attempts)
