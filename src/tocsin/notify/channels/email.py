"""Email over SMTP (aiosmtplib), with a small pool of connections kept open between sends.

Each connection carries one transaction at a time, so concurrent sends never interleave
on one socket; a pool of `pool_size` connections lets that many go at once.
"""

from __future__ import annotations

import asyncio
import binascii
import re
import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from typing import Literal, Self

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)
from markupsafe import escape

from tocsin.notify import render
from tocsin.notify.base import Notifier, NotifyError, Outgoing
from tocsin.settings import Settings

TlsMode = Literal["none", "starttls", "tls"]
DELIVERY_HEADER = "X-Tocsin-Delivery"

_UNFOLDED = frozenset({"list-unsubscribe", "message-id"})
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# A dot-atom address, as nearly all are, is already what `Address` would write; only the
# others need the email package's parser, which costs more than the rest of a message.
_NOT_ID = re.compile(r"[^A-Za-z0-9._-]")
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


class _Policy(EmailPolicy):
    """The SMTP policy, except that URL and id headers are never folded.

    CPython folds a header it cannot break at 78 columns into RFC 2047 encoded words,
    which turns a long `List-Unsubscribe` URL into something no client acts on. These
    values are ASCII and were checked for CR/LF when set, so one line is safe.
    """

    def fold(self, name: str, value: str) -> str:
        if name.lower() in _UNFOLDED and str(value).isascii():
            return f"{name}: {value}{self.linesep}"
        folded: str = super().fold(name, value)
        return folded

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() in _UNFOLDED and str(value).isascii():
            return self.fold(name, value).encode("ascii")
        return super().fold_binary(name, value)


_POLICY = _Policy(linesep="\r\n")


class EmailNotifier(Notifier):
    def __init__(
        self,
        *,
        host: str | None,
        port: int,
        sender: str,
        tls: TlsMode = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        pool_size: int = 4,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._tls: TlsMode = tls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._tls_context = tls_context
        self._sender = sender_address(sender)
        self._pool = _Pool(self._connect, pool_size)
        self._drafts = render.Drafts(lambda message: _draft(message, self._sender))

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        password = settings.smtp_password
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.email_from,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            timeout=settings.smtp_timeout_seconds,
            pool_size=settings.delivery_per_destination,
        )

    async def send(self, message: Outgoing) -> None:
        if not self._host:
            raise NotifyError("SMTP is not configured (TOCSIN_SMTP_HOST)")
        draft = self._drafts.get(message)
        data = draft.fill(message, domain=self._sender.domain, now=datetime.now(UTC))
        try:
            await self._pool.send(data, self._sender.addr_spec, str(message.recipient.email))
        except (SMTPException, OSError, ValueError) as exc:
            raise failure(exc, self._timeout) from exc

    async def aclose(self) -> None:
        await self._pool.aclose()

    async def _connect(self) -> SMTP:
        smtp = SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username or None,
            password=self._password if self._username else None,
            timeout=self._timeout,
            use_tls=self._tls == "tls",
            # False, not None: None would upgrade whenever the server offers STARTTLS,
            # and "none" must mean a plain connection.
            start_tls=self._tls == "starttls",
            tls_context=self._tls_context,
        )
        await smtp.connect()
        return smtp


class _Pool:
    """At most `size` connections, opened on demand and kept while they stay healthy."""

    def __init__(self, connect: Callable[[], Awaitable[SMTP]], size: int) -> None:
        self._connect = connect
        self._slots = asyncio.Semaphore(size)
        self._idle: list[SMTP] = []

    async def send(self, data: bytes, sender: str, recipient: str) -> None:
        async with self._slots:
            idle = self._take()
            if idle is not None:
                try:
                    await self._send_on(idle, data, sender, recipient)
                    return
                except SMTPServerDisconnected:
                    # The server closed it while it sat idle, before taking anything
                    # from us; a fresh connection gets the message.
                    pass
            await self._send_on(await self._connect(), data, sender, recipient)

    def _take(self) -> SMTP | None:
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp
            smtp.close()
        return None

    async def _send_on(self, smtp: SMTP, data: bytes, sender: str, recipient: str) -> None:
        try:
            await smtp.sendmail(sender, [recipient], data)
        except (SMTPResponseException, SMTPRecipientsRefused):
            # A refusal leaves the connection usable: aiosmtplib has reset the envelope.
            self._release(smtp)
            raise
        except BaseException:
            smtp.close()
            raise
        self._release(smtp)

    def _release(self, smtp: SMTP) -> None:
        if smtp.is_connected:
            self._idle.append(smtp)
        else:
            smtp.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for smtp in idle:
            try:
                await smtp.quit()
            except (SMTPException, OSError):
                smtp.close()


