"""DNS check: ask each resolver and each authoritative nameserver, and compare.

Built for the failure that caching hides: when a zone's authoritative servers go down,
resolvers keep answering from cache until the TTL runs out, so a check through resolvers
alone stays green while the outage spreads. Querying the authoritative servers directly
(RD=0) catches it at once, and `only_caches_answer` names it.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import anyio
import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tocsin.lib.netpolicy import IPAddress, Policy
from tocsin.monitors.probes.base import (
    ProbeConfigError,
    ProbeError,
    ProbeResult,
    elapsed_ms,
    split_host_port,
)

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"]
Role = Literal["resolver", "authoritative"]

# Enough for any real zone; a bigger NS set only multiplies the queries one check sends.
_MAX_NAMESERVERS = 8
# Large enough for typical answers without fragmentation (the DNS flag day 2020 value);
# bigger answers come back truncated and are retried over TCP.
_EDNS_PAYLOAD = 1232


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_type: RecordType = "A"
    resolvers: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Recursive resolvers as ip or ip:port; none means the system resolver",
    )
    authoritative: bool = Field(
        default=False, description="Also query the zone's nameservers, found via NS records"
    )
    nameservers: list[str] = Field(
        default_factory=list,
        max_length=_MAX_NAMESERVERS,
        description="Authoritative servers as ip or ip:port, instead of NS discovery",
    )
    authoritative_port: int = Field(default=53, ge=1, le=65535)
    expected: list[str] | None = Field(default=None, min_length=1, max_length=50)
    match: Literal["exact", "superset", "subset"] = Field(
        default="exact",
        description="How each answer set compares to `expected`: equal to it, containing "
        "it, or within it",
    )
    require_consistent: bool = Field(
        default=True, description="Fail when servers of the same role answer differently"
    )
    tcp: bool = False

    @field_validator("resolvers", "nameservers")
    @classmethod
    def _check_servers(cls, value: list[str]) -> list[str]:
        for server in value:
            try:
                parse_server(server)
            except ProbeConfigError as exc:
                raise ValueError(exc.message) from exc
        return value

    @field_validator("expected")
    @classmethod
    def _normalise_expected(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None or "record_type" not in info.data:
            return value
        if any(not 0 < len(item) <= 1000 for item in value):
            raise ValueError("each expected answer must have 1 to 1000 characters")
        return sorted({normalise_expected(info.data["record_type"], item) for item in value})

    @model_validator(mode="after")
    def _check_sources(self) -> Config:
        if self.authoritative and self.nameservers:
            raise ValueError("set either authoritative (NS discovery) or nameservers, not both")
        return self


@dataclass(frozen=True)
class Server:
    label: str
    ip: IPAddress
    port: int
    role: Role
    trusted: bool = False
    """The operator's own system resolver, exempt from the address policy."""


@dataclass
class Outcome:
    server: Server
    status: str
    """`ok`, an rcode name (`NXDOMAIN`, `SERVFAIL`, `REFUSED`…), `empty`, `lame`, `timeout`,
    `unreachable`, `refused` (by our policy) or `invalid`."""
    problem: str | None = None
    answers: list[str] = field(default_factory=list)
    ttl: int | None = None
    latency_ms: float | None = None
    cname: str | None = None

    def answered(self) -> bool:
        return self.status == "ok" and bool(self.answers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server.label,
            "role": self.server.role,
            "status": self.status,
            "answers": self.answers,
            "ttl": self.ttl,
            "latency_ms": self.latency_ms,
            "cname": self.cname,
        }


def parse_server(text: str) -> tuple[IPAddress, int]:
    host, port = split_host_port(text, default_port=53)
    try:
        return ipaddress.ip_address(host), port
    except ValueError:
        raise ProbeConfigError(f"DNS server must be an IP address, got {text!r}") from None


def validate_target(target: str) -> str:
    try:
        name = dns.name.from_text(target)
    except dns.exception.DNSException as exc:
        raise ProbeConfigError(f"invalid DNS name {target!r}") from exc
    if len(name.labels) < 2:
        raise ProbeConfigError("target must be a DNS name, not the root")
    return name.to_text(omit_final_dot=True).lower()


