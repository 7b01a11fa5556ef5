"""A small DNS server for the probe tests, run in its own process on 127.0.0.1.

As a script it serves a zone authoritatively, or with `--upstream` acts as a caching
resolver in front of another instance: fresh cache entries are served without asking
upstream, as real resolvers do, which is what keeps answers flowing when the authoritative
servers fail. Each query first reads the control file, whose content is the mode: `ok`,
`servfail`, `refused`, `nxdomain`, `timeout` (never answer) or `lame` (answer without AA).

In tests, `DnsStub.start(...)` launches it and `stub.set_mode("servfail")` switches it.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import dns.asyncquery
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

_RCODES = {"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED}


@dataclass
class DnsStub:
    process: subprocess.Popen[str]
    port: int
    control: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        self.control.write_text(mode)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)
        assert self.process.stdout is not None
        self.process.stdout.close()


@contextmanager
def running(
    workdir: Path, *, zone: str | None = None, upstream: DnsStub | None = None
) -> Iterator[DnsStub]:
    """Start a stub serving `zone` (zone-file text, origin from $ORIGIN) or resolving via
    `upstream`; stop it on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    control = workdir / "mode"
    control.write_text("ok")
    args = [sys.executable, __file__, "--control", str(control)]
    if zone is not None:
        (workdir / "zone").write_text(zone)
        args += ["--zone", str(workdir / "zone")]
    if upstream is not None:
        args += ["--upstream", str(upstream.port)]
    stub = _start(args, control)
    try:
        yield stub
    finally:
        stub.stop()


def _start(args: list[str], control: Path) -> DnsStub:
    # The stub takes a free UDP port and then the same TCP port, which another process
    # may hold by then ("address already in use"); a new attempt picks another port.
    for _ in range(5):
        process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip().isdigit():
            return DnsStub(process, int(line), control)
        process.kill()
        process.communicate()
    raise RuntimeError("the DNS stub did not start")


# --- the server process ----------------------------------------------------------------------


class Answerer:
    def __init__(self, control: Path, zone: dns.zone.Zone | None, upstream: int | None) -> None:
        self.control = control
        self.zone = zone
        self.upstream = upstream
        self.cache: dict[tuple[dns.name.Name, int], tuple[float, dns.message.Message]] = {}

    async def answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        mode = self.control.read_text().strip()
        if mode == "timeout":
            return None
        response = dns.message.make_response(query)
        if mode in _RCODES:
            response.set_rcode(_RCODES[mode])
        elif mode == "nxdomain":
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif self.zone is not None:
            self._authoritative(query, response, lame=mode == "lame")
        else:
            await self._recursive(query, response)
        return response.to_wire()

    def _authoritative(
        self, query: dns.message.Message, response: dns.message.Message, *, lame: bool
    ) -> None:
        assert self.zone is not None and self.zone.origin is not None
        origin = self.zone.origin
        question = query.question[0]
        name, rdtype = question.name, question.rdtype
        if not name.is_subdomain(origin):
            response.set_rcode(dns.rcode.REFUSED)
            return
        if not lame:
            response.flags |= dns.flags.AA
        for _ in range(8):
            node = self.zone.get_node(name)
            if node is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                break
            found = node.get_rdataset(dns.rdataclass.IN, rdtype)
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if found is not None:
                response.answer.append(dns.rrset.from_rdata_list(name, found.ttl, list(found)))
                return
            if cname is None or rdtype == dns.rdatatype.CNAME:
                break
            response.answer.append(dns.rrset.from_rdata_list(name, cname.ttl, list(cname)))
            name = next(iter(cname)).target
            if not name.is_subdomain(origin):
                return
        soa = self.zone.get_rdataset(origin, dns.rdatatype.SOA)
        assert soa is not None
        response.authority.append(dns.rrset.from_rdata_list(origin, soa.ttl, list(soa)))

    async def _recursive(self, query: dns.message.Message, response: dns.message.Message) -> None:
        question = query.question[0]
        key = (question.name, question.rdtype)
        now = time.monotonic()
        cached = self.cache.get(key)
        if cached is None or cached[0] <= now:
            cached = await self._ask_upstream(question.name, question.rdtype, now)
        response.flags |= dns.flags.RA
        if cached is None:
            response.set_rcode(dns.rcode.SERVFAIL)
            return
        expires, upstream = cached
        # round, not int: (now + ttl) - now can come out a hair under ttl.
        left = round(expires - now)
        response.set_rcode(upstream.rcode())
        for section, source in (
            (response.answer, upstream.answer),
            (response.authority, upstream.authority),
        ):
            for rrset in source:
                copy = dns.rrset.from_rdata_list(rrset.name, left, list(rrset))
                section.append(copy)

    async def _ask_upstream(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, now: float
    ) -> tuple[float, dns.message.Message] | None:
        assert self.upstream is not None
        query = dns.message.make_query(name, rdtype, flags=0)
        try:
            reply = await dns.asyncquery.udp(query, "127.0.0.1", timeout=0.5, port=self.upstream)
        except (dns.exception.Timeout, OSError):
            return None
        if reply.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return None
        ttl = reply.resolve_chaining().minimum_ttl  # type: ignore[attr-defined]
        entry = (now + ttl, reply)
        self.cache[(name, rdtype)] = entry
        return entry


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, answerer: Answerer) -> None:
        self.answerer = answerer
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # On 3.11 the selector transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._reply(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        wire = await self.answerer.answer(data)
        if wire is not None:
            self.transport.sendto(wire, addr)


async def _serve_tcp(
    answerer: Answerer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            size = int.from_bytes(await reader.readexactly(2), "big")
            wire = await answerer.answer(await reader.readexactly(size))
            if wire is None:
                await asyncio.sleep(3600)
                return
            writer.write(len(wire).to_bytes(2, "big") + wire)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _main(args: argparse.Namespace) -> None:
    zone = None
    if args.zone:
        zone = dns.zone.from_text(Path(args.zone).read_text(), relativize=False)
    answerer = Answerer(Path(args.control), zone, args.upstream)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Udp(answerer), local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    # The same port over TCP, for truncated answers and `tcp: true` checks.
    await asyncio.start_server(lambda r, w: _serve_tcp(answerer, r, w), "127.0.0.1", port)
    print(port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", required=True)
    parser.add_argument("--zone")
    parser.add_argument("--upstream", type=int)
    asyncio.run(_main(parser.parse_args()))
