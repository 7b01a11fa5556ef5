"""The one HTTP client for every outbound request (webhooks, chat channels, SMS, monitors).

The address policy is enforced in the network backend, below httpx: each new connection
resolves its host once, checks every resolved address, then connects to a checked address.
Nothing resolves the name again between check and connect, so DNS rebinding has nothing to
swap, and redirects and literal-IP URLs (`http://2130706433/`) take the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import select
import socket
import ssl
from collections.abc import Iterable, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import anyio
import httpcore
import httpx

from tocsin import __version__
from tocsin.lib.netpolicy import IPAddress, IPNetwork, Policy

DEFAULT_USER_AGENT = f"Tocsin/{__version__}"
DEFAULT_MAX_BODY = 64 * 1024

_SCHEMES = frozenset({"http", "https"})
# The first entry found anywhere in the exception chain names the failure, so the most
# specific causes come first.
_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (ssl.SSLCertVerificationError, "TLS certificate verify failed"),
    (ssl.SSLError, "TLS handshake failed"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (httpx.RemoteProtocolError, "invalid HTTP response"),
    (httpx.DecodingError, "could not decode the response body"),
    (httpx.ConnectError, "connection failed"),
    (httpx.ReadError, "connection lost while reading the response"),
    (httpx.WriteError, "connection lost while sending the request"),
)


class OutboundError(Exception):
    """An outbound request failed. `permanent` means retrying the same request cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def make_client(
    *,
    allow_private: bool,
    timeout: float,
    user_agent: str = DEFAULT_USER_AGENT,
    max_redirects: int = 3,
    verify: bool | ssl.SSLContext = True,
    allowed_networks: Iterable[IPNetwork] = (),
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """A client whose every connection obeys the address policy; send through `request()`.

    `timeout` bounds each phase (connect, read, write, pool) and, in `request()`, the whole
    exchange. `verify` may be an SSLContext to trust a private CA. The client keeps no
    cookies and ignores proxy and certificate settings in the environment.
    """
    policy = Policy(allow_private=allow_private, allowed_networks=tuple(allowed_networks))
    return httpx.AsyncClient(
        transport=_transport(policy, verify=verify, limits=limits or httpx.Limits()),
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent},
        follow_redirects=False,
        max_redirects=max_redirects,
        trust_env=False,
        # One client serves unrelated destinations, so it must not carry state between them.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | str | None = None,
    json: Any = None,
    timeout: float | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> httpx.Response:
    """Send a request, following up to `client.max_redirects` redirects, each re-checked.

    `timeout` (default: the client's) bounds the whole exchange: every hop, connect, TLS and
    the body, so a server dripping one byte at a time cannot hold a worker. The body is read
    into memory and cut at `max_body` bytes. HTTP error statuses are returned, not raised;
    see `raise_for_status`. Raise OutboundError when no response was obtained.
    """
    deadline = client.timeout.read if timeout is None else timeout
    per_phase = httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout)
    try:
        first = client.build_request(
            method, url, headers=headers, content=content, json=json, timeout=per_phase
        )
        # asyncio's own timeout: anyio's cancel scope cost a tenth of a webhook's CPU.
        async with asyncio.timeout(deadline):
            return await _follow(client, first, max_body)
    except TimeoutError as exc:
        raise _timed_out(deadline) from exc
    except httpx.InvalidURL as exc:
        raise OutboundError(f"invalid URL: {exc}", permanent=True) from exc
    except httpx.HTTPError as exc:
        raise describe(exc, deadline) from exc


def raise_for_status(response: httpx.Response) -> None:
    """Raise OutboundError for a 4xx/5xx response; 4xx is permanent except 408, 425 and 429."""
    code = response.status_code
    if code < 400:
        return
    permanent = code < 500 and code not in (408, 425, 429)
    raise OutboundError(f"HTTP {code} {response.reason_phrase}".rstrip(), permanent=permanent)


def describe(exc: BaseException, timeout: float | None) -> OutboundError:
    """Map an httpx/httpcore exception to an OutboundError with a short human message."""
    if isinstance(exc, OutboundError):
        return exc
    if isinstance(exc, httpx.TimeoutException | httpcore.TimeoutException):
        return _timed_out(timeout)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return _bad_scheme()
    chain = _chain(exc)
    for kind, message in _CAUSES:
        if any(isinstance(cause, kind) for cause in chain):
            return OutboundError(message, permanent=False)
    # Not str(exc): some httpx messages quote the URL, which may carry a token.
    return OutboundError(f"request failed ({type(exc).__name__})", permanent=False)


async def _follow(client: httpx.AsyncClient, first: httpx.Request, max_body: int) -> httpx.Response:
    history: list[httpx.Response] = []
    current = first
    while True:
        if current.url.scheme not in _SCHEMES:
            raise _bad_scheme()
        response = await client.send(current, stream=True)
        if not response.has_redirect_location:
            return await _read_capped(response, history, max_body)
        await response.aclose()
        if len(history) >= client.max_redirects:
            raise OutboundError("too many redirects", permanent=True)
        history.append(response)
        current = _redirect(current, response)


