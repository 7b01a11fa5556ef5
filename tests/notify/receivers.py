"""Real receivers in their own processes, for the fault tests and the benchmark.

    python tests/notify/receivers.py smtp --port 2525 [--log FILE] [--delay SECONDS]
    python tests/notify/receivers.py http --port 8081 [--port 8082 …] [--log FILE]
        [--hang] [--delay SECONDS] [--status CODE]

The SMTP server is aiosmtpd and logs each message's Message-ID; the HTTP server is a
minimal keep-alive HTTP/1.1 server and logs each request's Idempotency-Key (`--hang`
reads requests and never answers). Each log line is `<id> <unix time>`. Both print
`ready` once listening, write the number received to `--count-file` (if given) and exit
0 on SIGTERM. A receiver can be stopped and started again on the same port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

_MESSAGE_ID = re.compile(rb"^message-id:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class _Log:
    def __init__(self, path: Path | None, count_file: Path | None) -> None:
        self.file: IO[str] | None = path.open("a", encoding="utf-8") if path else None
        self.count_file = count_file
        self.count = 0

    def add(self, key: str) -> None:
        self.count += 1
        if self.file is not None:
            self.file.write(f"{key} {time.time():.3f}\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.count_file is not None:
            self.count_file.write_text(str(self.count), encoding="utf-8")


class _SmtpHandler:
    def __init__(self, log: _Log, delay: float) -> None:
        self.log = log
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            # Before taking the message: a server stopped meanwhile has not accepted it.
            await asyncio.sleep(self.delay)
        head = bytes(envelope.content).split(b"\r\n\r\n", 1)[0]
        found = _MESSAGE_ID.search(head)
        self.log.add(found.group(1).decode() if found else "-")
        return "250 OK"


async def _serve_smtp(port: int, log: _Log, delay: float) -> list[asyncio.AbstractServer]:
    from aiosmtpd.smtp import SMTP

    handler = _SmtpHandler(log, delay)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="receiver.test", data_size_limit=1 << 20),
        "127.0.0.1",
        port,
    )
    return [server]


class _Http:
    def __init__(self, log: _Log, *, hang: bool, delay: float, status: int) -> None:
        self.log = log
        self.hang = hang
        self.delay = delay
        self.reply = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = dict(_header(line) for line in head.decode("latin-1").split("\r\n")[1:] if line)
        await reader.readexactly(int(headers.get("content-length", "0")))
        if self.hang:
            await asyncio.Event().wait()
        self.log.add(headers.get("idempotency-key", "-"))
        if self.delay:
            await asyncio.sleep(self.delay)
        writer.write(self.reply)
        await writer.drain()
        return headers.get("connection", "").lower() != "close"


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


async def _serve_http(ports: list[int], log: _Log, args: argparse.Namespace) -> list[Any]:
    http = _Http(log, hang=args.hang, delay=args.delay, status=args.status)
    return [
        await asyncio.start_server(http.handle, "127.0.0.1", port, backlog=1024) for port in ports
    ]


async def _main(args: argparse.Namespace) -> None:
    log = _Log(args.log, args.count_file)
    if args.kind == "smtp":
        servers = await _serve_smtp(args.port[0], log, args.delay)
    else:
        servers = await _serve_http(args.port, log, args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()
    # Replies already written reach the kernel's socket buffers before we exit.
    await asyncio.sleep(0.1)
    log.close()
    # Exit here: connections still open must neither delay the exit nor be torn down
    # one by one by asyncio.run().
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["smtp", "http"])
    parser.add_argument("--port", type=int, action="append", required=True)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--count-file", type=Path)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--status", type=int, default=200)
    asyncio.run(_main(parser.parse_args()))


# --- driving receivers from tests -----------------------------------------------------------


class Receiver:
    """A receiver process; `start()` again after `stop()` to serve the same port(s)."""

    def __init__(self, kind: str, ports: list[int], log: Path, *options: str) -> None:
        self.kind = kind
        self.ports = ports
        self.log = log
        self.options = options
        self.process: subprocess.Popen[str] | None = None

    @property
    def port(self) -> int:
        return self.ports[0]

    def url(self, path: str = "/hook", port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.port}{path}"

    def start(self) -> Receiver:
        ports = [arg for port in self.ports for arg in ("--port", str(port))]
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.kind, *ports, "--log", str(self.log), *self.options],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.kill()
            raise RuntimeError(f"{self.kind} receiver did not start")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.kill()

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
        self.process = None

    def received(self) -> Counter[str]:
        """How many times each id arrived."""
        if not self.log.exists():
            return Counter()
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return Counter(line.split(" ", 1)[0] for line in lines if line)

    def times(self) -> list[float]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [float(line.rsplit(" ", 1)[1]) for line in lines if line]


if __name__ == "__main__":
    main()
