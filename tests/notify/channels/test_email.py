"""Email against a real SMTP server (aiosmtpd in another process) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from channel_receivers import (
    BUSY,
    REFUSED,
    RELAY,
    SPAM,
    SmtpReceiver,
    incident,
    links,
    outgoing,
    page,
    payload,
    unused_port,
    update,
)

from tocsin.notify.base import NotifyError
from tocsin.notify.channels import build_notifiers
from tocsin.notify.channels.email import EmailNotifier, TlsMode
from tocsin.notify.models import NotificationKind, SubscriberMode
from tocsin.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(tmp_path_factory.mktemp("smtp"))
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def inbox(smtp: SmtpReceiver) -> SmtpReceiver:
    """The module's server, with what earlier tests left in it cleared away."""
    for path in smtp.directory.glob("*.json"):
        path.unlink()
    return smtp


def notifier(port: int, **overrides: Any) -> EmailNotifier:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "Status <status@acme.test>",
        "timeout": 5.0,
        **overrides,
    }
    return EmailNotifier(**options)


@pytest.fixture
async def mailer(inbox: SmtpReceiver) -> AsyncIterator[EmailNotifier]:
    sender = notifier(inbox.port)
    yield sender
    await sender.aclose()


def parsed(record: dict[str, Any]) -> EmailMessage:
    message = email.message_from_string(record["data"], policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


async def test_it_sends_text_and_html_alternatives_with_list_headers(
    mailer: EmailNotifier, inbox: SmtpReceiver
) -> None:
    await mailer.send(outgoing())

    [record] = inbox.messages()
    assert record["mail_from"] == "status@acme.test"
    assert record["rcpt_tos"] == ["bob@example.test"]
    message = parsed(record)
    assert message["Subject"] == "[Acme Cloud] Investigating: Payments API returning errors"
    assert message["From"] == "Acme Cloud <status@acme.test>"
    assert message["To"] == "bob@example.test"
    assert message["Message-ID"] == "<notif1.sub1@acme.test>"
    assert message["List-Unsubscribe"] == (
        "<https://status.acme.test/subscriptions/unsubscribe/sub1?token=unsub.tok>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "Acme Cloud <pg1.acme.test>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Tocsin-Delivery"] == "42"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    assert "We are investigating errors." in text
    assert "- card payments" in text
    assert "API - Payments: Operational → Major outage" in text
    assert "Posted: Tue, Feb 10, 2026, 07:43 PM CET" in text
    assert "https://status.acme.test/incidents/inc1" in text
    assert "Unsubscribe: https://status.acme.test/subscriptions/unsubscribe/sub1" in text
    assert "<strong>investigating</strong>" in html
    assert "border-top:4px solid #d03030" in html
    assert 'src="https://cdn.acme.test/logo.png"' in html


async def test_recipients_of_one_notification_each_get_their_own_links(
    mailer: EmailNotifier, inbox: SmtpReceiver
) -> None:
    shared = payload()
    ann, bob = (
        replace(
            outgoing(email=f"{name}@example.test", data=shared),
            idempotency_key=f"notif1.{name}",
            links=replace(
                links(),
                manage=f"https://status.acme.test/subscriptions/{name}?token=m-{name}",
                unsubscribe=f"https://status.acme.test/subscriptions/unsubscribe/{name}?token=u-{name}",
            ),
        )
        for name in ("ann", "bob")
    )

    await mailer.send(ann)
    await mailer.send(bob)

    for record, name, other in zip(inbox.messages(), ("ann", "bob"), ("bob", "ann"), strict=True):
        message = parsed(record)
        assert (message["To"], message["Message-ID"]) == (
            f"{name}@example.test",
            f"<notif1.{name}@acme.test>",
        )
        assert f"token=u-{name}>" in message["List-Unsubscribe"]
        text, html = parts(message)
        for part in (text, html):
            assert f"token=m-{name}" in part and f"token=u-{name}" in part
            assert f"-{other}" not in part


async def test_it_keeps_the_message_id_on_every_retry(
    mailer: EmailNotifier, inbox: SmtpReceiver
) -> None:
    await mailer.send(outgoing(attempt=1))
    await mailer.send(outgoing(attempt=2))

    first, second = (parsed(r) for r in inbox.messages())
    assert first["Message-ID"] == second["Message-ID"] == "<notif1.sub1@acme.test>"


async def test_it_keeps_a_long_unsubscribe_url_usable(
    mailer: EmailNotifier, inbox: SmtpReceiver
) -> None:
    long_url = "https://status.acme.test/subscriptions/unsubscribe/sub1?token=" + "x" * 150
    message = replace(outgoing(), links=replace(links(), unsubscribe=long_url))

    await mailer.send(message)

    raw = inbox.messages()[0]["data"]
    assert f"List-Unsubscribe: <{long_url}>" in raw.splitlines()


async def test_a_page_name_cannot_inject_headers(
    mailer: EmailNotifier, inbox: SmtpReceiver
) -> None:
    data = payload(page=page(name="Acme\r\nBcc: victim@evil.test\r\n"))
    data["incident"] = incident(name="Down\nX-Injected: yes")

    await mailer.send(outgoing(data=data))

    [record] = inbox.messages()
    assert record["rcpt_tos"] == ["bob@example.test"]
    message = parsed(record)
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert message["Subject"] == "[Acme Bcc: victim@evil.test] Investigating: Down X-Injected: yes"
    assert "\n" not in str(message["From"])


async def test_it_escapes_html_in_user_text(mailer: EmailNotifier, inbox: SmtpReceiver) -> None:
    data = payload(page=page(name="<b>Acme</b>", accent_color="red;background:url(x)"))
    data["update"] = update(body="<script>alert(1)</script> [x](javascript:alert(1))")

    await mailer.send(outgoing(data=data))

    _, html = parts(parsed(inbox.messages()[0]))
    assert "<script>" not in html
    assert 'href="javascript' not in html
    assert "&lt;b&gt;Acme&lt;/b&gt;" in html
    assert "url(x)" not in html


async def test_the_confirmation_carries_the_confirm_link_and_says_why(
    mailer: EmailNotifier, inbox: SmtpReceiver
) -> None:
    message = outgoing(kind=NotificationKind.CONFIRM_SUBSCRIPTION, data={"page": page()})

    await mailer.send(message)

    parsed_message = parsed(inbox.messages()[0])
    assert parsed_message["Subject"] == "[Acme Cloud] Confirm your subscription"
    text, html = parts(parsed_message)
    confirm = "https://status.acme.test/subscriptions/confirm/sub1?token=1771000000.conf"
    assert confirm in text
    assert f'href="{confirm}"' in html
    assert "asked to receive status updates from Acme Cloud" in text
    assert "ignore this email" in text


async def test_it_reuses_a_few_connections_for_concurrent_sends(inbox: SmtpReceiver) -> None:
    sender = notifier(inbox.port, pool_size=2)
    try:
        await asyncio.gather(
            *(sender.send(outgoing(email=f"user{i}@example.test")) for i in range(12))
        )
    finally:
        await sender.aclose()

    records = inbox.messages()
    assert sorted(r["rcpt_tos"][0] for r in records) == sorted(
        f"user{i}@example.test" for i in range(12)
    )
    assert len({tuple(r["peer"]) for r in records}) <= 2


async def test_a_refused_recipient_is_permanent_and_the_connection_survives(
    mailer: EmailNotifier, inbox: SmtpReceiver
) -> None:
    with pytest.raises(NotifyError) as caught:
        await mailer.send(outgoing(email=f"{REFUSED}@example.test"))
    assert caught.value.permanent
    assert caught.value.message == "SMTP 550 5.1.1 No such user here"

    await mailer.send(outgoing())
    assert len(inbox.messages()) == 1


@pytest.mark.parametrize(
    ("local", "reply"),
    [
        (BUSY, "SMTP 451 4.3.0 Mailbox busy, try again later"),
        (RELAY, "SMTP 550 5.7.1 Relaying denied"),
        (SPAM, "SMTP 554 5.6.0 Message rejected as spam"),
    ],
)
async def test_other_refusals_are_temporary(
    mailer: EmailNotifier, inbox: SmtpReceiver, local: str, reply: str
) -> None:
    with pytest.raises(NotifyError) as caught:
        await mailer.send(outgoing(email=f"{local}@example.test"))
    assert not caught.value.permanent
    assert caught.value.message == reply


async def test_a_server_that_is_down_is_a_temporary_error() -> None:
    sender = notifier(unused_port())
    with pytest.raises(NotifyError) as caught:
        await sender.send(outgoing())
    assert not caught.value.permanent
    assert caught.value.message.startswith("could not reach the SMTP server")


async def test_a_silent_server_times_out_as_a_temporary_error() -> None:
    # A listening socket nobody accepts from: the kernel completes the handshake and
    # the greeting never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        sender = notifier(silent.getsockname()[1], timeout=0.3)
        with pytest.raises(NotifyError) as caught:
            await sender.send(outgoing())
    assert not caught.value.permanent
    assert caught.value.message == "SMTP timed out after 0.3 s"


async def test_it_reconnects_after_the_server_restarts(tmp_path: Path) -> None:
    receiver = SmtpReceiver(tmp_path / "mail")
    receiver.start()
    sender = notifier(receiver.port)
    try:
        await sender.send(outgoing())
        receiver.stop()
        receiver.start()  # same port, new process: the pooled connection is dead
        await sender.send(outgoing(email="carol@example.test"))
    finally:
        await sender.aclose()
        receiver.stop()

    assert [r["rcpt_tos"] for r in receiver.messages()] == [
        ["bob@example.test"],
        ["carol@example.test"],
    ]


async def test_it_logs_in_when_a_username_is_set(inbox: SmtpReceiver) -> None:
    sender = notifier(inbox.port, username="alice", password="s3cret")
    try:
        await sender.send(outgoing())
    finally:
        await sender.aclose()
    assert inbox.messages()[0]["authenticated"] is True


async def test_a_bad_login_is_temporary_not_the_subscribers_fault(inbox: SmtpReceiver) -> None:
    sender = notifier(inbox.port, username="alice", password="wrong")
    with pytest.raises(NotifyError) as caught:
        await sender.send(outgoing())
    assert not caught.value.permanent
    assert caught.value.message.startswith("SMTP 535")


@pytest.mark.parametrize("tls", ["tls", "starttls"])
async def test_tls_modes_fail_against_a_plain_server(inbox: SmtpReceiver, tls: TlsMode) -> None:
    sender = notifier(inbox.port, tls=tls, timeout=2.0)
    with pytest.raises(NotifyError) as caught:
        await sender.send(outgoing())
    assert not caught.value.permanent
    assert inbox.messages() == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cert")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    return directory


async def test_it_upgrades_with_starttls(tmp_path: Path, certificate: Path) -> None:
    receiver = SmtpReceiver(tmp_path / "mail", cert_dir=certificate)
    receiver.start()
    trust = ssl.create_default_context(cafile=certificate / "cert.pem")
    sender = notifier(receiver.port, tls="starttls", tls_context=trust)
    try:
        await sender.send(outgoing())
    finally:
        await sender.aclose()
        receiver.stop()
    assert receiver.messages()[0]["tls"] is True


async def test_an_invalid_address_is_permanent(mailer: EmailNotifier) -> None:
    for bad in (None, "no-at-sign", "a@b.test>\r\nRCPT TO:<c@d.test"):
        with pytest.raises(NotifyError) as caught:
            await mailer.send(outgoing(email=bad))
        assert caught.value.permanent


async def test_without_a_smtp_host_sends_fail_temporarily() -> None:
    sender = EmailNotifier(host=None, port=25, sender="status@acme.test")
    with pytest.raises(NotifyError) as caught:
        await sender.send(outgoing())
    assert not caught.value.permanent


async def test_it_is_built_from_settings(inbox: SmtpReceiver, tmp_path: Path) -> None:
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=inbox.port,
        email_from="status@acme.test",
        secret_key="k" * 40,
        var_dir=tmp_path,
    )
    notifiers = build_notifiers(settings, modes=[SubscriberMode.EMAIL])
    try:
        await notifiers[SubscriberMode.EMAIL].send(outgoing())
    finally:
        await notifiers[SubscriberMode.EMAIL].aclose()
    assert parsed(inbox.messages()[0])["From"] == "Acme Cloud <status@acme.test>"
