from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from tocsin.lib.netpolicy import Policy, is_forbidden, literal_ip, refused_host

FORBIDDEN = [
    ("127.0.0.1", "a loopback address"),
    ("127.255.255.254", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.0.0.5", "a private address"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.255", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fc00::1", "a private address"),
    ("fd12:3456::1", "a private address"),
    ("169.254.169.254", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"),
    ("169.254.1.1", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("100.64.0.1", "a shared (CGNAT) address"),
    ("100.127.255.254", "a shared (CGNAT) address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("0.1.2.3", "a 'this network' address"),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("255.255.255.255", "a broadcast address"),
    ("240.0.0.1", "a reserved address"),
    ("192.0.0.192", "an IETF protocol address"),
    ("198.18.0.1", "a benchmarking address"),
    ("198.19.255.255", "a benchmarking address"),
    ("2001:2::1", "a benchmarking address"),
    ("192.0.2.1", "a documentation address"),
    ("198.51.100.1", "a documentation address"),
    ("203.0.113.1", "a documentation address"),
    ("2001:db8::1", "a documentation address"),
    ("3fff::1", "a documentation address"),
    ("2001::1", "a Teredo address"),
    ("64:ff9b:1::a00:1", "a local-use NAT64 address"),
    ("::7f00:1", "an IPv4-compatible IPv6 address"),
    ("fec0::1", "a site-local address"),
    ("100::1", "not a globally routable address"),
    ("2001:10::1", "not a globally routable address"),
    ("::ffff:10.0.0.1", "a private address (IPv4-mapped 10.0.0.1)"),
    ("::ffff:127.0.0.1", "a loopback address (IPv4-mapped 127.0.0.1)"),
    ("::ffff:169.254.169.254", "a cloud metadata address (IPv4-mapped 169.254.169.254)"),
    ("64:ff9b::a00:1", "a private address (NAT64 10.0.0.1)"),
    ("64:ff9b::7f00:1", "a loopback address (NAT64 127.0.0.1)"),
    ("64:ff9b::6464:64c8", "a cloud metadata address (NAT64 100.100.100.200)"),
    ("2002:0a00:0001::", "a private address (6to4 10.0.0.1)"),
    ("2002:a9fe:a9fe::", "a cloud metadata address (6to4 169.254.169.254)"),
]

GLOBAL = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.1",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::101:101",
    "2002:101:101::",
]


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN)
def test_it_names_why_an_address_is_forbidden(address: str, reason: str) -> None:
    assert is_forbidden(ip_address(address)) == reason


@pytest.mark.parametrize("address", GLOBAL)
def test_it_allows_global_unicast(address: str) -> None:
    assert is_forbidden(ip_address(address)) is None


@pytest.mark.parametrize("address", ["100.64.0.1", "64:ff9b::7f00:1", "224.0.0.1", "192.0.0.192"])
def test_it_covers_gaps_in_pythons_own_flags(address: str) -> None:
    ip = ip_address(address)
    assert not ip.is_private
    assert is_forbidden(ip) is not None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.0.0.5", "fd12::1", "100.64.0.1", "::ffff:192.168.0.1"]
)
def test_it_allows_private_targets_when_asked(address: str) -> None:
    policy = Policy(allow_private=True)
    assert policy.check(ip_address(address)) is None
    assert Policy(allow_private=False).check(ip_address(address)) is not None


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "169.254.10.10",
        "fe80::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
    ],
)
def test_it_always_refuses_metadata_link_local_and_non_unicast(address: str) -> None:
    everything = (ip_network("0.0.0.0/0"), ip_network("::/0"))
    policy = Policy(allow_private=True, allowed_networks=everything)
    assert policy.check(ip_address(address)) is not None


def test_it_allows_only_the_listed_networks() -> None:
    policy = Policy(allow_private=False, allowed_networks=(ip_network("127.0.0.1/32"),))
    assert policy.check(ip_address("127.0.0.1")) is None
    assert policy.check(ip_address("127.0.0.2")) == "a loopback address"
    assert policy.check(ip_address("1.1.1.1")) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("[::1]", "::1"),
        ("example.com", None),
        ("exa\x00mple", None),
    ],
)
def test_it_reads_every_spelling_of_a_literal_address(host: str, address: str | None) -> None:
    assert literal_ip(host) == (None if address is None else ip_address(address))


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("10.0.0.5", "a private address"),
        ("127.1", "a loopback address"),
        ("LOCALHOST.", "a loopback name"),
        ("api.localhost", "a loopback name"),
        ("169.254.169.254", "a cloud metadata address"),
        ("example.com", None),
        ("1.1.1.1", None),
    ],
)
def test_it_judges_a_host_as_written(host: str, reason: str | None) -> None:
    assert refused_host(host, allow_private=False) == reason


def test_it_lets_private_hosts_through_when_allowed_but_never_metadata() -> None:
    assert refused_host("localhost", allow_private=True) is None
    assert refused_host("10.0.0.5", allow_private=True) is None
    assert refused_host("169.254.169.254", allow_private=True) == "a cloud metadata address"
