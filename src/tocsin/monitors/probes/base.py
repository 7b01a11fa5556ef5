"""What every probe returns, and the network helpers the socket-level probes share."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from tocsin.lib.netpolicy import IPAddress, Policy


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one check.

    `error` is a short human message when `ok` is False (and may carry a warning when it is
    True). `details` holds per-kind facts and is JSON-serialisable; neither field ever
    contains a response body.
    """

    ok: bool
    latency_ms: float | None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ProbeConfigError(Exception):
    """The kind, target or config of a monitor is invalid; running it again cannot help."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProbeError(Exception):
    """A check failed before it got an answer; the message becomes `ProbeResult.error`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading), rounded to 0.01 ms."""
    return round((time.perf_counter() - started) * 1000, 2)


def split_host_port(target: str, *, default_port: int | None) -> tuple[str, int]:
    """Split `host:port`, `[v6]:port`, a bare IPv6 address or (with a default) a bare host."""
    host, sep, port = target.rpartition(":")
    if target.startswith("[") and "]" in target:
        bracketed, _, rest = target[1:].partition("]")
        host, sep, port = bracketed, rest[:1], rest[1:]
    elif not sep or ":" in host:
        # No colon, or several: a bare host name or bare IPv6 address.
        host, port = target, ""
    if not port:
        if default_port is None:
            raise ProbeConfigError(f"expected host:port, got {target!r}")
        return _checked_host(host), default_port
    if sep != ":" or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProbeConfigError(f"invalid port in {target!r}")
    return _checked_host(host), int(port)


def _checked_host(host: str) -> str:
    if not host or len(host) > 253 or any(c.isspace() or c in "/@?#[]" for c in host):
        raise ProbeConfigError(f"invalid host {host!r}")
    return host


async def resolve_allowed(host: str, port: int, policy: Policy) -> list[IPAddress]:
    """Every address of `host`, after checking each against `policy`.

    The whole name is refused if any address is, as lib/http does: a name mixing public and
    private answers is a rebinding setup or a misconfiguration, and the outcome should not
    depend on answer order. Callers connect to these addresses, never to the name again.
    """
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        # UnicodeError: the IDNA codec refuses the name (an empty or over-long label).
        raise ProbeError(f"could not resolve {host}") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    for ip in addresses:
        reason = policy.check(ip)
        if reason is not None:
            raise ProbeError(f"refused: {ip} is {reason}")
    return addresses


async def connect_any(
    addresses: list[IPAddress], port: int
) -> tuple[anyio.abc.SocketStream, IPAddress]:
    """Connect to the first address that accepts; raise ProbeError naming the last failure."""
    last: OSError | None = None
    for ip in addresses:
        try:
            return await anyio.connect_tcp(str(ip), port), ip
        except OSError as exc:
            last = exc
    raise ProbeError(describe_os_error(last))


def describe_os_error(exc: OSError | None) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    # anyio wraps per-address failures in an OSError whose cause names the real one.
    cause = exc.__cause__ if exc is not None else None
    if isinstance(cause, OSError) and cause is not exc:
        return describe_os_error(cause)
    if exc is not None and exc.strerror:
        return f"connection failed ({exc.strerror.lower()})"
    return "connection failed"


def timed_out(timeout: float) -> str:
    return f"timed out after {timeout:g} s"
