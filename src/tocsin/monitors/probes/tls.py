"""TLS certificate check: days to expiry, chain verification and hostname match.

The certificate is read from the handshake and parsed here (a few DER fields), so the check
works without the `cryptography` package and still reports on certificates that fail
verification, which is when the details matter most.
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
from anyio.abc import SocketStream
from anyio.streams.tls import TLSAttribute, TLSStream
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.lib.netpolicy import IPAddress, Policy
from tocsin.monitors.probes.base import (
    ProbeError,
    ProbeResult,
    connect_any,
    elapsed_ms,
    resolve_allowed,
    split_host_port,
    timed_out,
)

_DAY = 86_400
_NAME_ATTRIBUTES = {
    b"\x55\x04\x03": "CN",
    b"\x55\x04\x0a": "O",
    b"\x55\x04\x0b": "OU",
    b"\x55\x04\x06": "C",
}
_SUBJECT_ALT_NAME = b"\x55\x1d\x11"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days: int = Field(
        default=14, ge=0, le=365, description="Fail when the certificate expires sooner"
    )
    check_chain: bool = Field(default=True, description="Fail when the chain is not trusted")
    check_hostname: bool = Field(default=True, description="Fail when the name is not covered")
    ca_cert: str | None = Field(
        default=None,
        max_length=64 * 1024,
        description="PEM CA certificates to trust instead of the public roots",
    )

    @field_validator("ca_cert")
    @classmethod
    def _check_ca(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _verifying_context(value)
            except (ssl.SSLError, ValueError) as exc:
                raise ValueError("not a PEM CA certificate") from exc
        return value


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[IPAddress, ...] = ()


@dataclass
class _Handshake:
    der: bytes
    address: str
    tls_version: str | None
    chain_error: str | None = None


def validate_target(target: str) -> str:
    split_host_port(target, default_port=443)
    return target


async def probe(
    target: str, config: Config, *, timeout: float, allow_private: bool, now: datetime
) -> ProbeResult:
    host, port = split_host_port(target, default_port=443)
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            addresses = await resolve_allowed(host, port, Policy(allow_private=allow_private))
            shake = await _handshake(host, addresses, port, config.ca_cert)
        cert = parse_certificate(shake.der)
    except TimeoutError:
        return ProbeResult(ok=False, latency_ms=None, error=timed_out(timeout))
    except ProbeError as exc:
        return ProbeResult(ok=False, latency_ms=None, error=exc.message)
    latency = elapsed_ms(started)
    matches = hostname_matches(host, cert)
    details = _details(cert, shake, matches, now)
    error = _judge(cert, shake.chain_error, matches, config, now)
    return ProbeResult(ok=error is None, latency_ms=latency, error=error, details=details)


async def _handshake(
    host: str, addresses: list[IPAddress], port: int, ca_cert: str | None
) -> _Handshake:
    """Handshake once verifying the chain; if that fails, again without, to read the cert."""
    try:
        return await _connect(host, addresses, port, _verifying_context(ca_cert))
    except ssl.SSLCertVerificationError as exc:
        chain_error = exc.verify_message or "certificate verify failed"
    shake = await _connect(host, addresses, port, _unverified_context())
    shake.chain_error = chain_error
    return shake


async def _connect(
    host: str, addresses: list[IPAddress], port: int, context: ssl.SSLContext
) -> _Handshake:
    # The socket goes to a checked address; the name is only used for SNI.
    tcp, ip = await connect_any(addresses, port)
    try:
        stream = await _start_tls(tcp, host, context)
    except BaseException:
        await anyio.aclose_forcefully(tcp)
        raise
    try:
        tls = stream.extra(TLSAttribute.ssl_object)  # noqa: S610 (anyio's extra, not Django's)
        der, version = tls.getpeercert(binary_form=True), tls.version()
    finally:
        await stream.aclose()
    if der is None:
        raise ProbeError("the server sent no certificate")
    return _Handshake(der=der, address=str(ip), tls_version=version)


async def _start_tls(tcp: SocketStream, host: str, context: ssl.SSLContext) -> TLSStream:
    try:
        return await TLSStream.wrap(
            tcp,
            hostname=None if _is_ip(host) else host,
            server_side=False,
            ssl_context=context,
            standard_compatible=False,
        )
    except ssl.SSLCertVerificationError:
        raise
    except ssl.SSLError as exc:
        raise ProbeError(f"TLS handshake failed ({exc.reason or 'unknown reason'})") from exc
    except (OSError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
        raise ProbeError("connection closed during the TLS handshake") from exc


@functools.lru_cache(maxsize=32)
def _verifying_context(ca_cert: str | None) -> ssl.SSLContext:
    # Hostname matching is done on the parsed certificate, so a name mismatch and an
    # untrusted chain are reported separately rather than as whichever OpenSSL hit first.
    if ca_cert is not None:
        context = ssl.create_default_context(cadata=ca_cert)
    else:
        context = httpx.create_ssl_context(verify=True, trust_env=False)
    context.check_hostname = False
    return context


@functools.lru_cache(maxsize=1)
def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _judge(
    cert: Certificate, chain_error: str | None, matches: bool, config: Config, now: datetime
) -> str | None:
    days_left = _days_left(cert, now)
    if cert.not_after <= now:
        return f"certificate expired on {cert.not_after:%Y-%m-%d %H:%M} UTC"
    if cert.not_before > now:
        return f"certificate not valid until {cert.not_before:%Y-%m-%d %H:%M} UTC"
    if config.check_chain and chain_error is not None:
        return f"certificate not trusted: {chain_error}"
    if config.check_hostname and not matches:
        return "certificate does not cover the host name"
    if days_left < config.min_days:
        return f"certificate expires in {_days(days_left)}"
    return None


def _days_left(cert: Certificate, now: datetime) -> int:
    return int((cert.not_after - now).total_seconds() // _DAY)


def _days(count: int) -> str:
    return "less than a day" if count == 0 else "1 day" if count == 1 else f"{count} days"


def _details(cert: Certificate, shake: _Handshake, matches: bool, now: datetime) -> dict[str, Any]:
    return {
        "subject": cert.subject,
        "issuer": cert.issuer,
        "not_before": cert.not_before.isoformat(),
        "not_after": cert.not_after.isoformat(),
        "days_left": _days_left(cert, now),
        "dns_names": list(cert.dns_names[:20]),
        "ip_addresses": [str(ip) for ip in cert.ip_addresses[:20]],
        "chain_valid": shake.chain_error is None,
        "chain_error": shake.chain_error,
        "hostname_match": matches,
        "tls_version": shake.tls_version,
        "address": shake.address,
    }


def hostname_matches(host: str, cert: Certificate) -> bool:
    """RFC 6125 matching against subjectAltName only, as browsers and Python's ssl do."""
    name = host.rstrip(".").lower()
    if _is_ip(name):
        return ipaddress.ip_address(name) in cert.ip_addresses
    for pattern in cert.dns_names:
        pattern = pattern.rstrip(".").lower()
        if pattern == name:
            return True
        # A wildcard stands for exactly one whole left-most label.
        if pattern.startswith("*.") and "." in name:
            first, rest = name.split(".", 1)
            if first and rest == pattern[2:]:
                return True
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --- a minimal DER reader for the X.509 fields above ---------------------------------------


