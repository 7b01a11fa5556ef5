"""Account emails (invitations, resets) sent by the worker to a real SMTP server (aiosmtpd
in another process, the receiver of the notification tests)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import importlib.util
import sys
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from conftest import Persona
from tocsin.accounts import invites, mailer
from tocsin.accounts.models import AccountEmail, Role
from tocsin.audit.service import CLI
from tocsin.db import utcnow
from tocsin.pages.models import Page
from tocsin.settings import Settings


def _receivers() -> ModuleType:
    """tests/notify/channels/channel_receivers.py, which is not on this directory's path."""
    name = "channel_receivers"
    if name not in sys.modules:
        path = Path(__file__).parents[1] / "notify" / "channels" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


receivers = _receivers()


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    receiver = receivers.SmtpReceiver(tmp_path_factory.mktemp("smtp"))
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def inbox(smtp: Any) -> Any:
    for path in smtp.directory.glob("*.json"):
        path.unlink()
    return smtp


def configured(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "email_from": "status@acme.test"}
    )


def queue_invitation(session: Session, page: Page) -> tuple[str, str]:
    """Invite nina; return the queued email's id and the invitation's token."""
    created = invites.invite(
        session,
        page=page,
        email="nina@example.com",
        role=Role.EDITOR,
        base_url="https://status.acme.test",
        now=utcnow(),
        actor=CLI,
        acting_role=Role.OWNER,
    )
    session.commit()
    queued = session.scalars(
        select(AccountEmail).where(AccountEmail.subject.startswith("You are invited"))
    ).one()
    return queued.id, created.token


def row(session: Session, email_id: str) -> AccountEmail:
    session.expire_all()
    return session.get_one(AccountEmail, email_id)


def parsed(received: dict[str, Any]) -> EmailMessage:
    message = email.message_from_string(received["data"], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def send(factory: sessionmaker[Session], settings: Settings) -> int:
    return asyncio.run(mailer.send_due(factory, settings))


def test_a_queued_invitation_is_sent_and_marked_sent(
    factory: sessionmaker[Session],
    session: Session,
    settings: Settings,
    alice: Persona,
    page: Page,
    inbox: Any,
) -> None:
    email_id, token = queue_invitation(session, page)
    assert send(factory, configured(settings, inbox.port)) == 1
    [received] = inbox.messages()
    assert received["rcpt_tos"] == ["nina@example.com"]
    message = parsed(received)
    assert message["Subject"] == f"You are invited to manage {page.name}'s status page"
    assert message["From"] == "Tocsin <status@acme.test>"
    assert email_id in message["Message-ID"]
    assert f"https://status.acme.test/admin/invitations/{token}" in message.get_content()
    sent = row(session, email_id)
    assert sent.sent_at is not None
    assert sent.attempts == 1
    assert send(factory, configured(settings, inbox.port)) == 0
    assert len(inbox.messages()) == 1


def test_with_smtp_down_an_email_is_retried_later_not_lost(
    factory: sessionmaker[Session],
    session: Session,
    settings: Settings,
    alice: Persona,
    page: Page,
    tmp_path: Path,
) -> None:
    port = receivers.unused_port()
    email_id, token = queue_invitation(session, page)
    assert send(factory, configured(settings, port)) == 0
    failed = row(session, email_id)
    assert failed.sent_at is None
    assert failed.attempts == 1
    assert failed.last_error is not None
    assert failed.last_error.startswith("cannot reach the SMTP server")
    assert failed.next_attempt_at > utcnow() + timedelta(seconds=5)
    receiver = receivers.SmtpReceiver(tmp_path / "mail", port=port)
    receiver.start()
    try:
        # Back, but the email waits for its next attempt rather than hammering the server.
        assert send(factory, configured(settings, port)) == 0
        with time_machine.travel(failed.next_attempt_at + timedelta(seconds=1), tick=True):
            assert send(factory, configured(settings, port)) == 1
        [received] = receiver.messages()
        assert token in parsed(received).get_content()
    finally:
        receiver.stop()
    sent = row(session, email_id)
    assert sent.sent_at is not None
    assert sent.attempts == 2
    assert sent.last_error is None


def test_an_email_claimed_by_one_worker_is_not_taken_by_another(
    factory: sessionmaker[Session], session: Session, alice: Persona, page: Page
) -> None:
    email_id, _ = queue_invitation(session, page)
    now = utcnow()
    with factory.begin() as first:
        assert [e.id for e in mailer.claim_due(first, now=now)] == [email_id]
    with factory.begin() as second:
        assert mailer.claim_due(second, now=now) == []
    # A worker that died holding it: after the lease, it is taken again.
    with factory.begin() as third:
        later = now + mailer.LEASE + timedelta(seconds=1)
        assert [e.id for e in mailer.claim_due(third, now=later)] == [email_id]


def test_an_address_that_cannot_be_used_is_given_up_without_blocking_the_rest(
    factory: sessionmaker[Session],
    session: Session,
    settings: Settings,
    alice: Persona,
    page: Page,
    inbox: Any,
) -> None:
    bad = invites.queue_email(
        session, to="nina@example.com\r\nBcc: x@evil.example", subject="Hi", body="Hello"
    )
    session.commit()
    email_id, _ = queue_invitation(session, page)
    assert send(factory, configured(settings, inbox.port)) == 1
    assert [m["rcpt_tos"] for m in inbox.messages()] == [["nina@example.com"]]
    given_up = row(session, bad.id)
    assert given_up.sent_at is not None
    assert given_up.last_error is not None
    assert "no valid email address" in given_up.last_error
    assert row(session, email_id).sent_at is not None
