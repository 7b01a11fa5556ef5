"""Which IP addresses outbound requests may connect to.

`is_forbidden` names every address that is not public unicast. CPython's flags alone are not
enough: on 3.11 `is_global` is True for multicast, 192.0.0.0/24, NAT64 (64:ff9b::/96) and
IPv4-compatible IPv6, and `is_private` is False for CGNAT (100.64.0.0/10). So the tables below
are checked first, with `not is_global` as the backstop for anything they miss.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TypeAlias

IPAddress: TypeAlias = IPv4Address | IPv6Address
IPNetwork: TypeAlias = IPv4Network | IPv6Network
_Table: TypeAlias = tuple[tuple[IPNetwork, str], ...]


def _table(*rows: tuple[str, str]) -> _Table:
    return tuple((ipaddress.ip_network(net), reason) for net, reason in rows)


# Refused even when private targets are allowed: no monitor or receiver legitimately lives
# here, and the metadata endpoints hand out cloud credentials.
_ALWAYS = _table(
    ("169.254.169.254/32", "a cloud metadata address"),
    ("100.100.100.200/32", "a cloud metadata address"),
    ("fd00:ec2::254/128", "a cloud metadata address"),
    ("169.254.0.0/16", "a link-local address"),
    ("fe80::/10", "a link-local address"),
    ("0.0.0.0/32", "an unspecified address"),
    ("::/128", "an unspecified address"),
    ("224.0.0.0/4", "a multicast address"),
    ("ff00::/8", "a multicast address"),
    ("255.255.255.255/32", "a broadcast address"),
)

_NON_GLOBAL = _table(
    ("127.0.0.0/8", "a loopback address"),
    ("::1/128", "a loopback address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("fc00::/7", "a private address"),
    ("100.64.0.0/10", "a shared (CGNAT) address"),
    ("0.0.0.0/8", "a 'this network' address"),
    ("192.0.0.0/24", "an IETF protocol address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("2001:2::/48", "a benchmarking address"),
    ("192.0.2.0/24", "a documentation address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("240.0.0.0/4", "a reserved address"),
    ("2001::/32", "a Teredo address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("::/96", "an IPv4-compatible IPv6 address"),
    ("fec0::/10", "a site-local address"),
)

_NAT64 = IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class Policy:
    """Where one kind of outbound request may connect.

    `allow_private` opens loopback, private, CGNAT and the other non-global ranges, for
    monitors of internal hosts. `allowed_networks` opens just the listed networks. Neither
    opens the `_ALWAYS` ranges (metadata, link-local, unspecified, multicast, broadcast).
    """

    allow_private: bool
    allowed_networks: tuple[IPNetwork, ...] = ()

    def check(self, ip: IPAddress) -> str | None:
        """Why connecting to `ip` is refused ("a private address"), or None if it is allowed."""
        reason = _judge(ip, _ALWAYS, backstop=False)
        if reason is not None:
            return reason
        if self.allow_private or any(ip in net for net in self.allowed_networks):
            return None
        return is_forbidden(ip)


def is_forbidden(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address ("a loopback address"), or None if it is.

    IPv4 embedded in IPv4-mapped, NAT64 and 6to4 addresses is judged on its own, because
    connecting to `::ffff:127.0.0.1` reaches 127.0.0.1.
    """
    return _judge(ip, _ALWAYS + _NON_GLOBAL, backstop=True)


def literal_ip(host: str) -> IPAddress | None:
    """The address `host` spells, in any form a resolver accepts (`127.1`, `0x7f000001`,
    `[::1]`); None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def refused_host(host: str, *, allow_private: bool) -> str | None:
    """Why a connection to `host`, as written, would be refused ("a loopback name"), or None.

    Only a literal address or a `localhost` name can be judged before connecting; the
    addresses a name resolves to are checked at connect time.
    """
    name = host.lower().rstrip(".")
    ip = literal_ip(name)
    if ip is not None:
        return Policy(allow_private=allow_private).check(ip)
    if not allow_private and (name == "localhost" or name.endswith(".localhost")):
        return "a loopback name"
    return None


def _judge(ip: IPAddress, table: _Table, *, backstop: bool) -> str | None:
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        kind, inner = embedded
        reason = _judge(inner, table, backstop=backstop)
        return None if reason is None else f"{reason} ({kind} {inner})"
    for net, reason in table:
        if ip in net:
            return reason
    if backstop and not ip.is_global:
        return "not a globally routable address"
    return None


def _embedded_ipv4(ip: IPAddress) -> tuple[str, IPv4Address] | None:
    if isinstance(ip, IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip in _NAT64:
        return "NAT64", IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    return None