def normalise_expected(record_type: RecordType, value: str) -> str:
    """`expected` entries in the form answers are reported in; raise ValueError if invalid."""
    value = value.strip()
    if record_type in ("A", "AAAA"):
        ip = ipaddress.ip_address(value)
        if (ip.version == 4) != (record_type == "A"):
            raise ValueError(f"{value} is not an {record_type} address")
        return str(ip)
    if record_type == "MX":
        preference, _, exchange = value.partition(" ")
        if not preference.isdigit() or not exchange.strip():
            raise ValueError(f"MX answers look like '10 mail.example.com', not {value!r}")
        return f"{int(preference)} {_host(exchange.strip())}"
    if record_type == "TXT":
        # Accept a record copied from dig output, which quotes it.
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return _host(value)


def _host(name: str) -> str:
    return name.rstrip(".").lower()


async def probe(
    target: str, config: Config, *, timeout: float, allow_private: bool, now: datetime
) -> ProbeResult:
    name = dns.name.from_text(target)
    policy = Policy(allow_private=allow_private)
    deadline = time.perf_counter() + timeout
    servers, zone, problems = await _servers(name, config, policy, deadline)
    outcomes = await _query_all(name, config, servers, policy, deadline)
    return evaluate(target, config, outcomes, problems, zone=zone)


# --- which servers to ask -------------------------------------------------------------------


async def _servers(
    name: dns.name.Name, config: Config, policy: Policy, deadline: float
) -> tuple[list[Server], str | None, list[str]]:
    servers = _resolvers(config)
    servers += [_server(text, "authoritative") for text in config.nameservers]
    if not config.authoritative:
        return servers, None, []
    try:
        zone, found = await _discover(name, config, policy, deadline)
    except ProbeError as exc:
        return servers, None, [exc.message]
    return servers + found, zone.to_text(omit_final_dot=True), []


def _resolvers(config: Config) -> list[Server]:
    if config.resolvers:
        return [_server(text, "resolver") for text in config.resolvers]
    if config.nameservers or config.authoritative:
        return []
    try:
        system = dns.asyncresolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        return []
    return [
        Server(
            label=f"system resolver {ns.address}",
            ip=ipaddress.ip_address(ns.address),
            port=ns.port,
            role="resolver",
            trusted=True,
        )
        for ns in system.nameservers
        if isinstance(ns, dns.nameserver.Do53Nameserver)
    ]


def _server(text: str, role: Role) -> Server:
    ip, port = parse_server(text)
    label = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
    return Server(label=label if port != 53 else str(ip), ip=ip, port=port, role=role)


async def _discover(
    name: dns.name.Name, config: Config, policy: Policy, deadline: float
) -> tuple[dns.name.Name, list[Server]]:
    """The zone holding `name` and the addresses of its nameservers, through a resolver."""
    resolver = _discovery_resolver(config, policy)
    zone, hosts = await _find_zone(resolver, name, deadline)
    servers: list[Server] = []
    for host in hosts[:_MAX_NAMESERVERS]:
        for ip in await _addresses(resolver, host, deadline):
            label = f"{_host(host.to_text())} ({ip}"
            label += f":{config.authoritative_port})" if config.authoritative_port != 53 else ")"
            servers.append(Server(label, ip, config.authoritative_port, "authoritative"))
    if not servers:
        raise ProbeError(f"could not resolve the nameservers of {_host(zone.to_text())}")
    return zone, servers


def _discovery_resolver(config: Config, policy: Policy) -> dns.asyncresolver.Resolver:
    if not config.resolvers:
        try:
            return dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            raise ProbeError("no system resolver to find the nameservers with") from exc
    usable = [
        dns.nameserver.Do53Nameserver(str(ip), port)
        for ip, port in map(parse_server, config.resolvers)
        if policy.check(ip) is None
    ]
    if not usable:
        raise ProbeError("no allowed resolver to find the nameservers with")
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = usable
    return resolver


