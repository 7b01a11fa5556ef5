"""The HTTP check against a real server on 127.0.0.1 (HTTPS with a throwaway CA)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from probe_servers import Certs, HttpServer, Reply, closed_port, make_certs, serving_http

from tocsin.monitors.probes import ProbeConfigError, ProbeResult, run_probe

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 2, 10, 17, 6, tzinfo=UTC)


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    async with serving_http() as running:
        yield running


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("http-certs"))


async def check(
    url: str, timeout: float = 5.0, allow_private: bool = True, **config: Any
) -> ProbeResult:
    return await run_probe(
        "http", url, config, timeout=timeout, allow_private=allow_private, now=NOW
    )


def json_reply(document: Any) -> Reply:
    return Reply(
        body=json.dumps(document).encode(), headers=(("Content-Type", "application/json"),)
    )


# --- status and transport ------------------------------------------------------------------


async def test_it_passes_on_a_2xx_response(server: HttpServer) -> None:
    result = await check(server.url("/health"))
    assert result.ok and result.error is None
    assert result.latency_ms is not None and result.latency_ms > 0
    assert result.details["status_code"] == 200
    assert result.details["redirects"] == 0
    assert json.loads(json.dumps(result.details)) == result.details


async def test_it_fails_on_an_unexpected_status(server: HttpServer) -> None:
    server.routes["/"] = Reply(status=503, body=b"down")
    result = await check(server.url())
    assert not result.ok
    assert result.error == "HTTP 503 (expected 2xx)"
    assert result.details["status_code"] == 503


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (204, False), (301, True), (302, True), (418, True), (500, False)],
)
async def test_it_accepts_codes_and_ranges(server: HttpServer, status: int, ok: bool) -> None:
    server.routes["/"] = Reply(status=status, headers=(("Location", "/elsewhere"),))
    result = await check(
        server.url(), expected_status=[200, "301-302", "4xx"], follow_redirects=False
    )
    assert result.ok is ok
    if not ok:
        assert result.error == f"HTTP {status} (expected 200, 301-302, 4xx)"


async def test_it_follows_redirects(server: HttpServer) -> None:
    server.routes["/old"] = Reply(status=302, headers=(("Location", "/new"),))
    server.routes["/new"] = Reply(body=b"moved here")
    result = await check(server.url("/old"), keyword="moved here")
    assert result.ok
    assert result.details["redirects"] == 1
    assert [seen.path for seen in server.requests] == ["/old", "/new"]


async def test_it_reports_the_redirect_itself_when_not_following(server: HttpServer) -> None:
    server.routes["/old"] = Reply(status=301, headers=(("Location", "/new"),))
    result = await check(server.url("/old"), follow_redirects=False)
    assert result.error == "HTTP 301 (expected 2xx)"
    assert [seen.path for seen in server.requests] == ["/old"]


async def test_it_stops_after_five_redirects(server: HttpServer) -> None:
    server.routes["/loop"] = Reply(status=302, headers=(("Location", "/loop"),))
    result = await check(server.url("/loop"))
    assert (result.ok, result.error) == (False, "too many redirects")
    assert len(server.requests) == 6


async def test_it_sends_the_method_headers_and_body(server: HttpServer) -> None:
    result = await check(
        server.url("/hook"), method="POST", headers={"X-Probe": "tocsin"}, body='{"ping": 1}'
    )
    assert result.ok
    (seen,) = server.requests
    assert (seen.method, seen.headers["x-probe"], seen.body) == ("POST", "tocsin", b'{"ping": 1}')
    assert seen.headers["user-agent"].startswith("Tocsin/")


async def test_it_fails_on_a_closed_port() -> None:
    result = await check(f"http://127.0.0.1:{closed_port()}/")
    assert (result.ok, result.error, result.latency_ms) == (False, "connection refused", None)


async def test_it_times_out(server: HttpServer) -> None:
    server.routes["/slow"] = Reply(delay=3)
    result = await check(server.url("/slow"), timeout=0.5)
    assert (result.ok, result.error) == (False, "timed out after 0.5 s")


async def test_it_times_out_without_following_redirects(server: HttpServer) -> None:
    server.routes["/slow"] = Reply(delay=3)
    result = await check(server.url("/slow"), timeout=0.5, follow_redirects=False)
    assert (result.ok, result.error) == (False, "timed out after 0.5 s")


async def test_it_fails_when_slower_than_the_latency_threshold(server: HttpServer) -> None:
    server.routes["/"] = Reply(delay=0.3)
    result = await check(server.url(), max_latency_ms=100)
    assert not result.ok
    assert result.error is not None and result.error.endswith("ms (limit 100 ms)")
    assert result.latency_ms is not None and result.latency_ms >= 300


# --- the address policy --------------------------------------------------------------------


async def test_it_refuses_loopback_when_private_targets_are_forbidden(server: HttpServer) -> None:
    result = await check(server.url(), allow_private=False)
    assert (result.ok, result.error) == (False, "refused: 127.0.0.1 is a loopback address")
    assert server.requests == []


async def test_it_refuses_mapped_loopback_when_private_targets_are_forbidden(
    server: HttpServer,
) -> None:
    result = await check(f"http://[::ffff:127.0.0.1]:{server.port}/", allow_private=False)
    assert not result.ok
    assert result.error == "refused: ::ffff:7f00:1 is a loopback address (IPv4-mapped 127.0.0.1)"
    assert server.requests == []


# --- body assertions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"keyword": "healthy"}, None),
        ({"keyword": "HEALTHY"}, "keyword 'HEALTHY' not found"),
        ({"keyword": "HEALTHY", "case_sensitive": False}, None),
        ({"keyword": "ok"}, "keyword 'ok' not found"),
        ({"keyword_absent": "error"}, None),
        ({"keyword_absent": "healthy"}, "keyword 'healthy' found"),
        ({"keyword": "all", "keyword_absent": "degraded"}, None),
    ],
)
async def test_it_checks_keywords(
    server: HttpServer, config: dict[str, Any], error: str | None
) -> None:
    server.routes["/"] = Reply(body="all systems healthy ✓".encode())
    result = await check(server.url(), **config)
    assert (result.ok, result.error) == (error is None, error)


async def test_it_reads_only_the_first_256_kib(server: HttpServer) -> None:
    server.routes["/"] = Reply(body=b"x" * 300_000 + b"healthy")
    result = await check(server.url(), keyword="healthy")
    assert result.error == "keyword 'healthy' not found in the first 256 KiB"
    assert (result.details["body_bytes"], result.details["body_truncated"]) == (262_144, True)


@pytest.mark.parametrize(
    ("assertion", "error"),
    [
        ({"path": "$.status", "equals": "ok"}, None),
        ({"path": "$.checks[1].state", "equals": "up"}, None),
        ({"path": "$.checks[1].latency", "equals": 12}, None),
        ({"path": "$.checks[1].latency", "equals": 12.0}, None),
        ({"path": "$.maintenance", "equals": False}, None),
        ({"path": "$.maintenance", "equals": 0}, "$.maintenance is false (expected 0)"),
        ({"path": "$.note", "equals": None}, None),
        (
            {"path": "$.checks[0].state", "equals": "up"},
            '$.checks[0].state is "down" (expected "up")',
        ),
        (
            {"path": "$.checks[5].state", "equals": "up"},
            "$.checks[5].state not found in the response",
        ),
        ({"path": "$.status.code", "equals": 1}, "$.status.code not found in the response"),
    ],
)
async def test_it_checks_a_json_path(
    server: HttpServer, assertion: dict[str, Any], error: str | None
) -> None:
    server.routes["/"] = json_reply(
        {
            "status": "ok",
            "maintenance": False,
            "note": None,
            "checks": [{"state": "down"}, {"state": "up", "latency": 12}],
        }
    )
    result = await check(server.url(), json_assertion=assertion)
    assert (result.ok, result.error) == (error is None, error)


async def test_it_fails_the_json_check_on_a_non_json_body(server: HttpServer) -> None:
    server.routes["/"] = Reply(body=b"<html>ok</html>")
    result = await check(server.url(), json_assertion={"path": "$.status", "equals": "ok"})
    assert result.error == "response is not valid JSON"


async def test_it_keeps_the_body_out_of_the_result(server: HttpServer) -> None:
    server.routes["/"] = Reply(status=500, body=b"secret stack trace")
    result = await check(server.url(), keyword="healthy")
    assert "secret" not in json.dumps(result.details) + str(result.error)


# --- HTTPS ---------------------------------------------------------------------------------


async def test_it_trusts_a_configured_ca(certs: Certs) -> None:
    async with serving_http(tls=certs.server_context("good")) as server:
        result = await check(server.url(), ca_cert=certs.ca_pem)
    assert result.ok, result.error


async def test_it_fails_on_an_untrusted_certificate(certs: Certs) -> None:
    async with serving_http(tls=certs.server_context("good")) as server:
        result = await check(server.url())
    assert (result.ok, result.error) == (False, "TLS certificate verify failed")


async def test_it_fails_on_a_certificate_for_another_name(certs: Certs) -> None:
    async with serving_http(tls=certs.server_context("other")) as server:
        result = await check(server.url(), ca_cert=certs.ca_pem)
    assert (result.ok, result.error) == (False, "TLS certificate verify failed")


async def test_it_skips_verification_when_told_to(certs: Certs) -> None:
    async with serving_http(tls=certs.server_context("other")) as server:
        result = await check(server.url(), verify_tls=False)
    assert result.ok


# --- config validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "config", "message"),
    [
        ("ftp://example.com/", {}, "target must be an http:// or https:// URL"),
        ("example.com", {}, "target must be an http:// or https:// URL"),
        ("https://example.com/", {"expected_status": ["2x"]}, "expected_status: Value error"),
        ("https://example.com/", {"expected_status": [99]}, "expected_status: Value error"),
        ("https://example.com/", {"expected_status": ["299-200"]}, "expected_status: Value"),
        ("https://example.com/", {"headers": {"X-A": "1\r\nX-B: 2"}}, "headers: Value error"),
        ("https://example.com/", {"headers": {"Bad Name": "1"}}, "headers: Value error"),
        ("https://example.com/", {"json_assertion": {"path": "status", "equals": 1}}, "json_"),
        ("https://example.com/", {"json_assertion": {"path": "$.a"}}, "json_assertion.equals"),
        ("https://example.com/", {"method": "TRACE"}, "method"),
        ("https://example.com/", {"max_latency_ms": 0}, "max_latency_ms"),
        ("https://example.com/", {"ca_cert": "not a pem"}, "ca_cert: Value error"),
        ("https://example.com/", {"retries": 3}, "retries: Extra inputs are not permitted"),
    ],
)
async def test_it_rejects_invalid_configs(
    target: str, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProbeConfigError) as caught:
        await check(target, **config)
    assert caught.value.message.startswith(message)


async def test_it_rejects_unknown_kinds_and_probing_heartbeats(tmp_path: Path) -> None:
    for kind, message in [
        ("smtp", "unknown monitor kind 'smtp'"),
        ("heartbeat", "heartbeat monitors are judged from their pings, not probed"),
    ]:
        with pytest.raises(ProbeConfigError) as caught:
            await run_probe(kind, "x", {}, timeout=1, allow_private=True, now=NOW)
        assert caught.value.message == message
