"""TCP check: the port accepts a connection within the timeout."""

from __future__ import annotations

import time
from datetime import datetime

import anyio
from pydantic import BaseModel, ConfigDict

from tocsin.lib.netpolicy import Policy
from tocsin.monitors.probes.base import (
    ProbeError,
    ProbeResult,
    connect_any,
    elapsed_ms,
    resolve_allowed,
    split_host_port,
    timed_out,
)


class Config(BaseModel):
    """Nothing to configure: the target is `host:port`."""

    model_config = ConfigDict(extra="forbid")


def validate_target(target: str) -> str:
    split_host_port(target, default_port=None)
    return target


async def probe(
    target: str, config: Config, *, timeout: float, allow_private: bool, now: datetime
) -> ProbeResult:
    host, port = split_host_port(target, default_port=None)
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            addresses = await resolve_allowed(host, port, Policy(allow_private=allow_private))
            stream, address = await connect_any(addresses, port)
            await stream.aclose()
    except TimeoutError:
        return ProbeResult(ok=False, latency_ms=None, error=timed_out(timeout))
    except ProbeError as exc:
        return ProbeResult(ok=False, latency_ms=None, error=exc.message)
    latency = elapsed_ms(started)
    return ProbeResult(ok=True, latency_ms=latency, details={"address": str(address), "port": port})