async def _find_zone(
    resolver: dns.asyncresolver.Resolver, name: dns.name.Name, deadline: float
) -> tuple[dns.name.Name, list[dns.name.Name]]:
    # Walk up the labels until a name owns an NS set: that name is the zone apex.
    candidate = name
    while len(candidate.labels) > 1:
        try:
            answer = await resolver.resolve(
                candidate, "NS", raise_on_no_answer=False, lifetime=_left(deadline)
            )
        except dns.resolver.NXDOMAIN:
            answer = None
        except dns.exception.DNSException as exc:
            raise ProbeError(
                f"could not look up NS records for {_host(candidate.to_text())}: "
                f"{_resolver_failure(exc)}"
            ) from exc
        if answer is not None and answer.rrset is not None and answer.rrset.name == candidate:
            return candidate, [rdata.target for rdata in answer.rrset]
        candidate = candidate.parent()
    raise ProbeError(f"no zone found for {_host(name.to_text())}")


async def _addresses(
    resolver: dns.asyncresolver.Resolver, host: dns.name.Name, deadline: float
) -> list[IPAddress]:
    found: list[IPAddress] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(
                host, rdtype, raise_on_no_answer=False, lifetime=_left(deadline)
            )
        except dns.exception.DNSException:
            continue
        found += [ipaddress.ip_address(rdata.address) for rdata in answer.rrset or ()]
    return found


