"""The DNS check against real DNS servers on 127.0.0.1, each in its own process.

`auth` serves example.test authoritatively; `resolver` is a caching resolver in front of it,
so when `auth` fails the resolver keeps answering from cache, as in the Clerk outage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dns_stub import DnsStub, running

from tocsin.monitors.probes import ProbeConfigError, ProbeResult, run_probe

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 2, 10, 17, 6, tzinfo=UTC)

ZONE = """\
$ORIGIN example.test.
$TTL 300
@      IN SOA   ns1 hostmaster 1 3600 600 86400 60
@      IN NS    ns1
@      IN MX    10 mail
@      IN TXT   "v=spf1 include:_spf.example.test ~all"
ns1    IN A     127.0.0.1
api    IN A     192.0.2.10
api    IN A     192.0.2.11
v6     IN AAAA  2001:db8::10
www    IN CNAME api
alias  IN CNAME app.other.test.
long   IN TXT   "part one " "part two"
"""


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsStub]:
    with running(tmp_path_factory.mktemp("auth"), zone=ZONE) as stub:
        yield stub


@pytest.fixture(autouse=True)
def auth_answers(auth: DnsStub) -> None:
    auth.set_mode("ok")


@pytest.fixture
def resolver(auth: DnsStub, tmp_path: Path) -> Iterator[DnsStub]:
    """A caching resolver with an empty cache."""
    with running(tmp_path / "resolver", upstream=auth) as stub:
        yield stub


async def check(
    name: str, timeout: float = 2.0, allow_private: bool = True, **config: Any
) -> ProbeResult:
    return await run_probe(
        "dns", name, config, timeout=timeout, allow_private=allow_private, now=NOW
    )


def servers(result: ProbeResult) -> dict[str, dict[str, Any]]:
    return {server["server"]: server for server in result.details["servers"]}


# --- answers -------------------------------------------------------------------------------


async def test_it_passes_when_every_server_answers(auth: DnsStub, resolver: DnsStub) -> None:
    result = await check(
        "api.example.test", resolvers=[resolver.address], nameservers=[auth.address]
    )
    assert result.ok and result.error is None
    assert result.latency_ms is not None
    by_server = servers(result)
    assert by_server[resolver.address] == {
        "server": resolver.address,
        "role": "resolver",
        "status": "ok",
        "answers": ["192.0.2.10", "192.0.2.11"],
        "ttl": 300,
        "latency_ms": by_server[resolver.address]["latency_ms"],
        "cname": None,
    }
    assert by_server[auth.address]["role"] == "authoritative"
    assert by_server[auth.address]["answers"] == ["192.0.2.10", "192.0.2.11"]
    assert result.details["only_caches_answer"] is False
    assert json.loads(json.dumps(result.details)) == result.details


@pytest.mark.parametrize(
    ("name", "record_type", "answers"),
    [
        ("v6.example.test", "AAAA", ["2001:db8::10"]),
        ("www.example.test", "CNAME", ["api.example.test"]),
        ("www.example.test", "A", ["192.0.2.10", "192.0.2.11"]),
        ("example.test", "MX", ["10 mail.example.test"]),
        ("example.test", "TXT", ["v=spf1 include:_spf.example.test ~all"]),
        ("long.example.test", "TXT", ["part one part two"]),
        ("example.test", "NS", ["ns1.example.test"]),
    ],
)
async def test_it_reads_each_record_type(
    auth: DnsStub, name: str, record_type: str, answers: list[str]
) -> None:
    result = await check(name, record_type=record_type, resolvers=[auth.address])
    assert result.ok, result.error
    assert servers(result)[auth.address]["answers"] == answers


async def test_it_follows_a_cname_to_the_answer(auth: DnsStub) -> None:
    result = await check("www.example.test", resolvers=[auth.address])
    assert servers(result)[auth.address]["cname"] == "api.example.test"


async def test_it_accepts_an_alias_out_of_zone_from_an_authoritative_server(
    auth: DnsStub,
) -> None:
    result = await check("alias.example.test", nameservers=[auth.address])
    assert result.ok, result.error
    assert servers(result)[auth.address]["cname"] == "app.other.test"


@pytest.mark.parametrize(
    ("expected", "match", "error"),
    [
        (["192.0.2.11", "192.0.2.10"], "exact", None),
        (["192.0.2.10"], "exact", "{server} answered 192.0.2.10, 192.0.2.11 (expected 192.0.2.10)"),
        (["192.0.2.10"], "superset", None),
        (["192.0.2.10", "192.0.2.12"], "superset",
         "{server} answered 192.0.2.10, 192.0.2.11 (expected superset of 192.0.2.10, 192.0.2.12)"),
        (["192.0.2.10", "192.0.2.11", "192.0.2.12"], "subset", None),
        (["192.0.2.10"], "subset",
         "{server} answered 192.0.2.10, 192.0.2.11 (expected subset of 192.0.2.10)"),
    ],
)  # fmt: skip
async def test_it_compares_answers_with_the_expected_set(
    auth: DnsStub, expected: list[str], match: str, error: str | None
) -> None:
    result = await check(
        "api.example.test", resolvers=[auth.address], expected=expected, match=match
    )
    assert result.error == (error.format(server=auth.address) if error else None)


async def test_it_normalises_expected_answers(auth: DnsStub) -> None:
    result = await check(
        "example.test",
        record_type="MX",
        resolvers=[auth.address],
        expected=["010 MAIL.example.test."],
    )
    assert result.ok, result.error
    result = await check(
        "example.test",
        record_type="TXT",
        resolvers=[auth.address],
        expected=['"v=spf1 include:_spf.example.test ~all"'],
    )
    assert result.ok, result.error


async def test_it_queries_over_tcp(auth: DnsStub) -> None:
    result = await check("api.example.test", nameservers=[auth.address], tcp=True)
    assert result.ok, result.error


# --- failures ------------------------------------------------------------------------------


async def test_it_reports_nxdomain(auth: DnsStub) -> None:
    result = await check("missing.example.test", nameservers=[auth.address])
    assert result.error == f"NXDOMAIN for missing.example.test via {auth.address}"
    assert servers(result)[auth.address]["status"] == "NXDOMAIN"


async def test_it_reports_an_empty_answer(auth: DnsStub) -> None:
    result = await check("api.example.test", record_type="AAAA", nameservers=[auth.address])
    assert result.error == f"no AAAA records for api.example.test via {auth.address}"
    assert servers(result)[auth.address]["status"] == "empty"


@pytest.mark.parametrize(
    ("mode", "status", "error"),
    [
        ("servfail", "SERVFAIL", "SERVFAIL for api.example.test via {server}"),
        ("refused", "REFUSED", "REFUSED for api.example.test via {server}"),
        ("nxdomain", "NXDOMAIN", "NXDOMAIN for api.example.test via {server}"),
        ("timeout", "timeout", "timed out querying {server}"),
        ("lame", "lame", "{server} is not authoritative for api.example.test"),
    ],
)
async def test_it_reports_a_failing_authoritative_server(
    auth: DnsStub, mode: str, status: str, error: str
) -> None:
    auth.set_mode(mode)
    started = time.monotonic()
    result = await check("api.example.test", timeout=1.0, nameservers=[auth.address])
    assert time.monotonic() - started < 1.5
    assert (result.ok, result.error) == (False, error.format(server=auth.address))
    assert servers(result)[auth.address]["status"] == status
    assert result.latency_ms is None


async def test_it_reports_a_resolver_that_cannot_reach_the_zone(
    auth: DnsStub, resolver: DnsStub
) -> None:
    auth.set_mode("timeout")
    result = await check("api.example.test", resolvers=[resolver.address])
    assert result.error == f"SERVFAIL for api.example.test via {resolver.address}"
    assert result.details["only_caches_answer"] is False


async def test_it_reports_answers_that_differ_between_resolvers(
    auth: DnsStub, tmp_path: Path
) -> None:
    moved = ZONE.replace("192.0.2.11", "198.51.100.7")
    with running(tmp_path / "moved", zone=moved) as other:
        strict = await check("api.example.test", resolvers=[auth.address, other.address])
        lenient = await check(
            "api.example.test",
            resolvers=[auth.address, other.address],
            require_consistent=False,
        )
    assert strict.error == (
        f"answers differ between resolvers ({auth.address}: 192.0.2.10, 192.0.2.11; "
        f"{other.address}: 192.0.2.10, 198.51.100.7)"
    )
    assert strict.details["consistent"] is False
    assert (lenient.ok, lenient.details["consistent"]) == (True, False)


# --- only caches still answer: the Clerk outage --------------------------------------------


@pytest.mark.parametrize("mode", ["servfail", "timeout", "refused"])
async def test_it_flags_when_only_caches_still_answer(
    auth: DnsStub, resolver: DnsStub, mode: str
) -> None:
    config: dict[str, Any] = {"resolvers": [resolver.address], "nameservers": [auth.address]}
    assert (await check("api.example.test", **config)).ok
    auth.set_mode(mode)
    result = await check("api.example.test", timeout=1.0, **config)
    assert not result.ok
    assert result.details["only_caches_answer"] is True
    cached = servers(result)[resolver.address]
    failed = servers(result)[auth.address]
    assert result.error == (
        f"authoritative nameservers fail ({result.details['problems'][1]}); "
        f"only caches still answer, for up to {cached['ttl']} s (+1 more)"
    )
    assert failed["server"] in result.details["problems"][1]
    assert (cached["status"], cached["answers"]) == ("ok", ["192.0.2.10", "192.0.2.11"])
    assert 0 < cached["ttl"] <= 300
    assert servers(result)[auth.address]["status"] != "ok"


async def test_it_finds_the_authoritative_servers_through_ns_records(
    auth: DnsStub, resolver: DnsStub
) -> None:
    config: dict[str, Any] = {
        "resolvers": [resolver.address],
        "authoritative": True,
        "authoritative_port": auth.port,
    }
    healthy = await check("api.example.test", **config)
    assert healthy.ok, healthy.error
    assert healthy.details["zone"] == "example.test"
    found = servers(healthy)[f"ns1.example.test ({auth.address})"]
    assert (found["role"], found["status"]) == ("authoritative", "ok")

    auth.set_mode("servfail")
    outage = await check("api.example.test", **config)
    assert outage.details["only_caches_answer"] is True
    assert servers(outage)[f"ns1.example.test ({auth.address})"]["status"] == "SERVFAIL"


async def test_it_reports_when_the_nameservers_cannot_be_found(
    auth: DnsStub, resolver: DnsStub
) -> None:
    auth.set_mode("servfail")
    result = await check(
        "api.example.test", resolvers=[resolver.address], authoritative=True, timeout=1.0
    )
    assert result.error is not None
    assert result.error.startswith("could not look up NS records for api.example.test")


# --- the address policy --------------------------------------------------------------------


async def test_it_refuses_loopback_servers_when_private_targets_are_forbidden(
    auth: DnsStub,
) -> None:
    result = await check("api.example.test", allow_private=False, resolvers=[auth.address])
    assert result.error == "refused: 127.0.0.1 is a loopback address"
    assert servers(result)[auth.address]["status"] == "refused"


async def test_it_refuses_discovery_through_a_forbidden_resolver(auth: DnsStub) -> None:
    result = await check(
        "api.example.test", allow_private=False, resolvers=[auth.address], authoritative=True
    )
    assert result.error is not None
    assert result.error.startswith("no allowed resolver to find the nameservers with")


# --- config validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "config", "message"),
    [
        ("api.example.test", {"resolvers": ["dns.google"]},
         "resolvers: Value error, DNS server must be an IP address, got 'dns.google'"),
        ("api.example.test", {"resolvers": ["8.8.8.8:0"]},
         "resolvers: Value error, invalid port in '8.8.8.8:0'"),
        ("api.example.test", {"expected": ["not-an-ip"]}, "expected: Value error"),
        ("api.example.test", {"record_type": "AAAA", "expected": ["192.0.2.1"]},
         "expected: Value error, 192.0.2.1 is not an AAAA address"),
        ("api.example.test", {"record_type": "MX", "expected": ["mail.example.test"]},
         "expected: Value error, MX answers look like '10 mail.example.com'"),
        ("api.example.test", {"authoritative": True, "nameservers": ["192.0.2.53"]},
         "config: Value error, set either authoritative (NS discovery) or nameservers"),
        ("api.example.test", {"record_type": "SRV"}, "record_type: Input should be"),
        ("api.example.test", {"resolvers": ["192.0.2.53"] * 11}, "resolvers: List should"),
        ("bad..name", {}, "invalid DNS name 'bad..name'"),
        (".", {}, "target must be a DNS name, not the root"),
    ],
)  # fmt: skip
async def test_it_rejects_invalid_configs(
    target: str, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProbeConfigError) as caught:
        await check(target, **config)
    assert caught.value.message.startswith(message)
