"""The TCP check against a real listener and a closed port on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from probe_servers import closed_port, listening_tcp

from tocsin.monitors.probes import ProbeConfigError, ProbeResult, run_probe

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 2, 10, 17, 6, tzinfo=UTC)


async def check(target: str, allow_private: bool = True, **config: Any) -> ProbeResult:
    return await run_probe("tcp", target, config, timeout=2.0, allow_private=allow_private, now=NOW)


async def test_it_passes_when_the_port_accepts() -> None:
    async with listening_tcp() as port:
        result = await check(f"127.0.0.1:{port}")
    assert result.ok and result.error is None
    assert result.latency_ms is not None
    assert result.details == {"address": "127.0.0.1", "port": port}


async def test_it_resolves_names() -> None:
    async with listening_tcp() as port:
        result = await check(f"localhost:{port}")
    assert result.ok, result.error


async def test_it_fails_on_a_closed_port() -> None:
    result = await check(f"127.0.0.1:{closed_port()}")
    assert (result.ok, result.error, result.latency_ms) == (False, "connection refused", None)


async def test_it_refuses_loopback_when_private_targets_are_forbidden() -> None:
    async with listening_tcp() as port:
        result = await check(f"127.0.0.1:{port}", allow_private=False)
    assert (result.ok, result.error) == (False, "refused: 127.0.0.1 is a loopback address")


async def test_it_refuses_names_resolving_to_loopback_when_forbidden() -> None:
    async with listening_tcp() as port:
        result = await check(f"localhost:{port}", allow_private=False)
    assert result.error is not None and result.error.startswith("refused: ")


async def test_it_refuses_metadata_addresses_even_when_private_targets_are_allowed() -> None:
    result = await check("169.254.169.254:80")
    assert result.error == "refused: 169.254.169.254 is a cloud metadata address"


async def test_it_reports_unresolvable_names() -> None:
    # A label over 63 characters fails in the resolver library, before any query is sent.
    name = "a" * 64 + ".test"
    result = await check(f"{name}:80")
    assert result.error == f"could not resolve {name}"


async def test_it_takes_bracketed_ipv6() -> None:
    result = await check(f"[::1]:{closed_port()}", allow_private=False)
    assert result.error == "refused: ::1 is a loopback address"


@pytest.mark.parametrize(
    ("target", "config", "message"),
    [
        ("127.0.0.1", {}, "expected host:port, got '127.0.0.1'"),
        ("127.0.0.1:0", {}, "invalid port in '127.0.0.1:0'"),
        ("127.0.0.1:http", {}, "invalid port in '127.0.0.1:http'"),
        ("a b:80", {}, "invalid host 'a b'"),
        ("127.0.0.1:80", {"send": "PING"}, "send: Extra inputs are not permitted"),
    ],
)
async def test_it_rejects_invalid_targets(
    target: str, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProbeConfigError) as caught:
        await check(target, **config)
    assert caught.value.message == message
