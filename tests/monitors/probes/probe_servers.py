"""Loopback servers and throwaway certificates for the probe tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    """A minimal HTTP/1.1 server: one request per connection, replies from `routes`."""

    port: int = 0
    scheme: str = "http"
    routes: dict[str, Reply] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            seen = await _read_request(reader)
            if seen is not None:
                self.requests.append(seen)
                await _write_reply(writer, self.routes.get(seen.path, Reply()))
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Seen(method, path, headers, body)


async def _write_reply(writer: asyncio.StreamWriter, reply: Reply) -> None:
    await asyncio.sleep(reply.delay)
    lines = [f"HTTP/1.1 {reply.status} Whatever", f"Content-Length: {len(reply.body)}"]
    lines += [f"{name}: {value}" for name, value in reply.headers]
    writer.write("\r\n".join([*lines, "Connection: close", "", ""]).encode() + reply.body)
    await writer.drain()


@contextlib.asynccontextmanager
async def serving_http(tls: ssl.SSLContext | None = None) -> AsyncIterator[HttpServer]:
    server = HttpServer(scheme="https" if tls else "http")
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for task in list(server.tasks):
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)
        await listener.wait_closed()


@contextlib.asynccontextmanager
async def listening_tcp() -> AsyncIterator[int]:
    """A port that accepts connections and closes them at once."""

    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(close, "127.0.0.1", 0)
    try:
        yield listener.sockets[0].getsockname()[1]
    finally:
        listener.close()
        await listener.wait_closed()


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- certificates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    directory: Path

    @property
    def ca_pem(self) -> str:
        return (self.directory / "ca.pem").read_text()

    def server_context(self, leaf: str) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.directory / f"{leaf}.pem", self.directory / f"{leaf}.key")
        return context


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certs(directory: Path) -> Certs:
    """A test CA and leaves signed by it: `good` (localhost and 127.0.0.1, 30 days) and
    `other` (other.example.test only); `selfsigned` is its own issuer."""
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    d = directory
    _openssl(
        "req", "-x509", *key, "-days", "60", "-subj", "/CN=Tocsin Test CA/O=Tocsin Tests",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
    )  # fmt: skip
    leaves = {"good": "DNS:localhost,IP:127.0.0.1", "other": "DNS:other.example.test"}
    for leaf, names in leaves.items():
        (d / f"{leaf}.ext").write_text(f"subjectAltName={names}\n")
        _openssl(
            "req", *key, "-subj", f"/CN={leaf}.example.test",
            "-keyout", str(d / f"{leaf}.key"), "-out", str(d / f"{leaf}.csr"),
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", str(d / f"{leaf}.csr"), "-days", "30",
            "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-CAcreateserial",
            "-extfile", str(d / f"{leaf}.ext"), "-out", str(d / f"{leaf}.pem"),
        )  # fmt: skip
    _openssl(
        "req", "-x509", *key, "-days", "30", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(d / "selfsigned.key"), "-out", str(d / "selfsigned.pem"),
    )  # fmt: skip
    return Certs(directory)
