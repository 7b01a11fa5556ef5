"""The probe registry: kind → module, imported on first use.

Each probe module defines `Config` (a pydantic model, extra="forbid"), `validate_target(target)
-> str` (raise ProbeConfigError, return the normalised target) and, except heartbeat,
`async def probe(target, config, *, timeout, allow_private, now) -> ProbeResult`. Heartbeat
monitors are judged from the pings they receive, with `heartbeat.evaluate_heartbeat`.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from types import ModuleType
from typing import Any, Protocol, cast

import anyio
from pydantic import BaseModel, ValidationError

from tocsin.monitors.probes.base import ProbeConfigError, ProbeResult, timed_out

__all__ = [
    "KINDS",
    "PROBED_KINDS",
    "ProbeConfigError",
    "ProbeResult",
    "run_probe",
    "validate_config",
]

_MODULES = {
    "http": "tocsin.monitors.probes.http",
    "tcp": "tocsin.monitors.probes.tcp",
    "dns": "tocsin.monitors.probes.dns",
    "tls": "tocsin.monitors.probes.tls",
    "heartbeat": "tocsin.monitors.probes.heartbeat",
}
KINDS = tuple(_MODULES)
PROBED_KINDS = tuple(kind for kind in KINDS if kind != "heartbeat")

# How long past its own timeout a probe may run before run_probe gives up on it; each probe
# enforces the timeout itself, so this only catches a probe that forgot to.
_GRACE = 1.0


class _Probe(Protocol):
    async def __call__(
        self,
        target: str,
        config: Any,
        *,
        timeout: float,
        allow_private: bool,
        now: datetime,
    ) -> ProbeResult: ...


def validate_config(kind: str, target: str, config: dict[str, Any]) -> tuple[str, BaseModel]:
    """The normalised target and the validated config; raise ProbeConfigError if invalid.

    The API calls this when a monitor is saved, so a bad config is refused then and not on
    every run.
    """
    module = _module(kind)
    model = cast(type[BaseModel], module.Config)
    try:
        validated = model.model_validate(config)
    except ValidationError as exc:
        raise ProbeConfigError(_summarise(exc)) from exc
    return cast(str, module.validate_target(target)), validated


async def run_probe(
    kind: str,
    target: str,
    config: dict[str, Any],
    *,
    timeout: float,
    allow_private: bool,
    now: datetime,
) -> ProbeResult:
    """Run one check. A failed check is a result, not an exception.

    `now` is the aware time the check is judged at (certificate expiry). Raise
    ProbeConfigError for an unknown kind, a heartbeat (not probed) or an invalid config.
    """
    if kind == "heartbeat":
        raise ProbeConfigError("heartbeat monitors are judged from their pings, not probed")
    normalised, validated = validate_config(kind, target, config)
    probe = cast(_Probe, _module(kind).probe)
    with anyio.move_on_after(timeout + _GRACE):
        return await probe(
            normalised, validated, timeout=timeout, allow_private=allow_private, now=now
        )
    return ProbeResult(ok=False, latency_ms=None, error=timed_out(timeout))


def _module(kind: str) -> ModuleType:
    path = _MODULES.get(kind)
    if path is None:
        raise ProbeConfigError(f"unknown monitor kind {kind!r}")
    return importlib.import_module(path)


def _summarise(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "config"
    more = exc.error_count() - 1
    suffix = f" (and {more} more)" if more else ""
    return f"{where}: {first['msg']}{suffix}"
