"""The outbound client against real sockets; all traffic stays on 127.0.0.1 and 127.0.0.2.

The only stand-in is the resolver (`http._resolve`), the network boundary, for names that
must resolve to chosen addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tocsin import __version__
from tocsin.lib import http
from tocsin.lib.http import OutboundError, describe, make_client, raise_for_status, request
from tocsin.lib.netpolicy import IPAddress

pytestmark = pytest.mark.anyio

ONLY_127_0_0_1 = (ip_network("127.0.0.1/32"),)


@dataclass
class Reply:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b"ok"
    delay: float = 0.0
    drip: bool = False
    hang_up: bool = False
    """Close the connection after this reply without saying so in a header."""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A minimal HTTP/1.1 server that records every connection and request it gets."""

    host: str
    port: int = 0
    routes: dict[str, Reply] = field(default_factory=dict)
    banner: bytes = b""
    keep_alive: bool = False
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str = "/", *, scheme: str = "http", host: str | None = None) -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    async def assert_untouched(self) -> None:
        """Fail if any connection reached the server before this call.

        Our own probe connection is accepted after any earlier one (the accept queue is
        FIFO), so once the probe is counted, a count above one means something got there.
        """
        _, writer = await asyncio.open_connection(self.host, self.port)
        writer.close()
        await writer.wait_closed()
        with anyio.fail_after(5):
            while self.connections == 0:
                await asyncio.sleep(0.01)
        assert self.connections == 1
        assert self.requests == []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        try:
            writer.write(self.banner)
            while (seen := await _read_request(reader)) is not None:
                self.requests.append(seen)
                reply = self.routes.get(seen.path, Reply())
                await _write_reply(writer, reply, close=not self.keep_alive)
                if not self.keep_alive or reply.hang_up:
                    break
        except (ConnectionError, asyncio.CancelledError):
            # Cancelled at teardown; ending normally keeps asyncio from logging the task.
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
    headers = dict(line.split(": ", 1) for line in lines if line)
    headers = {name.lower(): value for name, value in headers.items()}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Seen(method, path, headers, body)


async def _write_reply(writer: asyncio.StreamWriter, reply: Reply, *, close: bool) -> None:
    await asyncio.sleep(reply.delay)
    lines = [f"HTTP/1.1 {reply.status} Whatever", f"Content-Length: {len(reply.body)}"]
    lines += [f"{name}: {value}" for name, value in reply.headers]
    if close:
        lines.append("Connection: close")
    writer.write(("\r\n".join([*lines, "", ""])).encode())
    chunks = [reply.body[i : i + 1] for i in range(len(reply.body))] if reply.drip else [reply.body]
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        if reply.drip:
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def serving(
    host: str, *, port: int = 0, tls: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    server = Server(host)
    listener = await asyncio.start_server(server.handle, host, port, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for task in list(server.tasks):
            task.cancel()
        await asyncio.gather(*server.tasks, return_exceptions=True)
        await listener.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with serving("127.0.0.1") as running:
        yield running


@pytest.fixture
async def other() -> AsyncIterator[Server]:
    """A second loopback server, forbidden under the ONLY_127_0_0_1 policy."""
    async with serving("127.0.0.2") as running:
        yield running


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, list[str]]], list[str]]:
    """Make names resolve to chosen answers; return the log of names looked up."""
    looked_up: list[str] = []

    def install(answers: dict[str, list[str]]) -> list[str]:
        async def fake_resolve(host: str, port: int) -> list[IPAddress]:
            looked_up.append(host)
            return [ip_address(a) for a in answers[host]]

        monkeypatch.setattr(http, "_resolve", fake_resolve)
        return looked_up

    return install


def client(**overrides: Any) -> httpx.AsyncClient:
    options: dict[str, Any] = {"allow_private": False, "timeout": 5.0, **overrides}
    return make_client(**options)


async def refusal(url: str, **overrides: Any) -> OutboundError:
    async with client(**overrides) as c:
        with pytest.raises(OutboundError) as caught:
            await request(c, "GET", url)
    return caught.value


# --- the address policy at connect time ---------------------------------------------------


async def test_it_refuses_loopback_before_any_byte_is_sent(server: Server) -> None:
    error = await refusal(server.url())
    assert error.message == "refused: 127.0.0.1 is a loopback address"
    assert error.permanent
    await server.assert_untouched()


async def test_it_reaches_loopback_when_private_targets_are_allowed(server: Server) -> None:
    async with client(allow_private=True) as c:
        response = await request(c, "GET", server.url())
    assert (response.status_code, response.text) == (200, "ok")
    assert len(server.requests) == 1


