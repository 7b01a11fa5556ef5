"""The TLS certificate check against real TLS servers on 127.0.0.1, certificates from openssl."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any

import pytest
from probe_servers import Certs, HttpServer, closed_port, listening_tcp, make_certs, serving_http

from tocsin.monitors.probes import ProbeConfigError, ProbeResult, run_probe
from tocsin.monitors.probes.tls import Certificate, hostname_matches

pytestmark = pytest.mark.anyio

Serve = Callable[[str], AbstractAsyncContextManager[HttpServer]]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls-certs"))


@pytest.fixture
def serve(certs: Certs) -> Serve:
    def start(leaf: str) -> AbstractAsyncContextManager[HttpServer]:
        return serving_http(tls=certs.server_context(leaf))

    return start


@pytest.fixture
async def good(serve: Serve) -> AsyncIterator[HttpServer]:
    async with serve("good") as server:
        yield server


async def check(
    target: str,
    *,
    now: datetime | None = None,
    allow_private: bool = True,
    **config: Any,
) -> ProbeResult:
    return await run_probe(
        "tls",
        target,
        config,
        timeout=3.0,
        allow_private=allow_private,
        now=now or datetime.now(UTC),
    )


async def test_it_reports_a_trusted_certificate(good: HttpServer, certs: Certs) -> None:
    result = await check(f"127.0.0.1:{good.port}", ca_cert=certs.ca_pem)
    assert result.ok and result.error is None
    assert result.latency_ms is not None
    details = result.details
    assert details["subject"] == "CN=good.example.test"
    assert details["issuer"] == "CN=Tocsin Test CA, O=Tocsin Tests"
    assert details["days_left"] == 29
    assert (details["dns_names"], details["ip_addresses"]) == (["localhost"], ["127.0.0.1"])
    assert (details["chain_valid"], details["chain_error"]) == (True, None)
    assert details["hostname_match"] is True
    assert details["tls_version"] == "TLSv1.3"
    assert details["address"] == "127.0.0.1"
    not_after = datetime.fromisoformat(details["not_after"])
    assert timedelta(days=29) < not_after - datetime.now(UTC) <= timedelta(days=30)
    assert json.loads(json.dumps(details)) == details


async def test_it_sends_the_name_as_sni(good: HttpServer, certs: Certs) -> None:
    result = await check(f"localhost:{good.port}", ca_cert=certs.ca_pem)
    assert result.ok, result.error


async def test_it_fails_on_an_untrusted_chain(good: HttpServer) -> None:
    result = await check(f"127.0.0.1:{good.port}")
    assert result.error == "certificate not trusted: unable to get local issuer certificate"
    assert result.details["chain_valid"] is False
    assert result.details["days_left"] == 29


async def test_it_reports_but_ignores_the_chain_when_told_to(good: HttpServer) -> None:
    result = await check(f"127.0.0.1:{good.port}", check_chain=False)
    assert result.ok
    assert result.details["chain_error"] == "unable to get local issuer certificate"


async def test_it_fails_on_a_self_signed_certificate(serve: Serve) -> None:
    async with serve("selfsigned") as server:
        result = await check(f"127.0.0.1:{server.port}")
    assert result.error == "certificate not trusted: self-signed certificate"
    assert result.details["subject"] == result.details["issuer"] == "CN=localhost"


async def test_it_fails_when_the_name_is_not_covered(serve: Serve, certs: Certs) -> None:
    async with serve("other") as server:
        result = await check(f"127.0.0.1:{server.port}", ca_cert=certs.ca_pem)
        ignored = await check(
            f"127.0.0.1:{server.port}", ca_cert=certs.ca_pem, check_hostname=False
        )
    assert result.error == "certificate does not cover the host name"
    assert (result.details["chain_valid"], result.details["hostname_match"]) == (True, False)
    assert result.details["dns_names"] == ["other.example.test"]
    assert ignored.ok


@pytest.mark.parametrize(
    ("days_later", "config", "error"),
    [
        (10, {}, None),
        (20, {}, "certificate expires in 9 days"),
        (20, {"min_days": 9}, None),
        (28, {"min_days": 1}, None),
        (28, {"min_days": 2}, "certificate expires in 1 day"),
        (29, {"min_days": 1}, "certificate expires in less than a day"),
    ],
)
async def test_it_fails_when_expiry_is_near(
    good: HttpServer, certs: Certs, days_later: int, config: dict[str, Any], error: str | None
) -> None:
    now = datetime.now(UTC) + timedelta(days=days_later)
    result = await check(f"127.0.0.1:{good.port}", now=now, ca_cert=certs.ca_pem, **config)
    assert (result.ok, result.error) == (error is None, error)
    assert result.details["days_left"] == 29 - days_later


async def test_it_fails_on_an_expired_certificate(good: HttpServer, certs: Certs) -> None:
    now = datetime.now(UTC) + timedelta(days=31)
    result = await check(f"127.0.0.1:{good.port}", now=now, ca_cert=certs.ca_pem)
    not_after = datetime.fromisoformat(result.details["not_after"])
    assert result.error == f"certificate expired on {not_after:%Y-%m-%d %H:%M} UTC"
    assert result.details["days_left"] == -2


async def test_it_fails_on_a_certificate_not_yet_valid(good: HttpServer, certs: Certs) -> None:
    now = datetime.now(UTC) - timedelta(days=2)
    result = await check(f"127.0.0.1:{good.port}", now=now, ca_cert=certs.ca_pem)
    assert result.error is not None
    assert result.error.startswith("certificate not valid until ")


async def test_it_fails_on_a_closed_port() -> None:
    result = await check(f"127.0.0.1:{closed_port()}")
    assert (result.ok, result.error, result.details) == (False, "connection refused", {})


async def test_it_fails_on_a_server_without_tls() -> None:
    async with listening_tcp() as port:
        result = await check(f"127.0.0.1:{port}")
    assert result.error == "connection closed during the TLS handshake"


async def test_it_refuses_loopback_when_private_targets_are_forbidden(good: HttpServer) -> None:
    result = await check(f"127.0.0.1:{good.port}", allow_private=False)
    assert result.error == "refused: 127.0.0.1 is a loopback address"


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("status.example.com", True),
        ("STATUS.example.com.", True),
        ("api.example.com", True),
        ("example.com", False),
        ("a.b.example.com", False),
        ("example.org", True),
        ("www.example.org", False),
        ("192.0.2.7", True),
        ("192.0.2.8", False),
        ("2001:db8::1", True),
    ],
)
def test_it_matches_host_names_like_browsers(host: str, matches: bool) -> None:
    cert = Certificate(
        subject="CN=example.com",
        issuer="CN=CA",
        not_before=datetime(2026, 1, 1, tzinfo=UTC),
        not_after=datetime(2026, 4, 1, tzinfo=UTC),
        dns_names=("*.example.com", "example.org"),
        ip_addresses=(ip_address("192.0.2.7"), ip_address("2001:db8::1")),
    )
    assert hostname_matches(host, cert) is matches


@pytest.mark.parametrize(
    ("target", "config", "message"),
    [
        ("example.com:99999", {}, "invalid port in 'example.com:99999'"),
        ("https://example.com/", {}, "invalid port in 'https://example.com/'"),
        ("example.com", {"min_days": -1}, "min_days: Input should be greater than or equal to 0"),
        ("example.com", {"ca_cert": "nope"}, "ca_cert: Value error, not a PEM CA certificate"),
    ],
)
async def test_it_rejects_invalid_configs(
    target: str, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProbeConfigError) as caught:
        await check(target, **config)
    assert caught.value.message == message