def failure(exc: BaseException, timeout: float) -> NotifyError:
    """The NotifyError for an SMTP failure.

    Only the recipient's own refusal is permanent, because a permanent error disables
    the subscriber: a bad login, a refused sender or a relay policy is our
    configuration, and one bad message body is not the subscriber's fault either.
    """
    if isinstance(exc, SMTPRecipientsRefused) and exc.recipients:
        return _refused(exc.recipients[0])
    if isinstance(exc, SMTPRecipientRefused):
        return _refused(exc)
    if isinstance(exc, SMTPResponseException):
        return NotifyError(_reply(exc.code, exc.message))
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        return NotifyError(f"SMTP timed out after {timeout:g} s")
    if isinstance(exc, ValueError):
        return NotifyError(f"invalid address: {exc}", permanent=True)
    if isinstance(exc, SMTPServerDisconnected):
        return NotifyError("SMTP server closed the connection")
    if isinstance(exc, OSError | SMTPException):
        return NotifyError(f"could not reach the SMTP server ({type(exc).__name__})")
    return NotifyError(f"SMTP failed ({type(exc).__name__})")


def _refused(exc: SMTPResponseException) -> NotifyError:
    text = exc.message.lower()
    policy = text.startswith("5.7.") or "relay" in text or exc.code in (530, 535)
    permanent = 500 <= exc.code < 600 and not policy
    return NotifyError(_reply(exc.code, exc.message), permanent=permanent)


def _reply(code: int, text: str) -> str:
    return render.clip(render.one_line(f"SMTP {code} {text}"), 300)


def sender_address(value: str) -> Address:
    """The address part of TOCSIN_EMAIL_FROM (`Status <status@x>` or `status@x`)."""
    _, addr = parseaddr(value)
    if "@" not in addr or render.one_line(addr) != addr:
        raise ValueError(f"TOCSIN_EMAIL_FROM is not an email address: {value!r}")
    return Address(addr_spec=addr)


def build_message(message: Outgoing, *, sender: Address, now: datetime | None = None) -> bytes:
    """The message as sent: text and HTML alternatives, and list headers (RFC 2369, 8058).

    `Message-ID` comes from the idempotency key, so every attempt carries the same one.
    Every header value goes through `one_line` or `Address`, so nothing user-written can
    start a new header.
    """
    return _draft(message, sender).fill(message, domain=sender.domain, now=now or datetime.now(UTC))


@dataclass(frozen=True)
class _Marks:
    """Placeholders for what differs per recipient, unguessable so that no update text
    can contain one."""

    manage: str
    unsubscribe: str
    confirm: str
    text: str
    html: str

    @classmethod
    def new(cls) -> _Marks:
        nonce = secrets.token_hex(8)
        return cls(*(f"tocsin{nonce}{slot}" for slot in ("manage", "unsub", "confirm", "t", "h")))


@dataclass(frozen=True)
class _Draft:
    """One notification's email with placeholders for each recipient's links: the
    template and Markdown rendering and the MIME structure are done once, and `fill`
    only substitutes and encodes."""

    marks: _Marks
    head: bytes
    """The shared headers, written by the email package, up to the text part's body."""
    middle: bytes
    tail: bytes
    text: str
    html: str

    def fill(self, message: Outgoing, *, domain: str, now: datetime) -> bytes:
        text, html = self.text, self.html
        for mark, link in self._links(message):
            text = text.replace(mark, link)
            html = html.replace(mark, str(escape(link)))
        return b"".join(
            (
                _recipient_headers(message, domain, now),
                self.head,
                _quoted_printable(text),
                self.middle,
                _quoted_printable(html),
                self.tail,
            )
        )

    def _links(self, message: Outgoing) -> list[tuple[str, str]]:
        links = message.links
        pairs = [(self.marks.manage, links.manage), (self.marks.unsubscribe, links.unsubscribe)]
        if links.confirm is not None:
            pairs.append((self.marks.confirm, links.confirm))
        return pairs