async def test_it_enforces_the_policy_on_the_plain_client_too(server: Server) -> None:
    async with client() as c:
        with pytest.raises(OutboundError, match="loopback"):
            await c.get(server.url())
    await server.assert_untouched()


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("2130706433", "refused: 127.0.0.1 is a loopback address"),
        ("0x7f.1", "refused: 127.0.0.1 is a loopback address"),
        ("0x7f000001", "refused: 127.0.0.1 is a loopback address"),
        ("127.1", "refused: 127.0.0.1 is a loopback address"),
        ("localhost", "refused: 127.0.0.1 is a loopback address"),
        ("[::ffff:127.0.0.1]", "refused: ::ffff:7f00:1 is a loopback address (IPv4-mapped"),
        ("[::ffff:7f00:1]", "refused: ::ffff:7f00:1 is a loopback address (IPv4-mapped"),
        ("[64:ff9b::7f00:1]", "refused: 64:ff9b::7f00:1 is a loopback address (NAT64"),
        ("[::1]", "refused: ::1 is a loopback address"),
        ("0.0.0.0", "refused: 0.0.0.0 is an unspecified address"),
        ("[::]", "refused: :: is an unspecified address"),
        ("0177.0.0.1", "invalid URL"),
    ],
)
async def test_it_refuses_literal_ip_forms(server: Server, host: str, message: str) -> None:
    error = await refusal(server.url(host=host))
    assert error.message.startswith(message)
    assert error.permanent
    await server.assert_untouched()


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://0.0.0.0/"],
)
async def test_it_refuses_metadata_even_when_private_targets_are_allowed(url: str) -> None:
    error = await refusal(url, allow_private=True)
    assert error.message.startswith("refused: ")


# --- DNS: one lookup per connection, every answer checked, the checked address used ---------


async def test_it_refuses_a_name_if_any_answer_is_forbidden(resolver: Any) -> None:
    resolver({"mixed.example.test": ["93.184.215.14", "10.0.0.5"]})
    error = await refusal("http://mixed.example.test/")
    assert error.message == "refused: 10.0.0.5 is a private address"


async def test_it_connects_to_the_address_it_checked(server: Server, resolver: Any) -> None:
    looked_up = resolver({"status.example.test": ["127.0.0.1"]})
    async with client(allowed_networks=ONLY_127_0_0_1) as c:
        response = await request(c, "GET", server.url(host="status.example.test"))
    assert response.status_code == 200
    assert looked_up == ["status.example.test"]
    assert server.requests[0].headers["host"] == f"status.example.test:{server.port}"