def parse_certificate(der: bytes) -> Certificate:
    """Subject, issuer, validity and subjectAltName of a DER certificate."""
    try:
        return _parse(der)
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise ProbeError("could not parse the server certificate") from exc


def _parse(der: bytes) -> Certificate:
    (certificate,) = _children(der, 0, len(der))[:1]
    tbs = _children(der, certificate[1], certificate[2])[0]
    fields = _children(der, tbs[1], tbs[2])
    if fields[0][0] == 0xA0:  # explicit [0] version
        fields = fields[1:]
    _serial, _signature, issuer, validity, subject = fields[:5]
    not_before, not_after = _children(der, validity[1], validity[2])
    dns_names, ips = _subject_alt_names(der, fields[6:])
    return Certificate(
        subject=_name(der, subject),
        issuer=_name(der, issuer),
        not_before=_time(der, not_before),
        not_after=_time(der, not_after),
        dns_names=dns_names,
        ip_addresses=ips,
    )


_TLV = tuple[int, int, int]  # tag, start of value, end of value


def _children(der: bytes, start: int, end: int) -> list[_TLV]:
    items = []
    while start < end:
        tag, length = der[start], der[start + 1]
        start += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(der[start : start + size], "big")
            start += size
        if start + length > end:
            raise ValueError("truncated DER")
        items.append((tag, start, start + length))
        start += length
    return items


def _name(der: bytes, name: _TLV) -> str:
    parts = []
    for rdn in _children(der, name[1], name[2]):
        for attribute in _children(der, rdn[1], rdn[2]):
            oid, value = _children(der, attribute[1], attribute[2])[:2]
            label = _NAME_ATTRIBUTES.get(der[oid[1] : oid[2]])
            if label is not None:
                parts.append(f"{label}={_string(der, value)}")
    return ", ".join(parts)


def _string(der: bytes, value: _TLV) -> str:
    raw = der[value[1] : value[2]]
    return raw.decode("utf-16-be") if value[0] == 0x1E else raw.decode("utf-8", "replace")


def _time(der: bytes, value: _TLV) -> datetime:
    text = der[value[1] : value[2]].decode("ascii")
    if value[0] == 0x17:  # UTCTime: two-digit years 50-99 are 19xx (RFC 5280 4.1.2.5.1)
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def _subject_alt_names(
    der: bytes, optional: list[_TLV]
) -> tuple[tuple[str, ...], tuple[IPAddress, ...]]:
    for tag, start, end in optional:
        if tag != 0xA3:  # explicit [3] extensions
            continue
        for extension in _children(der, *_children(der, start, end)[0][1:]):
            parts = _children(der, extension[1], extension[2])
            if der[parts[0][1] : parts[0][2]] == _SUBJECT_ALT_NAME:
                return _general_names(der, parts[-1])
    return (), ()


def _general_names(der: bytes, octets: _TLV) -> tuple[tuple[str, ...], tuple[IPAddress, ...]]:
    (names,) = _children(der, octets[1], octets[2])[:1]
    dns: list[str] = []
    ips: list[IPAddress] = []
    for tag, start, end in _children(der, names[1], names[2]):
        if tag == 0x82:  # [2] dNSName
            dns.append(der[start:end].decode("ascii"))
        elif tag == 0x87:  # [7] iPAddress
            ips.append(ipaddress.ip_address(der[start:end]))
    return tuple(dns), tuple(ips)