def _draft(message: Outgoing, sender: Address) -> _Draft:
    marks = _Marks.new()
    links = replace(
        message.links,
        manage=marks.manage,
        unsubscribe=marks.unsubscribe,
        confirm=None if message.links.confirm is None else marks.confirm,
    )
    composed = render.compose(replace(message, links=links))
    mime = EmailMessage(policy=_POLICY)
    mime["Subject"] = composed.subject
    mime["From"] = Address(composed.branding.name, sender.username, sender.domain)
    list_id = f"{_id_part(_page_id(message))}.{sender.domain}"
    mime["List-Id"] = f"{_phrase(composed.branding.name)} <{list_id}>"
    mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps mostly-ASCII parts readable in the raw source (and to filters).
    # The multipart boundary (`===…==`) cannot occur in quoted-printable text, where every
    # `=` starts an escape, so the real bodies can replace the placeholders.
    mime.set_content(f"{marks.text}\n", cte="quoted-printable")
    mime.add_alternative(f"{marks.html}\n", subtype="html", cte="quoted-printable")
    head, rest = mime.as_bytes(policy=_POLICY).split(f"{marks.text}\r\n".encode())
    middle, tail = rest.split(f"{marks.html}\r\n".encode())
    return _Draft(
        marks=marks,
        head=head,
        middle=middle,
        tail=tail,
        text=render.email_text(composed),
        html=render.email_html(composed),
    )


def _recipient_headers(message: Outgoing, domain: str, now: datetime) -> bytes:
    return b"".join(
        (
            _header("To", _to(message.recipient.email)),
            _header("Date", format_datetime(now)),
            _header("Message-ID", f"<{_id_part(message.idempotency_key)}@{domain}>"),
            _header("List-Unsubscribe", f"<{render.one_line(message.links.unsubscribe)}>"),
            _header(DELIVERY_HEADER, str(message.delivery_id)),
        )
    )


def _to(email: str | None) -> str:
    if email is not None and _PLAIN_ADDRESS.fullmatch(email):
        return email
    return str(recipient_address(email))


def _header(name: str, value: str) -> bytes:
    # A short ASCII value (or an ASCII one the policy never folds) is written as is by
    # the policy too; only the others need the email package's parsing and folding.
    if value.isascii() and (len(name) + len(value) < 77 or name.lower() in _UNFOLDED):
        return f"{name}: {value}\r\n".encode("ascii")
    return _POLICY.fold_binary(name, _POLICY.header_factory(name, value))


def _quoted_printable(text: str) -> bytes:
    """A part's body as the email package encodes it: UTF-8, CRLF line ends, quoted-printable."""
    return binascii.b2a_qp(b"\r\n".join(text.encode().splitlines()) + b"\r\n", istext=True)


def recipient_address(value: str | None) -> Address:
    """The subscriber's address; raise NotifyError (permanent) if it cannot be one."""
    if not value or render.one_line(value) != value or value.count("@") != 1:
        raise NotifyError("the subscriber has no valid email address", permanent=True)
    try:
        return Address(addr_spec=value)
    except (ValueError, IndexError) as exc:
        raise NotifyError("the subscriber has no valid email address", permanent=True) from exc


def _page_id(message: Outgoing) -> str:
    page = message.payload.get("page")
    return str(page.get("id", "page")) if isinstance(page, dict) else "page"


def _id_part(value: str) -> str:
    """`value` reduced to characters allowed in a Message-ID or List-Id (dot-atom text)."""
    return _NOT_ID.sub("-", value)


def _phrase(name: str) -> str:
    """`name` as a List-Id phrase: a quoted string can't hold the encoded words that
    non-ASCII names need, so drop the characters that would need quoting instead."""
    return re.sub(r"[^\w .-]", "", name).strip() or "Status"