async def test_it_leaves_nothing_to_rebind_between_check_and_connect(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first answer is allowed; every later one is the forbidden 127.0.0.2, where a second
    # server listens on the same port. A client that checked one answer and then let the
    # socket layer resolve the name again would land there.
    answers = iter([["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ip_address(a) for a in next(answers, ["127.0.0.2"])]

    monkeypatch.setattr(http, "_resolve", rebinding)
    url = f"http://rebind.example.test:{server.port}/"
    async with serving("127.0.0.2", port=server.port) as other:
        async with client(allowed_networks=ONLY_127_0_0_1) as c:
            assert (await request(c, "GET", url)).status_code == 200
            # The server closed that connection, so the next one resolves and checks again.
            with pytest.raises(OutboundError, match=r"^refused: 127\.0\.0\.2 is a loopback"):
                await request(c, "GET", url)
        await other.assert_untouched()
    assert len(server.requests) == 1


async def test_it_reports_names_that_do_not_resolve() -> None:
    error = await refusal("http://does-not-exist.invalid/")
    assert error.message == "could not resolve does-not-exist.invalid"
    assert not error.permanent


# --- schemes and redirects -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:11211/stat",
        "ldap://127.0.0.1/",
        "ws://127.0.0.1/",
        "javascript:alert(1)",
    ],
)
async def test_it_refuses_non_http_schemes(url: str) -> None:
    error = await refusal(url, allow_private=True)
    assert error.message == "refused: only http and https URLs are allowed"
    assert error.permanent


async def test_it_refuses_a_redirect_to_a_forbidden_address(server: Server, other: Server) -> None:
    server.routes["/"] = Reply(302, (("Location", other.url("/secret")),), b"")
    error = await refusal(server.url(), allowed_networks=ONLY_127_0_0_1)
    assert error.message == "refused: 127.0.0.2 is a loopback address"
    assert len(server.requests) == 1
    await other.assert_untouched()


async def test_it_refuses_a_redirect_to_another_scheme(server: Server) -> None:
    server.routes["/"] = Reply(302, (("Location", "file:///etc/passwd"),), b"")
    error = await refusal(server.url(), allow_private=True)
    assert error.message == "refused: only http and https URLs are allowed"


async def test_it_follows_three_redirects(server: Server, other: Server) -> None:
    server.routes["/"] = Reply(301, (("Location", "/a"),))
    server.routes["/a"] = Reply(302, (("Location", other.url("/b")),))
    other.routes["/b"] = Reply(307, (("Location", server.url("/done")),))
    server.routes["/done"] = Reply(200, body=b"done")
    async with client(allow_private=True) as c:
        response = await request(c, "GET", server.url())
    assert response.text == "done"
    assert [r.status_code for r in response.history] == [301, 302, 307]


async def test_it_refuses_a_fourth_redirect(server: Server) -> None:
    server.routes["/"] = Reply(302, (("Location", "/"),), b"")
    error = await refusal(server.url(), allow_private=True)
    assert (error.message, error.permanent) == ("too many redirects", True)
    assert len(server.requests) == 4


async def test_it_turns_a_post_into_a_get_on_303(server: Server) -> None:
    server.routes["/"] = Reply(303, (("Location", "/next"),), b"")
    async with client(allow_private=True) as c:
        await request(c, "POST", server.url(), content=b"payload")
    first, second = server.requests
    assert (first.method, first.body) == ("POST", b"payload")
    assert (second.method, second.body) == ("GET", b"")
    assert "content-length" not in second.headers


async def test_it_keeps_method_and_body_on_307(server: Server) -> None:
    server.routes["/"] = Reply(307, (("Location", "/next"),), b"")
    async with client(allow_private=True) as c:
        await request(c, "POST", server.url(), json={"a": 1})
    assert [(r.method, r.body) for r in server.requests] == [("POST", b'{"a":1}')] * 2


async def test_it_drops_credentials_when_a_redirect_leaves_the_origin(
    server: Server, other: Server
) -> None:
    server.routes["/"] = Reply(302, (("Location", "/same"),), b"")
    server.routes["/same"] = Reply(302, (("Location", other.url("/away")),), b"")
    secrets = {"Authorization": "Bearer s3cret", "Cookie": "session=1"}
    async with client(allow_private=True) as c:
        await request(c, "GET", server.url(), headers=secrets)
    _, same, away = [*server.requests, *other.requests]
    assert same.headers["authorization"] == "Bearer s3cret"
    assert "authorization" not in away.headers
    assert "cookie" not in away.headers


# --- what every request carries ------------------------------------------------------------


async def test_it_sends_our_user_agent(server: Server) -> None:
    async with client(allow_private=True) as c:
        await request(c, "GET", server.url())
    assert server.requests[0].headers["user-agent"] == f"Tocsin/{__version__}"


async def test_it_ignores_proxies_from_the_environment(
    server: Server, other: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, other.url())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with client(allow_private=True) as c:
        response = await request(c, "GET", server.url())
    assert response.status_code == 200
    await other.assert_untouched()


async def test_it_keeps_no_cookies_between_requests(server: Server) -> None:
    server.routes["/"] = Reply(200, (("Set-Cookie", "session=abc; Path=/"),))
    async with client(allow_private=True) as c:
        await request(c, "GET", server.url())
        await request(c, "GET", server.url())
    assert "cookie" not in server.requests[1].headers


async def test_it_cuts_the_body_at_max_body(server: Server) -> None:
    server.routes["/"] = Reply(200, body=b"x" * 100_000)
    async with client(allow_private=True) as c:
        response = await request(c, "GET", server.url(), max_body=1000)
    assert response.content == b"x" * 1000
    assert response.elapsed.total_seconds() >= 0


# --- kept-alive connections -----------------------------------------------------------------


async def test_it_reuses_a_kept_alive_connection(server: Server) -> None:
    server.keep_alive = True
    async with client(allow_private=True) as c:
        for _ in range(3):
            await request(c, "GET", server.url())
    assert (server.connections, len(server.requests)) == (1, 3)


async def test_it_does_not_reuse_a_connection_the_server_closed_while_idle(
    server: Server,
) -> None:
    server.keep_alive = True
    server.routes["/"] = Reply(hang_up=True)
    async with client(allow_private=True) as c:
        for _ in range(3):
            response = await request(c, "GET", server.url())
            assert response.status_code == 200
            # Long enough for the hang-up to arrive before the next request is placed.
            await asyncio.sleep(0.05)
    assert server.connections == 3


# --- failures map to short messages --------------------------------------------------------


async def test_it_times_out_a_slow_response(server: Server) -> None:
    server.routes["/"] = Reply(delay=5)
    error = await refusal(server.url(), allow_private=True, timeout=0.2)
    assert (error.message, error.permanent) == ("timed out after 0.2 s", False)


async def test_it_times_out_a_server_that_drips_bytes(server: Server) -> None:
    # Each byte arrives well within the read timeout; only the overall deadline stops it.
    server.routes["/"] = Reply(body=b"x" * 100, drip=True)
    async with client(allow_private=True, timeout=2.0) as c:
        with pytest.raises(OutboundError, match=r"^timed out after 0.5 s$"):
            await request(c, "GET", server.url(), timeout=0.5)


async def test_it_times_out_a_hanging_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hanging(host: str, port: int) -> list[IPAddress]:
        await anyio.sleep(10)
        raise AssertionError("unreachable")

    monkeypatch.setattr(http, "_resolve", hanging)
    error = await refusal("http://slow-dns.example.test/", timeout=0.2)
    assert error.message == "timed out after 0.2 s"


async def test_it_reports_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await refusal(f"http://127.0.0.1:{port}/", allow_private=True)
    assert (error.message, error.permanent) == ("connection refused", False)


async def test_it_reports_tls_to_a_plain_http_server(server: Server) -> None:
    server.banner = b"HTTP/1.1 400 Bad Request\r\n\r\n"
    error = await refusal(server.url(scheme="https"), allow_private=True)
    assert error.message == "TLS handshake failed"


async def test_it_reports_an_invalid_http_response(server: Server) -> None:
    server.banner = b"SSH-2.0-OpenSSH_9.6\r\n\r\n"
    error = await refusal(server.url(), allow_private=True)
    assert (error.message, error.permanent) == ("invalid HTTP response", False)


async def test_it_tries_the_next_checked_address_when_one_refuses(
    server: Server, resolver: Any
) -> None:
    # Nothing listens on 127.0.0.2 at this port.
    resolver({"two.example.test": ["127.0.0.2", "127.0.0.1"]})
    async with client(allow_private=True) as c:
        response = await request(c, "GET", server.url(host="two.example.test"))
    assert response.status_code == 200


async def test_it_describes_errors_from_the_plain_client() -> None:
    async with client() as c:
        with pytest.raises(httpx.UnsupportedProtocol) as caught:
            await c.get("ftp://example.com/")
    assert describe(caught.value, 5).message == "refused: only http and https URLs are allowed"


def test_it_keeps_unknown_error_text_out_of_messages() -> None:
    error = describe(httpx.HTTPError("https://hooks.example.com/T0/s3cret"), 5)
    assert error.message == "request failed (HTTPError)"


# --- TLS: the socket goes to the pinned IP, the certificate is checked against the name ----


@pytest.fixture
def certificate(tmp_path: Path) -> Iterator[Path]:
    name = "status.example.test"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "1", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}"),
            *("-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    yield tmp_path


@pytest.fixture
async def tls_server(certificate: Path) -> AsyncIterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    async with serving("127.0.0.1", tls=context) as running:
        yield running


@pytest.mark.parametrize(
    ("name", "outcome"),
    [("status.example.test", "200"), ("other.example.test", "TLS certificate verify failed")],
)
async def test_it_verifies_the_certificate_against_the_url_host(
    tls_server: Server, certificate: Path, resolver: Any, name: str, outcome: str
) -> None:
    resolver({name: ["127.0.0.1"]})
    trust = ssl.create_default_context(cafile=certificate / "cert.pem")
    async with client(allowed_networks=ONLY_127_0_0_1, verify=trust) as c:
        try:
            result = str(
                (await request(c, "GET", tls_server.url(scheme="https", host=name))).status_code
            )
        except OutboundError as error:
            result = error.message
    assert result == outcome


async def test_it_reports_an_untrusted_certificate(tls_server: Server) -> None:
    error = await refusal(tls_server.url(scheme="https"), allow_private=True)
    assert (error.message, error.permanent) == ("TLS certificate verify failed", False)


# --- status mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(400, True), (404, True), (410, True), (408, False), (429, False), (500, False), (503, False)],
)
def test_it_maps_error_statuses(status: int, permanent: bool) -> None:
    with pytest.raises(OutboundError) as caught:
        raise_for_status(httpx.Response(status))
    assert caught.value.permanent is permanent
    assert caught.value.message.startswith(f"HTTP {status} ")


@pytest.mark.parametrize("status", [200, 204, 304])
def test_it_accepts_non_error_statuses(status: int) -> None:
    raise_for_status(httpx.Response(status))
