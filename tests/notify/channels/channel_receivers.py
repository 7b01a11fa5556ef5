"""Real receivers for the channel tests, all on 127.0.0.1, plus sample messages.

`SmtpReceiver` runs aiosmtpd in another process and leaves one JSON file per message
it accepts; `HttpReceiver` is a small asyncio HTTP/1.1 server in the test's own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tocsin.notify.base import Links, Outgoing, Recipient
from tocsin.notify.models import NotificationKind, SubscriberMode

# Addresses the SMTP receiver treats specially (by local part).
REFUSED = "nobody"  # 550 5.1.1 at RCPT
BUSY = "busy"  # 451 at RCPT
RELAY = "relay"  # 550 5.7.1 at RCPT: a policy refusal, not a bad address
SPAM = "spam"  # 554 at end of DATA

_SMTP_SCRIPT = r"""
import asyncio, itertools, json, pathlib, ssl, sys, time
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

out, port, cert = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
numbers = itertools.count()
REPLIES = {
    "nobody": "550 5.1.1 No such user here",
    "busy": "451 4.3.0 Mailbox busy, try again later",
    "relay": "550 5.7.1 Relaying denied",
}

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = REPLIES.get(address.split("@")[0])
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(rcpt.startswith("spam@") for rcpt in envelope.rcpt_tos):
            return "554 5.6.0 Message rejected as spam"
        record = {
            "peer": list(session.peer),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "tls": session.ssl is not None,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        name = f"{time.time_ns()}-{next(numbers):06d}"
        (out / f"{name}.tmp").write_text(json.dumps(record))
        (out / f"{name}.tmp").rename(out / f"{name}.json")
        return "250 Message accepted"

def authenticate(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alice", b"s3cret")
    return AuthResult(success=ok, handled=False)

async def main():
    context = None
    if cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert + "/cert.pem", cert + "/key.pem")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            Handler(), authenticator=authenticate, auth_require_tls=False,
            tls_context=context, require_starttls=context is not None,
        ),
        "127.0.0.1", port, reuse_address=True,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@dataclass
class SmtpReceiver:
    """aiosmtpd in a child process; `messages()` are what it accepted, oldest first."""

    directory: Path
    cert_dir: Path | None = None
    port: int = 0
    process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        cert = str(self.cert_dir) if self.cert_dir else ""
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SMTP_SCRIPT, str(self.directory), str(self.port), cert],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.process = None

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.directory.glob("*.json"))]


def unused_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Answers each path with its `Reply` (200 "ok" by default) and records every request."""

    port: int = 0
    replies: dict[str, Reply] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        try:
            while request := await _read(reader):
                self.requests.append(request)
                await _write(writer, self.replies.get(request.path, Reply()))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)


async def _read(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    line, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = line.split(" ")
    headers = {k.lower(): v for k, v in (h.split(": ", 1) for h in lines if h)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, path, headers, body)


async def _write(writer: asyncio.StreamWriter, reply: Reply) -> None:
    await asyncio.sleep(reply.delay)
    lines = [f"HTTP/1.1 {reply.status} Status", f"Content-Length: {len(reply.body)}"]
    lines += [f"{name}: {value}" for name, value in reply.headers]
    writer.write("\r\n".join([*lines, "", ""]).encode() + reply.body)
    await writer.drain()


@contextlib.asynccontextmanager
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    receiver = HttpReceiver()
    listener = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = listener.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        listener.close()
        for task in list(receiver.tasks):
            task.cancel()
        await asyncio.gather(*receiver.tasks, return_exceptions=True)
        await listener.wait_closed()


# --- sample messages ------------------------------------------------------------------------

BASE = "https://status.acme.test"


def page(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "pg1",
        "name": "Acme Cloud",
        "url": BASE,
        "time_zone": "Europe/Berlin",
        "accent_color": "#d03030",
        "logo_url": "https://cdn.acme.test/logo.png",
        **overrides,
    }


def incident(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "inc1",
        "kind": "incident",
        "name": "Payments API returning errors",
        "status": "investigating",
        "impact": "major",
        "created_at": "2026-02-10T18:40:00+00:00",
        "updated_at": "2026-02-10T18:43:00+00:00",
        "started_at": "2026-02-10T18:35:00+00:00",
        "monitoring_at": None,
        "resolved_at": None,
        "scheduled_for": None,
        "scheduled_until": None,
        "writeup_url": None,
        "has_postmortem": False,
        "components": [{"id": "c1", "name": "API - Payments", "status": "major_outage"}],
        **overrides,
    }


def update(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "up1",
        "status": "investigating",
        "body": "We are **investigating** errors.\n\n- card payments\n- refunds",
        "display_at": "2026-02-10T18:43:00+00:00",
        "created_at": "2026-02-10T18:43:00+00:00",
        "affected_components": [
            {
                "code": "c1",
                "name": "API - Payments",
                "old_status": "operational",
                "new_status": "major_outage",
            }
        ],
        **overrides,
    }


def payload(**parts: Any) -> dict[str, Any]:
    return {"page": page(), "incident": incident(), "update": update(), **parts}


def links(incident_id: str | None = "inc1") -> Links:
    return Links(
        page=f"{BASE}/",
        incident=f"{BASE}/incidents/{incident_id}" if incident_id else None,
        manage=f"{BASE}/subscriptions/sub1?token=manage.tok",
        unsubscribe=f"{BASE}/subscriptions/unsubscribe/sub1?token=unsub.tok",
        confirm=f"{BASE}/subscriptions/confirm/sub1?token=1771000000.conf",
    )


def outgoing(
    mode: SubscriberMode = SubscriberMode.EMAIL,
    *,
    kind: NotificationKind = NotificationKind.INCIDENT_CREATED,
    data: dict[str, Any] | None = None,
    email: str | None = "bob@example.test",
    endpoint: str | None = None,
    phone: str | None = "+15005550006",
    attempt: int = 1,
) -> Outgoing:
    return Outgoing(
        delivery_id=42,
        idempotency_key="notif1.sub1",
        kind=kind,
        payload=payload() if data is None else data,
        recipient=Recipient("sub1", mode, email, endpoint, phone),
        links=links(),
        attempt=attempt,
    )


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)