def _resolver_failure(exc: dns.exception.DNSException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "timed out"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "no resolver answered (SERVFAIL or REFUSED)"
    return type(exc).__name__


def _left(deadline: float) -> float:
    return max(0.01, deadline - time.perf_counter())


# --- asking them ----------------------------------------------------------------------------


async def _query_all(
    name: dns.name.Name, config: Config, servers: list[Server], policy: Policy, deadline: float
) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(servers)

    async def ask(index: int) -> None:
        outcomes[index] = await _query(name, config, servers[index], policy, deadline)

    async with anyio.create_task_group() as group:
        for index in range(len(servers)):
            group.start_soon(ask, index)
    return [outcome for outcome in outcomes if outcome is not None]


async def _query(
    name: dns.name.Name, config: Config, server: Server, policy: Policy, deadline: float
) -> Outcome:
    reason = None if server.trusted else policy.check(server.ip)
    if reason is not None:
        return Outcome(server, "refused", f"refused: {server.ip} is {reason}")
    flags = dns.flags.RD if server.role == "resolver" else 0
    query = dns.message.make_query(
        name, config.record_type, flags=flags, use_edns=0, payload=_EDNS_PAYLOAD
    )
    started = time.perf_counter()
    try:
        with anyio.fail_after(_left(deadline)):
            response = await _exchange(query, server, config.tcp, _left(deadline))
    except (TimeoutError, dns.exception.Timeout):
        return Outcome(server, "timeout", f"timed out querying {server.label}")
    except OSError:
        return Outcome(server, "unreachable", f"{server.label} is unreachable")
    except dns.exception.DNSException:
        return Outcome(server, "invalid", f"invalid response from {server.label}")
    outcome = _interpret(name, config.record_type, server, response)
    outcome.latency_ms = elapsed_ms(started)
    return outcome


async def _exchange(
    query: dns.message.Message, server: Server, tcp: bool, timeout: float
) -> dns.message.Message:
    where, port = str(server.ip), server.port
    if tcp:
        return await dns.asyncquery.tcp(query, where, timeout=timeout, port=port)
    response, _ = await dns.asyncquery.udp_with_fallback(query, where, timeout=timeout, port=port)
    return response


def _interpret(
    name: dns.name.Name, record_type: str, server: Server, response: dns.message.Message
) -> Outcome:
    shown = _host(name.to_text())
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        status = dns.rcode.to_text(rcode)
        return Outcome(server, status, f"{status} for {shown} via {server.label}")
    if server.role == "authoritative" and not response.flags & dns.flags.AA:
        return Outcome(server, "lame", f"{server.label} is not authoritative for {shown}")
    try:
        chain = response.resolve_chaining()  # type: ignore[attr-defined]
    except dns.exception.DNSException:
        return Outcome(server, "invalid", f"invalid response from {server.label}")
    cname = _host(chain.canonical_name.to_text()) if chain.canonical_name != name else None
    answers = sorted({_answer(rdata) for rdata in chain.answer or ()})
    if answers or (cname and server.role == "authoritative"):
        # An authoritative server may only hold the alias; the target lives in another zone.
        return Outcome(server, "ok", answers=answers, ttl=chain.minimum_ttl, cname=cname)
    problem = f"no {record_type} records for {shown} via {server.label}"
    return Outcome(server, "empty", problem, ttl=chain.minimum_ttl, cname=cname)


def _answer(rdata: Any) -> str:
    rdtype = rdata.rdtype
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return str(ipaddress.ip_address(rdata.address))
    if rdtype == dns.rdatatype.MX:
        return f"{rdata.preference} {_host(rdata.exchange.to_text())}"
    if rdtype == dns.rdatatype.TXT:
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return _host(rdata.target.to_text())


# --- judging the answers --------------------------------------------------------------------


def evaluate(
    target: str,
    config: Config,
    outcomes: list[Outcome],
    problems: list[str],
    *,
    zone: str | None = None,
) -> ProbeResult:
    """Turn per-server outcomes (and discovery problems) into one result."""
    problems = problems + [o.problem for o in outcomes if o.problem is not None]
    problems += _unexpected(config, outcomes)
    consistent = _consistency(config, outcomes, problems)
    caches_only = _only_caches_answer(config, outcomes)
    if caches_only is not None:
        problems.insert(0, caches_only)
    if not outcomes and not problems:
        problems.append("no DNS server to query")
    latencies = [o.latency_ms for o in outcomes if o.status == "ok" and o.latency_ms is not None]
    details = {
        "name": target,
        "record_type": config.record_type,
        "zone": zone,
        "servers": [o.as_dict() for o in outcomes],
        "consistent": consistent,
        "only_caches_answer": caches_only is not None,
        "problems": problems,
    }
    return ProbeResult(
        ok=not problems,
        latency_ms=max(latencies, default=None),
        error=_summary(problems),
        details=details,
    )


def _unexpected(config: Config, outcomes: list[Outcome]) -> list[str]:
    expected = config.expected
    if expected is None:
        return []
    problems = []
    for outcome in outcomes:
        if outcome.answered() and not _matches(set(outcome.answers), set(expected), config.match):
            problems.append(
                f"{outcome.server.label} answered {_listing(outcome.answers)} "
                f"(expected {'' if config.match == 'exact' else config.match + ' of '}"
                f"{_listing(expected)})"
            )
    return problems


def _matches(answers: set[str], expected: set[str], match: str) -> bool:
    if match == "superset":
        return answers >= expected
    if match == "subset":
        return answers <= expected
    return answers == expected


def _consistency(config: Config, outcomes: list[Outcome], problems: list[str]) -> bool:
    consistent = True
    for role, plural in (("resolver", "resolvers"), ("authoritative", "authoritative servers")):
        answering = [o for o in outcomes if o.server.role == role and o.answered()]
        if len({tuple(o.answers) for o in answering}) > 1:
            consistent = False
            if config.require_consistent:
                listing = "; ".join(f"{o.server.label}: {_listing(o.answers)}" for o in answering)
                problems.append(f"answers differ between {plural} ({listing})")
    return consistent


def _only_caches_answer(config: Config, outcomes: list[Outcome]) -> str | None:
    """The Clerk outage: authoritative servers fail while resolvers still answer from cache."""
    if not (config.authoritative or config.nameservers):
        return None
    authoritative = [o for o in outcomes if o.server.role == "authoritative"]
    if any(o.status == "ok" for o in authoritative):
        return None
    cached = [o for o in outcomes if o.server.role == "resolver" and o.answered()]
    if not cached:
        return None
    ttl = max(o.ttl or 0 for o in cached)
    first = next((o.problem for o in authoritative if o.problem is not None), None)
    cause = f" ({first})" if first else ""
    return f"authoritative nameservers fail{cause}; only caches still answer, for up to {ttl} s"


def _listing(values: list[str]) -> str:
    shown = ", ".join(values[:5])
    return shown + (f" and {len(values) - 5} more" if len(values) > 5 else "") or "nothing"


def _summary(problems: list[str]) -> str | None:
    if not problems:
        return None
    more = len(problems) - 1
    return problems[0] + (f" (+{more} more)" if more else "")