def _redirect(previous: httpx.Request, response: httpx.Response) -> httpx.Request:
    url = previous.url.join(response.headers["Location"])
    method = _redirect_method(previous.method, response.status_code)
    headers = previous.headers.copy()
    for name in ("Host", "Content-Length", "Transfer-Encoding"):
        headers.pop(name, None)
    if _origin(url) != _origin(previous.url):
        headers.pop("Authorization", None)
        headers.pop("Cookie", None)
    content = previous.content if method == previous.method else None
    return httpx.Request(
        method, url, headers=headers, content=content, extensions=previous.extensions
    )


def _redirect_method(method: str, status: int) -> str:
    # What browsers and httpx do: 303 means "now GET it", and 301/302 turn a POST into a GET.
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return "GET"
    return method


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


async def _read_capped(
    response: httpx.Response, history: list[httpx.Response], max_body: int
) -> httpx.Response:
    response.history = history
    declared = response.headers.get("Content-Length", "")
    if (
        declared.isdigit()
        and int(declared) < max_body
        and "Content-Encoding" not in response.headers
    ):
        # The common case, a small plain body: read as it is, no copy of the response.
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= max_body:
                break
    finally:
        await response.aclose()
    # aiter_bytes() has already undone any Content-Encoding.
    headers = response.headers.copy()
    headers.pop("Content-Encoding", None)
    capped = httpx.Response(
        response.status_code,
        headers=headers,
        content=bytes(body[:max_body]),
        request=response.request,
        extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
    )
    capped.history = history
    capped.elapsed = response.elapsed
    return capped


def _transport(
    policy: Policy, *, verify: bool | ssl.SSLContext, limits: httpx.Limits
) -> httpx.AsyncHTTPTransport:
    ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False, limits=limits)
    # httpx 0.28 has no public way to pass a network backend, so replace the pool it built
    # with an identical one that connects through ours. tests/lib/test_http.py fails loudly
    # if a future httpx stops using `_pool`.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_PinnedBackend(policy),
    )
    return transport


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolve once, check every address, connect to a checked address.

    The connect timeout covers the lookup and every connection attempt together.
    httpcore hands the URL's host to `start_tls` separately, so TLS still verifies the
    certificate against the name while the socket goes to the pinned IP.
    """

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._checked_addresses(host, port)
                return await self._connect_any(addresses, port, local_address, socket_options)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connect to {host} timed out") from exc

    async def _checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            addresses = await _resolve(host, port)
        except OSError as exc:
            raise OutboundError(f"could not resolve {host}", permanent=False) from exc
        # Refuse the whole name if any answer is forbidden, rather than trying only the good
        # ones: a name mixing public and private answers is a rebinding setup or a
        # misconfiguration, and the outcome should not depend on answer order.
        for ip in addresses:
            reason = self._policy.check(ip)
            if reason is not None:
                raise OutboundError(f"refused: {ip} is {reason}", permanent=True)
        return addresses

    async def _connect_any(
        self,
        addresses: list[IPAddress],
        port: int,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.AsyncNetworkStream:
        error: OSError | None = None
        local = None if local_address is None else (local_address, 0)
        for ip in addresses:
            try:
                reader, writer = await asyncio.open_connection(str(ip), port, local_addr=local)
            except OSError as exc:
                error = exc
                continue
            raw = writer.get_extra_info("socket")
            for option in socket_options or ():
                raw.setsockopt(*option)
            return _Stream(reader, writer)
        if isinstance(error, ConnectionRefusedError):
            # Said here: httpcore's pool re-raises `from None`, which drops the cause.
            raise OutboundError("connection refused", permanent=False)
        raise httpcore.ConnectError(str(error or "no addresses to connect to")) from error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundError("refused: unix sockets are not allowed", permanent=True)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Stream(httpcore.AsyncNetworkStream):
    """A connection on asyncio's own streams.

    httpcore's default stream goes through anyio, which wraps every read and write in a
    cancel scope and an exception map and adds a checkpoint: about a third of the CPU a
    webhook costs. This one bounds each operation with `asyncio.timeout` alone.

    It also answers httpcore's liveness check cheaply. Before placing each request,
    httpcore asks every pooled connection whether it has turned readable (the server hung
    up); anyio answered by building a dict of all the socket's attributes, a `getpeername`
    call included.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._poller = select.poll()
        raw = writer.get_extra_info("socket")
        if raw is not None:
            self._poller.register(raw.fileno(), select.POLLIN)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("timed out reading") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("timed out writing") from exc
        except (OSError, RuntimeError) as exc:
            # RuntimeError: asyncio's "unable to perform operation on a closed transport".
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await self._writer.wait_closed()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from exc
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(str(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Readable when a read would not block: buffered data or the peer's close,
            # which asyncio may already have taken off the socket, or the socket's own.
            if self._writer.is_closing() or self._reader.at_eof():
                return True
            return bool(self._poller.poll(0))
        names = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }
        return self._writer.get_extra_info(names[info]) if info in names else None


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in resolver order, without duplicates."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _timed_out(timeout: float | None) -> OutboundError:
    return OutboundError(
        f"timed out after {timeout:g} s" if timeout else "timed out", permanent=False
    )


def _bad_scheme() -> OutboundError:
    return OutboundError("refused: only http and https URLs are allowed", permanent=True)
